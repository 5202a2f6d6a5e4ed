"""Renting a number: the one operation that spends money."""

from __future__ import annotations

import functools
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.urls import get_script_prefix, reverse
from django.utils import timezone

from ..models import (
    RATE_LIMITED_TOKEN,
    AccountState,
    AttemptState,
    Country,
    ErrorEvent,
    ProviderAccount,
    Rental,
    RentalExtension,
    RentAttempt,
    Service,
)
from ..outcomes import Operation, Outcome, State, Token
from ..provider.client import SmsOnlineClient
from ..provider.errors import UNKNOWN_OUTCOME, ProviderError
from ..provider.parsing import RentedPhone
from ..raw_sql import attempt_inserted_unless_checks_apply, created_and_linked, row_inserted, row_updated
from ..roles import is_active_staff
from .accounts import account_change_state, account_record_error, account_record_refusal, provider_client_for
from .arrivals import release_connection
from .budgets import Refusal, budget_alert_soon, budget_refusal, budgets_locked, rent_price
from .extending import extension_outcome_for
from .followups import balance_check_soon, reconcile_soon
from .renewing import auto_renew_cut_short
from .requesters import recorded_as, requested_by_same
from .turns import ProviderBusy, ProviderCallSlot

logger = logging.getLogger(__name__)


class Renter:
    """``rental_rent``'s default assignee: the person renting (``None`` is a choice of its own: nobody)."""


RENTER = Renter()


def rent_assignee(requested_by: AbstractBaseUser | None) -> AbstractBaseUser | None:
    """Who takes care of a number nobody was named for: its renter, if they work in the admin."""
    return requested_by if is_active_staff(requested_by) else None


def webhook_url_for(token: str) -> str:
    before, after = _webhook_url_around(settings.PUBLIC_BASE_URL, get_script_prefix())
    return before + token + after


# A token the webhook's URL pattern takes, to be replaced: every rent sends its own URL.
_TOKEN_MARK = "TOKEN"


@functools.lru_cache(maxsize=8)
def _webhook_url_around(base_url: str, script_prefix: str) -> tuple[str, str]:
    """The webhook URL before and after its token, reversed once rather than at each rent."""
    before, after = reverse("rentals:sms_webhook", args=[_TOKEN_MARK]).split(_TOKEN_MARK)
    return base_url + before, after


def rental_rent(
    *,
    account: ProviderAccount,
    service: Service,
    country: Country,
    operator: str,
    hours: int,
    webhook: bool,
    nonce: uuid.UUID,
    requested_by: AbstractBaseUser | None,
    via: str,
    label: str = "",
    web: bool = False,
    assignee: AbstractBaseUser | Renter | None = RENTER,
) -> Outcome:
    """Rent one number, at most once per ``nonce``.

    1. the attempt is committed before anything is sent, so every request that may spend money
       leaves a row even if this process dies mid-call; the monthly budgets are checked in the same
       transaction, so two rents at once cannot both pass a budget with room for one;
    2. an account in a blocking state is refused here, without calling the provider;
    3. the provider is called exactly once: no retry, whatever happens;
    4. the outcome is recorded on the attempt, and account-level tokens on the account.

    ``web`` (the admin, the API): the rent holds one of this process's slots for calls to SMS.online,
    taken in the transaction that records the attempt; with none free, ProviderBusy is raised and no
    attempt is left (the same nonce again, already recorded, is answered without a slot).

    ``assignee``: who takes care of the number; by default the person renting, if active staff.
    """
    if connection.in_atomic_block:
        raise RuntimeError("rental_rent must run outside a transaction: its attempt must be committed first.")
    with ProviderCallSlot(web=web) as slot:
        claim = _attempt_claim(
            nonce=nonce,
            account=account,
            service=service,
            country=country,
            operator=operator,
            hours=hours,
            webhook=webhook,
            requested_by=requested_by,
            via=via,
            label=label,
            assignee=rent_assignee(requested_by) if isinstance(assignee, Renter) else assignee,
            slot=slot,
        )
        return _rent_carry_out(claim, account=account, requested_by=requested_by)


@dataclass(frozen=True)
class _Sending:
    """Whether an attempt not refused by a budget may be sent: the client that sends it, or what stops
    it before anything leaves (the token of the account's state; an unreadable key, or the client's own
    refusal)."""

    client: SmsOnlineClient | None = None
    blocking_token: str | None = None
    unsendable: ProviderError | None = None


@dataclass(frozen=True)
class _Claim:
    """The attempt (``created`` False: this nonce was seen before), and, for a new one, the budget that
    refused it, whether any budget applied, and whether it may be sent."""

    attempt: RentAttempt
    created: bool
    refusal: Refusal | None = None
    budgeted: bool = False
    sending: _Sending = _Sending()


def _rent_carry_out(claim: _Claim, *, account: ProviderAccount, requested_by: AbstractBaseUser | None) -> Outcome:
    """The claimed attempt sent, refused (a budget, a blocked account, an unreadable key), or, seen
    before, answered with the first one's outcome."""
    attempt, refusal = claim.attempt, claim.refusal
    if not claim.created:
        if not requested_by_same(attempt.requested_by_id, requested_by):
            return Outcome(Operation.RENT, AttemptState.FAILED, Token.ANOTHER_PERSONS_FORM)
        return rent_outcome_for(attempt, repeated=True)
    if refusal is not None:
        account_record_refusal(account=account, token=refusal.token, detail=refusal.detail(), attempt=attempt)
        budget_alert_soon(account=account, person=requested_by, refusal=refusal)
        return rent_outcome_for(attempt, facts=refusal.facts())
    sending = claim.sending
    if token := sending.blocking_token:
        return _attempt_fail(attempt, token=token, detail=_blocked_detail(account, token), account=account)
    if sending.unsendable is not None:  # nothing is sent: the stored key cannot be read, or the client refused
        return _attempt_record_error(attempt, error=sending.unsendable, account=account, started=None)
    outcome = _attempt_send(attempt, client=sending.client, account=account)
    if outcome.state is State.UNKNOWN:
        reconcile_soon(account)
    if outcome.state in (State.SUCCEEDED, State.UNKNOWN):  # paid, or maybe paid
        balance_check_soon(account)
    if outcome.ok and claim.budgeted:
        budget_alert_soon(account=account, person=requested_by)
    return outcome


def _blocked_detail(account: ProviderAccount, blocking_token: str) -> str:
    if blocking_token == RATE_LIMITED_TOKEN:
        until = f"{account.rate_limited_until:%H:%M:%S %Z}"
        return f"Not sent: SMS.online asked account {account.name} to wait until {until}."
    return f"Not sent: account {account.name} {account.state_sentence}."


def _attempt_claim(*, nonce: uuid.UUID, webhook: bool, slot: ProviderCallSlot, **fields: Any) -> _Claim:
    """The attempt, committed, with what decides its fate; created False when this nonce was seen before
    (double click, refresh, a second tab, an API retry): the first wins. A budget refusal is recorded as
    a failed attempt. The account (``fields["account"]``) is read afresh under its lock, and the checks
    that stop a rent before anything leaves are made under it, so that an attempt to be sent is
    committed with its ``sent_at`` at once. The ``slot`` is taken before an attempt to be sent is
    committed; what it raises undoes it (another request with the same nonce waits on the insert
    meanwhile, and then finds none, or the first)."""
    webhook_token = secrets.token_urlsafe(32) if webhook else None
    try:
        if claim := _claimed_at_once(nonce, webhook_token, slot, fields):
            return claim
        with transaction.atomic():
            now = timezone.now()
            budgets = budgets_locked(account=fields["account"], person=fields["requested_by"], now=now)
            price = None
            if budgets:  # the catalog is read only when a budget needs the price (most rents have none)
                price = rent_price(service=fields["service"], country=fields["country"], hours=fields["hours"])
            refusal = budget_refusal(budgets, price)
            sending = _Sending() if refusal else _sending_prepared(fields["account"], now)
            attempt = RentAttempt(nonce=nonce, webhook_token=webhook_token, **fields, **_refused(refusal, now))
            attempt.sent_at = timezone.now() if sending.client is not None else None
            # A nonce seen before fails the insert (it is unique): the first attempt is read below.
            row_inserted(attempt)
            if refusal is None:
                slot.take()
            return _Claim(attempt, True, refusal, bool(budgets), sending)
    except IntegrityError:
        slot.give_back()  # taken for an insert that found the nonce recorded
        existing = RentAttempt.objects.filter(nonce=nonce).select_related("rental", "account").first()
        if existing is None:
            raise
        return _Claim(existing, False)


def _claimed_at_once(
    nonce: uuid.UUID, webhook_token: str | None, slot: ProviderCallSlot, fields: dict[str, Any]
) -> _Claim | None:
    """The attempt inserted as sent by a statement that commits by itself, when no budget applies and the
    account, read afresh, lets it rent (``raw_sql.attempt_inserted_unless_checks_apply``): a
    transaction costs round trips of its own on PostgreSQL, and its bookkeeping on either. None when
    that does not hold, or no slot is free now: nothing was written, and the transaction above decides."""
    try:
        slot.take()  # before the attempt is committed
    except ProviderBusy:
        return None  # a nonce seen before is answered without a slot: the transaction above tells
    account, now = fields["account"], timezone.now()
    attempt = RentAttempt(nonce=nonce, webhook_token=webhook_token, sent_at=now, **fields)
    if not attempt_inserted_unless_checks_apply(attempt, account=account, now=now):
        slot.give_back()
        return None
    sending = _sending_prepared(account, now)
    if sending.client is None:  # the key cannot be read, or the client refuses: recorded as not sent
        attempt.sent_at = None
    return _Claim(attempt, True, sending=sending)


def _refused(refusal: Refusal | None, now: datetime) -> dict[str, Any]:
    if refusal is None:
        return {}
    return {"state": AttemptState.FAILED, "error_token": refusal.token, "error_detail": refusal.detail(),
            "finished_at": now}  # fmt: skip


def _sending_prepared(account: ProviderAccount, now: datetime) -> _Sending:
    """Whether the account, read afresh under its lock, may send now: its client, or what stops it."""
    if blocking_token := account.spending_block(now):
        return _Sending(blocking_token=blocking_token)
    try:
        client = provider_client_for(account)
        client.check_sendable()
    except ProviderError as error:  # nothing is sent: the stored key cannot be read, or the client refuses
        return _Sending(unsendable=error)
    return _Sending(client=client)


def _attempt_send(attempt: RentAttempt, *, client: SmsOnlineClient, account: ProviderAccount) -> Outcome:
    """Send the attempt committed with its ``sent_at``."""
    started = time.monotonic()
    try:
        phone = client.rent_number(
            service=attempt.service.code,
            country=attempt.country.provider_id,
            operator=attempt.operator,
            hours=attempt.hours,
            webhook_url=webhook_url_for(attempt.webhook_token) if attempt.webhook_token else None,
        )
    except ProviderError as error:
        record = partial(_attempt_record_error, attempt, error=error, account=account, started=started)
        return _record_safely(attempt, started, record)
    except Exception:
        # A fault of ours after the request left: the provider may have rented. Never re-send.
        logger.exception("rent attempt %s: internal error after sending", attempt.pk)
        return _attempt_mark_unknown(attempt, started=started, detail="Internal error after the request was sent.")
    return _record_safely(
        attempt, started, partial(_attempt_succeed, attempt, phone=phone, account=account, started=started)
    )


def _record_safely(attempt: RentAttempt, started: float, record: Callable[[], Outcome]) -> Outcome:
    """Record the provider's answer; should that fail, the attempt still ends as unknown, not pending."""
    try:
        return record()
    except Exception:
        logger.exception("rent attempt %s: the provider's answer could not be recorded", attempt.pk)
        detail = "The provider answered, but the answer could not be recorded."
        return _attempt_mark_unknown(attempt, started=started, detail=detail)


def _attempt_mark_unknown(attempt: RentAttempt, *, started: float, detail: str) -> Outcome:
    RentAttempt.objects.filter(pk=attempt.pk).update(
        state=AttemptState.UNKNOWN, error_token=UNKNOWN_OUTCOME, error_detail=detail, finished_at=timezone.now(),
        duration_ms=round((time.monotonic() - started) * 1000), rental=None,
    )  # fmt: skip
    attempt.refresh_from_db()
    return rent_outcome_for(attempt)


def _attempt_succeed(attempt: RentAttempt, *, phone: RentedPhone, account: ProviderAccount, started: float) -> Outcome:
    details = {
        "number": phone.number, "service": attempt.service, "country": attempt.country,
        "operator": attempt.operator, "hours": attempt.hours, "end_date": phone.end_date, "cost": phone.cost,
        "rented_by": attempt.requested_by, "webhook_token": attempt.webhook_token, "label": attempt.label,
        "assignee": attempt.assignee,
    }  # fmt: skip
    rental = Rental(account=account, provider_rent_id=phone.rent_id, **details)
    recorded_as(rental, attempt.requested_by)  # its history says who rented it, whoever runs this
    attempt.end_date = phone.end_date
    _attempt_finished(attempt, state=AttemptState.SUCCEEDED, started=started)
    try:
        # The rental, its history row and the attempt's outcome: one write (one statement on PostgreSQL).
        created_and_linked(rental, linked=attempt, link="rental", names=[*FINISHED_FIELDS, "end_date"])
    except IntegrityError:
        attempt.rental, attempt.end_date = None, None
        rental = _adopted_meanwhile(account, phone.rent_id, attempt)
        if rental is None:
            logger.error("rent attempt %s: provider returned rent id %s again", attempt.pk, phone.rent_id)
            return _attempt_finish(
                attempt, state=AttemptState.UNKNOWN, token="DUPLICATE_RENT_ID",
                detail=f"Provider rent id {phone.rent_id} (number +{phone.number}) is already recorded.",
                started=started,
            )  # fmt: skip
        with transaction.atomic():
            # Reconciliation saw the rent in the provider's list before this answer came: same rent,
            # now with the answer's details and the person who asked, in its history too.
            for name, value in {"attention": "", **details}.items():
                setattr(rental, name, value)
            recorded_as(rental, attempt.requested_by)
            rental.save(update_fields=["attention", *details])
            attempt.rental, attempt.end_date = rental, phone.end_date
            _attempt_finish(attempt, state=AttemptState.SUCCEEDED, started=started)
    if account.state == AccountState.BANNED:  # the ban had run out, or renting would be refused
        account_change_state(account=account, state=AccountState.OK, cause="ban time passed; rented")
    return rent_outcome_for(attempt)


def _adopted_meanwhile(account: ProviderAccount, rent_id: str, attempt: RentAttempt) -> Rental | None:
    """The rental reconciliation created for this rent id from the provider's list before its answer
    came: as made elsewhere (no attempt), or for this very attempt, given up as unknown while its
    answer was still on its way (``attempts_resolve_stale``)."""
    rentals = Rental.objects.filter(account=account, provider_rent_id=rent_id)
    return rentals.filter(Q(attempt__isnull=True) | Q(attempt=attempt)).first()


def _attempt_record_error(
    attempt: RentAttempt, *, error: ProviderError, account: ProviderAccount, started: float | None
) -> Outcome:
    state = AttemptState.UNKNOWN if error.is_unknown_outcome else AttemptState.FAILED
    with transaction.atomic():
        account_record_error(account=account, error=error, operation="getRentNumber", attempt=attempt)
        return _attempt_finish(attempt, state=state, token=error.token, detail=error.detail, started=started)


def _attempt_fail(attempt: RentAttempt, *, token: str, detail: str, account: ProviderAccount) -> Outcome:
    with transaction.atomic():
        account_record_refusal(account=account, token=token, detail=detail, attempt=attempt)
        return _attempt_finish(attempt, state=AttemptState.FAILED, token=token, detail=detail)


# What finishing an attempt writes, beside the rental and end date it may link.
FINISHED_FIELDS = ["state", "error_token", "error_detail", "finished_at", "duration_ms"]


def _attempt_finish(
    attempt: RentAttempt,
    *,
    state: str,
    token: str = "",
    detail: str = "",
    started: float | None = None,
) -> Outcome:
    _attempt_finished(attempt, state=state, token=token, detail=detail, started=started)
    row_updated(attempt, [*FINISHED_FIELDS, "rental", "end_date", "sent_at"])
    return rent_outcome_for(attempt)


def _attempt_finished(
    attempt: RentAttempt, *, state: str, token: str = "", detail: str = "", started: float | None = None
) -> None:
    """The attempt's outcome set on the instance, for the caller to write."""
    attempt.state, attempt.error_token, attempt.error_detail = state, token, detail
    attempt.finished_at = timezone.now()
    if started is not None:
        attempt.duration_ms = round((time.monotonic() - started) * 1000)


def rent_outcome_for(attempt: RentAttempt, *, repeated: bool = False, facts: dict[str, str] | None = None) -> Outcome:
    """The outcome of an attempt, whether it just finished or was submitted again."""
    if attempt.state == AttemptState.PENDING:
        return Outcome(Operation.RENT, AttemptState.PENDING, Token.PENDING, attempt=attempt, repeated=True)
    rental = attempt.rental if attempt.state == AttemptState.SUCCEEDED else None
    return Outcome(
        Operation.RENT, attempt.state, attempt.error_token, rental=rental, attempt=attempt, repeated=repeated,
        facts=facts or {},
    )  # fmt: skip


def outcome_when_settled(outcome: Outcome, *, within: float) -> Outcome:
    """A repeated request's outcome once the first request's is known: while the first is still at
    SMS.online, wait for it (holding no database connection) at most ``within`` seconds."""
    deadline = time.monotonic() + within
    while outcome.state is State.PENDING and time.monotonic() < deadline:
        release_connection()
        time.sleep(0.25)
        if outcome.attempt is not None:
            attempt = RentAttempt.objects.select_related("rental", "account").get(pk=outcome.attempt.pk)
            outcome = rent_outcome_for(attempt, repeated=True)
        else:
            extension = RentalExtension.objects.select_related("rental").get(pk=outcome.extension.pk)
            outcome = extension_outcome_for(extension, repeated=True)
    return outcome


NOT_SENT = Token.NOT_SENT


def attempts_resolve_stale(*, now: datetime) -> int:
    """Attempts and extensions left pending by a process that stopped: sent ones become unknown
    (reconciliation settles them), unsent ones failed, each noted where ops look. A pending one normally
    lasts one provider call; long after that, nobody is finishing it, and an extension left pending
    would block every further extension of its rental.
    """
    call_limit = timedelta(seconds=settings.SMSONLINE_CONNECT_TIMEOUT + settings.SMSONLINE_TIMEOUT + 60)
    resolved = 0
    attempts = RentAttempt.objects.filter(state=AttemptState.PENDING, created_at__lt=now - call_limit)
    for attempt in attempts.select_related("account"):
        resolved += _stale_resolved(attempt, account=attempt.account, operation="getRentNumber", now=now)
    extensions = RentalExtension.objects.filter(state=AttemptState.PENDING, created_at__lt=now - call_limit)
    for extension in extensions.select_related("rental__account"):
        rental = extension.rental
        if _stale_resolved(extension, account=rental.account, operation="continueRentNumber", now=now):
            resolved += 1
            if extension.automatic:  # its nonce is spent: nothing renews the rental for this end date
                auto_renew_cut_short(rental, sent=extension.sent_at is not None)
    return resolved


def _stale_resolved(
    record: RentAttempt | RentalExtension, *, account: ProviderAccount, operation: str, now: datetime
) -> bool:
    sent = record.sent_at is not None
    state, token = (AttemptState.UNKNOWN, UNKNOWN_OUTCOME) if sent else (AttemptState.FAILED, NOT_SENT)
    detail = "No outcome was recorded after sending (the process stopped)." if sent else "Stopped before sending."
    with transaction.atomic():
        claimed = (
            type(record)
            .objects.filter(pk=record.pk, state=AttemptState.PENDING)
            .update(state=state, error_token=token, error_detail=detail, finished_at=now)
        )
        if claimed:
            attempt = record if isinstance(record, RentAttempt) else None
            about = f"{record.rental}: " if isinstance(record, RentalExtension) else ""
            ErrorEvent.objects.create(account=account, operation=operation, token=token, detail=about + detail,
                                      sent=sent, attempt=attempt)  # fmt: skip
    return bool(claimed)


def attempts_mark_not_charged(*, attempts: Iterable[RentAttempt], user: AbstractBaseUser) -> int:
    """Staff checked SMS.online and found no rent for these unknown attempts: they failed, uncharged."""
    resolved = 0
    for attempt in attempts:
        note = f"{attempt.error_detail} Checked by {user}: no rent on SMS.online, not charged.".strip()
        resolved += RentAttempt.objects.filter(pk=attempt.pk, state=AttemptState.UNKNOWN, rental__isnull=True).update(
            state=AttemptState.FAILED, error_detail=note, finished_at=timezone.now()
        )
    return resolved
