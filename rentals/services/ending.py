"""Ending a rental at SMS.online: finish it (nothing refunded), or cancel it within the refund window.

``web=True`` (the admin, the API): the request holds one of this process's slots for calls to
SMS.online, or is answered ``ProviderBusy`` at once, before anything is recorded (see turns.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from ..models import AttemptState, Rental, RentalStatus
from ..outcomes import Operation, Outcome, Token
from ..provider.errors import ProviderError
from ..reasons import reason
from .accounts import account_record_error, provider_client_for
from .followups import balance_check_soon
from .requesters import recorded_as
from .spend import spend_of_rental_changed
from .turns import ProviderCallSlot

# SMS.online refunds a cancelled rent only within this time of renting (contract section 6).
CANCEL_WINDOW = timedelta(minutes=20)
# A rental in these states is over: it cannot be finished or cancelled again.
ENDED = (RentalStatus.FINISHED, RentalStatus.CANCELLED, RentalStatus.REVOKED)


def cancel_deadline(rental: Rental) -> datetime:
    return rental.created_at + CANCEL_WINDOW


def rental_finish(*, rental: Rental, requested_by: AbstractBaseUser | None, web: bool = False) -> Outcome:
    return _set_status(rental=rental, operation=Operation.FINISH, requested_by=requested_by, web=web)


def rental_cancel(
    *, rental: Rental, now: datetime, requested_by: AbstractBaseUser | None, web: bool = False
) -> Outcome:
    if rental.status not in ENDED and now >= cancel_deadline(rental):
        return Outcome(Operation.CANCEL, AttemptState.FAILED, "CANT_CANCEL", rental=rental)
    return _set_status(rental=rental, operation=Operation.CANCEL, requested_by=requested_by, web=web)


def _set_status(*, rental: Rental, operation: Operation, requested_by: AbstractBaseUser | None, web: bool) -> Outcome:
    if rental.status in ENDED:
        return Outcome(operation, AttemptState.FAILED, Token.RENTAL_ENDED, rental=rental)
    finish = operation == Operation.FINISH
    try:
        with ProviderCallSlot(web=web) as slot:
            slot.take()
            provider_client_for(rental.account).set_rent_status(rent_id=rental.provider_rent_id, finish=finish)
    except ProviderError as error:
        with transaction.atomic():
            account_record_error(account=rental.account, error=error, operation="setRentStatus")
        already = {"ALREADY_FINISH": RentalStatus.FINISHED, "ALREADY_CANCEL": RentalStatus.CANCELLED}
        if error.token in already:
            _mark(rental, already[error.token], requested_by=requested_by)
            return Outcome(operation, AttemptState.SUCCEEDED, error.token, rental=rental)
        state = AttemptState.UNKNOWN if error.is_unknown_outcome else AttemptState.FAILED
        if state == AttemptState.UNKNOWN and not finish:
            balance_check_soon(rental.account)  # a cancel that went through refunded
        return Outcome(operation, state, error.token, rental=rental)
    _mark(rental, RentalStatus.FINISHED if finish else RentalStatus.CANCELLED, requested_by=requested_by)
    if not finish:
        balance_check_soon(rental.account)  # the refund shows in the balance at once, not at the next check
    return Outcome(operation, AttemptState.SUCCEEDED, rental=rental)


def _mark(rental: Rental, status: str, *, requested_by: AbstractBaseUser | None) -> None:
    with transaction.atomic():
        rental.refresh_from_db(from_queryset=Rental.objects.select_for_update())
        if rental.status != status:
            rental.status, rental.ended_at = status, timezone.now()
            rental._change_reason = reason("finished" if status == RentalStatus.FINISHED else "cancelled")
            recorded_as(rental, requested_by)
            rental.save(update_fields=["status", "ended_at"])
            if status == RentalStatus.CANCELLED:  # refunded: its months' spend too (ALREADY_CANCEL comes any time)
                spend_of_rental_changed(rental_id=rental.pk, now=rental.ended_at)
