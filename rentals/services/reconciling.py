"""Reconciliation: what SMS.online's rent list says against what Rentdesk recorded.

A getRentNumber whose answer was lost (read timeout, HTML, a crash) may still have rented: the rent
then shows in getRentList. Matching it to the unknown attempt resolves the attempt and records the
rental; a rent nobody here asked for (made on the provider's site) is adopted so the team sees it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from ..models import AccountState, AttemptState, ProviderAccount, Rental, RentalExtension, RentalStatus, RentAttempt
from ..phone_numbers import spaced_number
from ..provider.client import SmsOnlineClient
from ..provider.errors import ProviderError, ProviderUnreachable
from ..provider.parsing import ListedRent
from ..reasons import reason
from ..wording import attention
from ..wording.formats import team_language
from .accounts import account_record_error, provider_client_for
from .ending import CANCEL_WINDOW
from .pacing import account_pacing
from .requesters import recorded_as
from .spend import spend_of_rental_changed

logger = logging.getLogger(__name__)

# An unknown attempt older than this is not matched any more: the provider's list is short.
MATCH_ATTEMPTS_FOR = timedelta(days=2)
# The provider lists about ten rents a page, newest first. Rents made after a lost answer push its
# rent down the list: further pages are read while unknown attempts outnumber the unknown rents seen,
# up to this many pages.
MAX_LIST_PAGES = 10


@dataclass
class ReconcileResult:
    resolved_attempts: list[int] = field(default_factory=list)
    adopted_rentals: list[int] = field(default_factory=list)
    resolved_extensions: list[int] = field(default_factory=list)


def account_reconcile(*, account_id: int, now: datetime) -> ReconcileResult:
    """Match the provider's rent list against Rentdesk's records. An account that cannot read its list
    now (banned, bad key, rate limited…) is noted where ops look and tried again next cycle; only an
    unreachable provider is raised, for the task to retry. What it writes down on rentals and attempts
    is in the team's language."""
    with team_language():
        return _reconcile(account_id, now)


def _reconcile(account_id: int, now: datetime) -> ReconcileResult:
    account = ProviderAccount.objects.filter(pk=account_id).first()
    if account is None:
        logger.info("reconciliation: account %s no longer exists", account_id)
        return ReconcileResult()
    try:
        client = provider_client_for(account)
        listed = client.get_rent_list()
    except ProviderUnreachable:
        raise
    except ProviderError as error:
        if error.was_sent:
            account_record_error(account=account, error=error, operation="getRentList")
        logger.info("reconciliation of account %s: %s", account.pk, error.token)
        return ReconcileResult()
    first_page = {entry.rent_id for entry in listed}
    listed += _further_pages(client, account=account, listed=listed, now=now)
    known = _known_rent_ids(account, [entry.rent_id for entry in listed])
    result = ReconcileResult()
    known |= _resolve_extensions(account=account, listed=listed, known=known, now=now, result=result)
    if RentAttempt.objects.filter(account=account, state=AttemptState.PENDING).exists():
        # A rent whose getRentNumber is still in flight shows in the list before its answer arrives.
        # Until that answer is in, a rent Rentdesk does not know may be that attempt's: it is neither
        # given to an older unknown attempt nor adopted as made elsewhere. The next cycle looks again.
        logger.info("reconciliation of account %s: a rent is in flight, unknown rents wait", account.pk)
        return result
    # An extension in flight may re-order its rent under a new id that the list shows first.
    extending = set(
        RentalExtension.objects.filter(rental__account=account, state=AttemptState.PENDING).values_list(
            "rental__number", flat=True
        )
    )
    # The list is newest first: adopt oldest first, so the oldest unknown attempt gets the oldest rent.
    # A rent nobody here asked for is adopted from the first page only, as it always was.
    for entry in reversed(listed):
        if entry.rent_id not in known and entry.number not in extending:
            outside_allowed = entry.rent_id in first_page
            _adopt(account=account, entry=entry, now=now, result=result, outside_allowed=outside_allowed)
    return result


def _known_rent_ids(account: ProviderAccount, ids: list[str]) -> set[str]:
    """The listed ids Rentdesk has a rental for, or had before an extension re-ordered it."""
    rentals = Rental.objects.filter(account=account, provider_rent_id__in=ids)
    extended = RentalExtension.objects.filter(rental__account=account, old_rent_id__in=ids)
    return {*rentals.values_list("provider_rent_id", flat=True), *extended.values_list("old_rent_id", flat=True)}


def _further_pages(
    client: SmsOnlineClient, *, account: ProviderAccount, listed: list[ListedRent], now: datetime
) -> list[ListedRent]:
    """Older rents, page by page, while there may be a rent of an unknown attempt further down: as
    long as unknown attempts outnumber the rents Rentdesk does not know. Stops at the end of the list,
    at a page seen before (a provider that ignores ``page``), or on any error (the next cycle tries
    again)."""
    open_attempts = RentAttempt.objects.filter(
        account=account, state=AttemptState.UNKNOWN, rental__isnull=True, sent_at__gte=now - MATCH_ATTEMPTS_FOR
    ).count()
    seen = {entry.rent_id for entry in listed}
    unknown_rents = len(seen - _known_rent_ids(account, list(seen)))
    further: list[ListedRent] = []
    # The account's request rate, shared with its polling and the catalog sync.
    pacing = account_pacing(account.pk)
    pacing.wait()  # for the first page, just asked for
    for page in range(1, MAX_LIST_PAGES):
        if unknown_rents >= open_attempts:
            break
        pacing.wait()
        try:
            entries = [entry for entry in client.get_rent_list(page=page) if entry.rent_id not in seen]
        except ProviderError as error:
            logger.info("reconciliation of account %s, page %s: %s", account.pk, page, error.token)
            break
        if not entries:
            break
        ids = {entry.rent_id for entry in entries}
        seen |= ids
        unknown_rents += len(ids - _known_rent_ids(account, list(ids)))
        further += entries
    return further


def _resolve_extensions(
    *, account: ProviderAccount, listed: list[ListedRent], known: set[str], now: datetime, result: ReconcileResult
) -> set[str]:
    """Extensions with an unknown outcome, settled by what the list shows. Returns the ids now known."""
    by_id = {entry.rent_id: entry for entry in listed}
    settled: set[str] = set()
    open_extensions = RentalExtension.objects.filter(rental__account=account, state=AttemptState.UNKNOWN)
    for extension in open_extensions.select_related("rental"):
        rental = extension.rental
        moved = next((e for e in listed if e.number == rental.number and e.rent_id not in known | settled), None)
        same = by_id.get(rental.provider_rent_id)
        if moved is not None:  # a finished rent ordered again under a new id: the extension went through
            new_id, end_date = moved.rent_id, extension.sent_at + timedelta(hours=extension.hours)
        elif same is not None and same.hours and same.hours >= rental.hours + extension.hours:
            new_id, end_date = rental.provider_rent_id, rental.end_date + timedelta(hours=extension.hours)
        else:
            continue
        resolved = _("Resolved by reconciliation.")
        with transaction.atomic():
            listed_price = (moved or same).price if (moved or same) else None
            claimed = RentalExtension.objects.filter(pk=extension.pk, state=AttemptState.UNKNOWN).update(
                state=AttemptState.SUCCEEDED, new_rent_id=new_id, new_end_date=end_date, finished_at=now,
                cost=listed_price if moved is not None else None,
                error_detail=f"{extension.error_detail} {resolved}".strip(),
            )  # fmt: skip
            if claimed:
                rental.provider_rent_id, rental.end_date = new_id, end_date
                rental.hours += extension.hours
                rental.status, rental.ended_at, rental.expired_at = RentalStatus.ACTIVE, None, None
                rental.ended_by_provider = False
                rental._change_reason = reason("extension_reconciled")
                recorded_as(rental, extension.requested_by)  # the person who asked for it, as if answered
                rental.save(update_fields=[
                    "provider_rent_id", "end_date", "hours", "status", "ended_at", "expired_at", "ended_by_provider",
                ])  # fmt: skip
                # The extension was recorded when sent, maybe in a closed month; a refunded rental is paid again.
                spend_of_rental_changed(rental_id=rental.pk, now=now)
                settled.add(new_id)
                result.resolved_extensions.append(extension.pk)
    return settled


def _adopt(
    *, account: ProviderAccount, entry: ListedRent, now: datetime, result: ReconcileResult, outside_allowed: bool
) -> None:
    try:
        with transaction.atomic():
            candidates = RentAttempt.objects.select_for_update().filter(
                account=account, state=AttemptState.UNKNOWN, rental__isnull=True, sent_at__gte=now - MATCH_ATTEMPTS_FOR
            )
            if entry.hours:
                candidates = candidates.filter(hours=entry.hours)
            candidates = list(candidates.order_by("sent_at"))
            if candidates:
                rental = _rental_for_attempt(account, entry, candidates[0], now, ambiguous=_ambiguous(candidates))
            elif outside_allowed:
                rental = _rental_from_outside(account, entry, now)
            else:
                return
    except IntegrityError:
        return  # recorded meanwhile (a poll, a second reconciliation): nothing to do
    if candidates:
        result.resolved_attempts.append(candidates[0].pk)
    result.adopted_rentals.append(rental.pk)
    logger.info("reconciliation: account %s, rent %s adopted as rental %s", account.pk, entry.rent_id, rental.pk)


def _ambiguous(candidates: list[RentAttempt]) -> bool:
    """The list says neither service nor country: several different requests could be this rent."""
    return len({(attempt.service_id, attempt.country_id) for attempt in candidates}) > 1


def _rental_for_attempt(
    account: ProviderAccount, entry: ListedRent, attempt: RentAttempt, now: datetime, *, ambiguous: bool
) -> Rental:
    matched = attention.note("matched_oldest") if ambiguous else ""
    note = attention.notes(matched, _duplicate_warning(account, attempt, now))
    # The provider's list has no end date: the rent started when the attempt was sent.
    end_date = attempt.sent_at + timedelta(hours=attempt.hours)
    rental = Rental(
        account=account, provider_rent_id=entry.rent_id, number=entry.number, service=attempt.service,
        country=attempt.country, operator=attempt.operator, hours=attempt.hours, end_date=end_date,
        cost=entry.price, rented_by=attempt.requested_by, webhook_token=attempt.webhook_token, label=attempt.label,
        assignee=attempt.assignee, attention=note,
    )  # fmt: skip
    recorded_as(rental, attempt.requested_by)  # the person who asked for it, not the worker that settled it
    rental.save(force_insert=True)
    rented = _("Resolved by reconciliation: SMS.online had rented %(number)s.") % {
        "number": spaced_number(entry.number)
    }
    resolved = f"{attempt.error_detail} {rented}"
    RentAttempt.objects.filter(pk=attempt.pk).update(
        state=AttemptState.SUCCEEDED, rental=rental, finished_at=now, error_detail=resolved.strip(), end_date=end_date
    )
    return rental


def _duplicate_warning(account: ProviderAccount, attempt: RentAttempt, now: datetime) -> str:
    """Someone may have rented again after this answer was lost: say so while a refund is possible."""
    retry = (
        Rental.objects.filter(
            account=account, service=attempt.service, country=attempt.country, created_at__gt=attempt.sent_at
        )
        .order_by("created_at")
        .first()
    )
    if retry is None:
        return ""
    minutes_left = int((attempt.sent_at + CANCEL_WINDOW - now).total_seconds() // 60)
    return attention.note("possible_duplicate", number=retry, minutes=max(minutes_left, 0))


def _rental_from_outside(account: ProviderAccount, entry: ListedRent, now: datetime) -> Rental:
    # With no rent time in the list, assume a day: the rental is polled, and polling ends it when it ends.
    hours = entry.hours or 24
    return Rental.objects.create(
        account=account, provider_rent_id=entry.rent_id, number=entry.number, service=None, country=None,
        hours=hours, end_date=now + timedelta(hours=hours), cost=entry.price,
        attention=attention.note("rented_outside"),
    )  # fmt: skip


def account_ids_to_reconcile() -> list[int]:
    """Every account whose key works: one out of money or banned may still hold unresolved rents."""
    accounts = ProviderAccount.objects.exclude(state=AccountState.BAD_KEY).order_by("pk")
    return list(accounts.values_list("pk", flat=True))
