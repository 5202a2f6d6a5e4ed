"""Work queued for later by an operation whose outcome is unknown."""

from __future__ import annotations

import logging

from ..models import ProviderAccount

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
