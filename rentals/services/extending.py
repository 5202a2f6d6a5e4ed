"""Extending a rental: its price first (spends nothing), then the extension, once per nonce (spends money).

``web=True`` (the admin, the API): the request holds one of this process's slots for calls to
SMS.online, or is answered ``ProviderBusy`` at once, before anything is recorded (see turns.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ..models import AttemptState, Rental, RentalExtension, RentalReminder, RentalStatus, SmsMessage
from ..outcomes import Operation, Outcome, State, Token
from ..provider.client import SmsOnlineClient
from ..provider.errors import ProviderError
from ..reasons import reason
from .accounts import account_record_error, account_record_refusal, provider_client_for
from .budgets import Refusal, budget_alert_soon, budget_refusal, budgets_locked, rent_price
from .followups import balance_check_soon, reconcile_soon
from .requesters import recorded_as, requested_by_same
from .spend import spend_of_rental_changed
from .turns import ProviderCallSlot, turn_at_once


def rental_extension_quote(*, rental: Rental, hours: int) -> Outcome:
    """The provider's price for extending by ``hours`` (asks, spends nothing), for a person or a
    script waiting in a web request: the outcome's ``price``, or why none (unknown: asking again later
    may bring one; SMS.online could not be reached, or answered unreadably or without a price).

    Paced with the account's other status and price requests: quotes asked for again and again (a page
    reloaded, a script) must not push the account over SMS.online's limit, whose 429 would stop its
    rents too. The quote goes before the requests already waiting, but only if its turn comes at once:
    else, as when this process has no slot free for it, ProviderBusy says when to ask again.
    """
    try:
        client = provider_client_for(rental.account)
        with ProviderCallSlot(web=True) as slot:
            slot.take()
            turn_at_once(rental.account_id)
            price = client.get_continue_price(rent_id=rental.provider_rent_id, hours=hours)
    except ProviderError as error:
        return Outcome.unanswered(Operation.QUOTE, error, rental=rental)
    if price is None:
        return Outcome(Operation.QUOTE, State.UNKNOWN, Token.PRICE_UNKNOWN, rental=rental)
    return Outcome(Operation.QUOTE, State.SUCCEEDED, rental=rental, price=price)


def rental_extend(
    *, rental: Rental, hours: int, nonce: uuid.UUID, requested_by: AbstractBaseUser | None,
    price_quoted: Decimal | None, expect_end_date: datetime | None = None, automatic: bool = False,
    web: bool = False,
) -> Outcome:  # fmt: skip
    """Extend once per ``nonce``: recorded before it is sent, never sent twice (it spends money), and
    checked against the monthly budgets in the transaction that records it.

    ``expect_end_date``: extend only if the rental still ends then (auto-renew decided on that date;
    a manual extension meanwhile would otherwise be paid twice). ``automatic``: auto-renew asks, on
    behalf of ``requested_by``. ``web``: with no slot free, ProviderBusy, and no extension recorded (the
    same nonce again, already recorded, is answered without one).
    """
    if connection.in_atomic_block:
        raise RuntimeError("rental_extend must run outside a transaction: its extension must be committed first.")
    if rental.status == RentalStatus.CANCELLED:
        return Outcome(Operation.EXTEND, AttemptState.FAILED, Token.RENTAL_ENDED, rental=rental)
    with ProviderCallSlot(web=web) as slot:
        claimed = _extension_claim(rental, hours=hours, nonce=nonce, requested_by=requested_by, automatic=automatic,
                                   price_quoted=price_quoted, expect_end_date=expect_end_date,
                                   before_commit=slot.take)  # fmt: skip
        return _extension_carry_out(claimed, rental=rental, requested_by=requested_by)


def _extension_carry_out(
    claimed: Outcome | tuple[RentalExtension, Refusal | None], *, rental: Rental, requested_by: AbstractBaseUser | None
) -> Outcome:
    """The claimed extension sent, or refused (a budget, a blocked account, an unreadable key)."""
    if isinstance(claimed, Outcome):
        return claimed
    extension, refusal = claimed
    if refusal is not None:
        account_record_refusal(account=rental.account, token=refusal.token, detail=refusal.detail(),
                               operation="continueRentNumber")  # fmt: skip
        budget_alert_soon(account=rental.account, person=requested_by, refusal=refusal)
        return extension_outcome_for(extension, facts=refusal.facts())
    blocking = rental.account.spending_block(timezone.now())
    if blocking:
        return _finish(extension, AttemptState.FAILED, token=blocking, detail="Not sent: the account cannot spend now.")
    try:
        client = provider_client_for(rental.account)
    except ProviderError as error:  # nothing is sent: the stored key cannot be read
        return _extension_failed(extension, rental=rental, error=error)
    return _extension_send(extension, rental=rental, client=client, requested_by=requested_by)


def _extension_claim(
    rental: Rental, *, hours: int, nonce: uuid.UUID, requested_by: AbstractBaseUser | None, automatic: bool,
    price_quoted: Decimal | None, expect_end_date: datetime | None, before_commit: Callable[[], None],
) -> Outcome | tuple[RentalExtension, Refusal | None]:  # fmt: skip
    """The extension, committed (a budget refusal recorded as failed), or the outcome that stops it.
    ``before_commit`` runs before an extension to be sent is committed; what it raises undoes it."""
    try:
        with transaction.atomic():
            existing = RentalExtension.objects.filter(nonce=nonce).select_related("rental").first()
            if existing is not None:
                return _repeated_extension_outcome(existing, rental=rental, requested_by=requested_by)
            now = timezone.now()
            budgets = budgets_locked(account=rental.account, person=requested_by, now=now)
            price = _price_counted(rental, hours, price_quoted, automatic=automatic) if budgets else None
            refusal = budget_refusal(budgets, price)
            locked = Rental.objects.select_for_update().get(pk=rental.pk)
            if expect_end_date is not None and locked.end_date != expect_end_date:
                return Outcome(Operation.EXTEND, AttemptState.FAILED, Token.RENTAL_CHANGED, rental=rental)
            refused = {} if refusal is None else {
                "state": AttemptState.FAILED, "error_token": refusal.token, "error_detail": refusal.detail(),
                "finished_at": now,
            }  # fmt: skip
            extension = RentalExtension.objects.create(
                nonce=nonce, rental=rental, hours=hours, price_quoted=price_quoted, requested_by=requested_by,
                automatic=automatic, old_rent_id=rental.provider_rent_id, **refused,
            )  # fmt: skip
            if refusal is None:
                before_commit()
            return extension, refusal
    except IntegrityError:
        existing = RentalExtension.objects.filter(nonce=nonce).select_related("rental").first()
        if existing is not None:
            return _repeated_extension_outcome(existing, rental=rental, requested_by=requested_by)
        return Outcome(Operation.EXTEND, AttemptState.FAILED, Token.EXTENSION_OPEN, rental=rental)


def _repeated_extension_outcome(
    existing: RentalExtension, *, rental: Rental, requested_by: AbstractBaseUser | None
) -> Outcome:
    if not requested_by_same(existing.requested_by_id, requested_by):
        return Outcome(Operation.EXTEND, AttemptState.FAILED, Token.ANOTHER_PERSONS_FORM, rental=rental)
    return extension_outcome_for(existing, repeated=True)


def _price_counted(rental: Rental, hours: int, price_quoted: Decimal | None, *, automatic: bool) -> Decimal | None:
    """The price a budget counts for an extension: the quote, but never less than the catalog's.
    Auto-renew asked SMS.online for its quote itself. Any other came back from the confirmation page
    or a script, and a budget takes it on nobody's word: without a catalog price to hold it against,
    the price is unknown (and the extension refused, as a rent would be)."""
    catalog = rent_price(service=rental.service, country=rental.country, hours=hours)
    if catalog is None:
        return price_quoted if automatic else None
    return catalog if price_quoted is None else max(catalog, price_quoted)


def _extension_send(
    extension: RentalExtension, *, rental: Rental, client: SmsOnlineClient, requested_by: AbstractBaseUser | None
) -> Outcome:
    RentalExtension.objects.filter(pk=extension.pk).update(sent_at=timezone.now())
    try:
        phone = client.continue_rent(rent_id=rental.provider_rent_id, hours=extension.hours)
    except ProviderError as error:
        return _extension_failed(extension, rental=rental, error=error)
    with transaction.atomic():
        rental.refresh_from_db(from_queryset=Rental.objects.select_for_update())
        _absorb_adopted_placeholder(rental, phone.rent_id)
        # Given up as unknown while the answer was on its way, and settled by reconciliation meanwhile:
        # its hours are counted already; the answer's end date is the provider's own.
        settled = RentalExtension.objects.filter(pk=extension.pk, state=AttemptState.SUCCEEDED).exists()
        rental.provider_rent_id, rental.end_date = phone.rent_id, phone.end_date
        if not settled:
            rental.hours += extension.hours
        rental.status, rental.ended_at, rental.expired_at = RentalStatus.ACTIVE, None, None
        rental.ended_by_provider = False
        rental._change_reason = reason("extended", hours=extension.hours)
        recorded_as(rental, requested_by)  # auto-renew: the person who set it
        rental.save(
            update_fields=[
                "provider_rent_id", "end_date", "hours", "status", "ended_at", "expired_at", "ended_by_provider",
            ]
        )  # fmt: skip
        # A new end date earns new reminders.
        RentalReminder.objects.filter(rental=rental).delete()
        outcome = _finish(extension, AttemptState.SUCCEEDED, new_rent_id=phone.rent_id,
                          new_end_date=phone.end_date, cost=phone.cost)  # fmt: skip
        # Paid in the month it was recorded, which may have closed meanwhile; a revoked rental is paid again.
        spend_of_rental_changed(rental_id=rental.pk, now=timezone.now())
    # Counted in the month the extension was recorded, before the call (a rent, by its rental's row).
    budget_alert_soon(account=rental.account, person=requested_by, spent_at=extension.created_at)
    balance_check_soon(rental.account)
    return outcome


def _extension_failed(extension: RentalExtension, *, rental: Rental, error: ProviderError) -> Outcome:
    """The extension ends with the error, kept on the account too; one that may have charged is
    reconciled soon."""
    state = AttemptState.UNKNOWN if error.is_unknown_outcome else AttemptState.FAILED
    with transaction.atomic():
        account_record_error(account=rental.account, error=error, operation="continueRentNumber")
        outcome = _finish(extension, state, token=error.token, detail=error.detail)
    if state == AttemptState.UNKNOWN:
        reconcile_soon(rental.account)
        balance_check_soon(rental.account)  # it may have been paid for
    return outcome


def _absorb_adopted_placeholder(rental: Rental, rent_id: str) -> None:
    """Reconciliation may have seen the re-ordered rent in the provider's list first and adopted it as
    made elsewhere: that placeholder is this rental, so it gives way (its SMS come along)."""
    placeholder = (
        Rental.objects.filter(account=rental.account, provider_rent_id=rent_id, attempt__isnull=True)
        .exclude(pk=rental.pk)
        .first()
    )
    if placeholder is None:
        return
    for message in SmsMessage.objects.filter(rental=placeholder):
        if not SmsMessage.objects.filter(rental=rental, dedupe_key=message.dedupe_key).exists():
            SmsMessage.objects.filter(pk=message.pk).update(rental=rental)
    spend_of_rental_changed(rental_id=placeholder.pk, now=timezone.now())  # its rent was counted as paid
    placeholder.delete()


def _finish(extension: RentalExtension, state: str, **fields: object) -> Outcome:
    fields.setdefault("error_token", fields.pop("token", ""))
    fields.setdefault("error_detail", fields.pop("detail", ""))
    RentalExtension.objects.filter(pk=extension.pk).update(state=state, finished_at=timezone.now(), **fields)
    extension.refresh_from_db()
    return extension_outcome_for(extension)


def extension_outcome_for(
    extension: RentalExtension, *, repeated: bool = False, facts: dict[str, str] | None = None
) -> Outcome:
    """The outcome of an extension, whether it just finished or was submitted again."""
    state = extension.state
    token = Token.PENDING if state == AttemptState.PENDING else extension.error_token
    return Outcome(Operation.EXTEND, state, token, rental=extension.rental, extension=extension,
                   repeated=repeated or state == AttemptState.PENDING, facts=facts or {})  # fmt: skip


def extensions_mark_not_charged(*, extensions: Iterable[RentalExtension], user: AbstractBaseUser) -> int:
    """Staff checked SMS.online and found these unknown extensions did not happen: they failed, uncharged.

    Reconciliation settles an unknown extension only when SMS.online's list shows it went through, so
    one that did not would otherwise stay unknown, and keep its rental from being extended again (one
    open extension per rental) and from renewing by itself."""
    resolved = 0
    for extension in extensions:
        note = f"{extension.error_detail} Checked by {user}: not extended on SMS.online, not charged.".strip()
        resolved += RentalExtension.objects.filter(pk=extension.pk, state=AttemptState.UNKNOWN).update(
            state=AttemptState.FAILED, error_detail=note, finished_at=timezone.now()
        )
    return resolved
