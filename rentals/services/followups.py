"""Work queued for later: checks after an unknown outcome, and fresh provider data when it is missing."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction

from ..models import Offer, ProviderAccount

logger = logging.getLogger(__name__)

# Long enough for the provider's list to show the rent, short against the 20-minute refund window.
RECONCILE_AFTER_UNKNOWN_SECONDS = 10


def reconcile_soon(account: ProviderAccount) -> None:
    """An unknown outcome is checked against the provider's rent list right away, inside the refund window."""
    from ..tasks import reconcile_account  # tasks import services: import here, at call time

    try:
        reconcile_account.apply_async((account.pk,), countdown=RECONCILE_AFTER_UNKNOWN_SECONDS)
    except Exception:
        # The scheduled reconciliation catches up within minutes; the attempt is recorded either way.
        logger.warning("could not queue reconciliation of account %s after an unknown outcome", account.pk)


# Older than these, what the provider said is refreshed when a worker starts (the schedules' periods).
CATALOG_FRESH_FOR = timedelta(hours=6)
BALANCE_FRESH_FOR = timedelta(minutes=15)


def provider_data_refresh_soon(account: ProviderAccount) -> None:
    """A new account or a new key: its balance and the catalog are read now, not at the next schedule,
    so the rent form shows prices and stock at once. Queued once the change is committed."""
    from ..tasks import check_account_balance, sync_catalog

    def enqueue() -> None:
        try:
            check_account_balance.delay(account.pk)
            sync_catalog.delay()
        except Exception:
            # The schedules catch up; saving the account must not fail because the broker is away.
            logger.warning("could not queue the first balance check and catalog sync of account %s", account.pk)

    transaction.on_commit(enqueue)


def stale_provider_data(*, now: datetime) -> tuple[bool, list[int]]:
    """Whether the catalog needs reading, and which accounts' balances do (never read, or long ago)."""
    newest_offer = Offer.objects.order_by("-checked_at").values_list("checked_at", flat=True).first()
    catalog_stale = newest_offer is None or newest_offer < now - CATALOG_FRESH_FOR
    accounts = ProviderAccount.objects.exclude(balance_checked_at__gte=now - BALANCE_FRESH_FOR)
    return catalog_stale, list(accounts.order_by("pk").values_list("pk", flat=True))
