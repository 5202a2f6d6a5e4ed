"""The catalog from the provider: prices and stock per service, country and rent time."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction

from ..models import RENT_HOURS, AccountState, Country, Offer, ProviderAccount, Service
from ..provider.errors import AccountError, DestinationRefused, ProviderError, ProviderUnreachable, RateLimited
from .accounts import account_record_error, provider_client_for
from .pacing import account_pacing

logger = logging.getLogger(__name__)


def catalog_sync(*, now: datetime) -> int:
    """Ask getRentPrices for every active country and rent time; returns the offers written.

    The first account that can talk to the provider reads it. One that cannot (its URL unreachable,
    its key refused or unreadable, told to wait) gives way to the next: a typo in the first account's
    URL would otherwise leave every rent form without prices. Services the provider names that the
    catalog lacks are added switched off, for staff to review and switch on.
    """
    written = 0
    for account in ProviderAccount.objects.filter(state=AccountState.OK).order_by("pk"):
        finished, written_now = _catalog_read(account, now=now)
        written += written_now
        if finished:
            return written
    logger.info("catalog sync: no account could talk to the provider")
    return written


def _catalog_read(account: ProviderAccount, *, now: datetime) -> tuple[bool, int]:
    """Whether ``account`` read the whole catalog (some prices may have failed), and the offers written."""
    client = None
    # Shared with the account's polling: rentals awaiting a code go first.
    pacing = account_pacing(account.pk)
    written = answered = 0
    for country in Country.objects.filter(is_active=True):
        for hours in RENT_HOURS:
            pacing.wait()
            try:
                client = client or provider_client_for(account)
                offers = client.get_rent_prices(country=country.provider_id, hours=hours)
            except (AccountError, RateLimited, DestinationRefused) as error:
                # Every further request would meet the same refusal (or none can go, as when the stored
                # key cannot be read or the URL is not one a key may go to).
                logger.info("catalog sync: account %s: %s", account.pk, error.token)
                if error.was_sent:
                    account_record_error(account=account, error=error, operation="getRentPrices")
                return False, written
            except ProviderUnreachable as error:
                if not answered:  # its first request: this account's URL does not lead to SMS.online now
                    logger.info("catalog sync: account %s: %s", account.pk, error.token)
                    return False, written
                logger.info("prices for country %s, %s h: %s", country.provider_id, hours, error.token)
                continue
            except ProviderError as error:
                answered += 1
                logger.info("prices for country %s, %s h: %s", country.provider_id, hours, error.token)
                continue
            answered += 1
            written += _store(country=country, hours=hours, offers=offers, now=now)
    return True, written


def _store(*, country: Country, hours: int, offers: dict, now: datetime) -> int:
    with transaction.atomic():
        # What the provider no longer offers here has no stock now (NO_NUMBERS answers with no list at all).
        gone = Offer.objects.filter(country=country, hours=hours).exclude(service__code__in=list(offers))
        gone.update(available=0, checked_at=now)
        for code, offer in offers.items():
            service, _ = Service.objects.get_or_create(code=code, defaults={"name": code, "is_active": False})
            Offer.objects.update_or_create(
                service=service, country=country, hours=hours,
                defaults={"cost": offer.cost, "available": offer.count, "checked_at": now},
            )  # fmt: skip
    return len(offers)
