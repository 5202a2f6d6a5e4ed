"""What staff do to a rental once it exists: finish, cancel (with refund) and extend."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..crypto import ApiKeyUnreadable
from ..explanations import MAY_HAVE_CHARGED, explain
from ..models import AttemptState, Rental, RentalExtension, RentalReminder, RentalStatus, SmsMessage
from ..provider.errors import ProviderError
from .accounts import account_record_error, provider_client_for
from .followups import reconcile_soon

logger = logging.getLogger(__name__)

OPEN_EXTENSION = gettext_lazy(
    "An earlier extension of this rental is still in progress or has an unknown outcome: SMS.online may have "
    "charged for it. Reconciliation checks it within minutes; extend again once it is resolved."
)

# SMS.online refunds a cancelled rent only within this time of renting (contract section 6).
CANCEL_WINDOW = timedelta(minutes=20)


@dataclass(frozen=True)
class ActionOutcome:
    ok: bool
    message: str
    token: str = ""


def cancel_deadline(rental: Rental) -> datetime:
    return rental.created_at + CANCEL_WINDOW


def rental_finish(*, rental: Rental) -> ActionOutcome:
    return _set_status(rental=rental, finish=True)


def rental_cancel(*, rental: Rental, now: datetime) -> ActionOutcome:
    if now >= cancel_deadline(rental):
        return ActionOutcome(False, explain("CANT_CANCEL"), "CANT_CANCEL")
    return _set_status(rental=rental, finish=False)


def _set_status(*, rental: Rental, finish: bool) -> ActionOutcome:
    ended = RentalStatus.FINISHED if finish else RentalStatus.CANCELLED
    try:
        provider_client_for(rental.account).set_rent_status(rent_id=rental.provider_rent_id, finish=finish)
    except ApiKeyUnreadable:
        return ActionOutcome(False, explain("API_KEY_UNREADABLE"), "API_KEY_UNREADABLE")
    except ProviderError as error:
        with transaction.atomic():
            account_record_error(account=rental.account, error=error, operation="setRentStatus")
        already = {"ALREADY_FINISH": RentalStatus.FINISHED, "ALREADY_CANCEL": RentalStatus.CANCELLED}
        if error.token in already:
            _mark(rental, already[error.token])
            return ActionOutcome(True, explain(error.token), error.token)
        return ActionOutcome(False, explain(error.token), error.token)
    _mark(rental, ended)
    verb = _("finished") if finish else _("cancelled; SMS.online refunds its price")
    return ActionOutcome(True, f"+{rental.number}: {verb}.")


def _mark(rental: Rental, status: str) -> None:
    with transaction.atomic():
        rental.refresh_from_db(from_queryset=Rental.objects.select_for_update())
        if rental.status != status:
            rental.status, rental.ended_at = status, timezone.now()
            rental._change_reason = f"{status} on SMS.online"  # the history says why
            rental.save(update_fields=["status", "ended_at"])


def rental_extension_quote(*, rental: Rental, hours: int) -> tuple[Decimal | None, str]:
    """The provider's price for extending by ``hours``, or None and why there is none."""
    try:
        price = provider_client_for(rental.account).get_continue_price(rent_id=rental.provider_rent_id, hours=hours)
    except ApiKeyUnreadable:
        return None, explain("API_KEY_UNREADABLE")
    except ProviderError as error:
        return None, _extension_problem(error, spending=False)
    return price, "" if price is not None else _("SMS.online answered without a price.")


def rental_extend(
    *, rental: Rental, hours: int, nonce: uuid.UUID, requested_by: AbstractBaseUser | None,
    price_quoted: Decimal | None, expect_end_date: datetime | None = None,
) -> ActionOutcome:  # fmt: skip
    """Extend once per ``nonce``: recorded before it is sent, never sent twice (it spends money).

    ``expect_end_date``: extend only if the rental still ends then (auto-renew decided on that date;
    a manual extension meanwhile would otherwise be paid twice).
    """
    try:
        with transaction.atomic():
            locked = Rental.objects.select_for_update().get(pk=rental.pk)
            if expect_end_date is not None and locked.end_date != expect_end_date:
                changed = _("The rental was extended meanwhile; nothing was sent.")
                return ActionOutcome(False, changed, "RENTAL_CHANGED")
            extension = RentalExtension.objects.create(
                nonce=nonce, rental=rental, hours=hours, price_quoted=price_quoted, requested_by=requested_by,
                old_rent_id=rental.provider_rent_id,
            )  # fmt: skip
    except IntegrityError:
        if RentalExtension.objects.filter(nonce=nonce).exists():
            repeated = _("This extension was already submitted; see the rental's extensions.")
            return ActionOutcome(False, repeated, "REPEATED")
        return ActionOutcome(False, str(OPEN_EXTENSION), "EXTENSION_OPEN")
    blocking = rental.account.spending_block(timezone.now())
    if blocking:
        _finish(extension, AttemptState.FAILED, token=blocking, detail="Not sent: the account cannot spend now.")
        return ActionOutcome(False, _("Not sent.") + " " + explain(blocking), blocking)
    try:
        client = provider_client_for(rental.account)
    except ApiKeyUnreadable:
        _finish(extension, AttemptState.FAILED, token="API_KEY_UNREADABLE")
        return ActionOutcome(False, explain("API_KEY_UNREADABLE"), "API_KEY_UNREADABLE")
    RentalExtension.objects.filter(pk=extension.pk).update(sent_at=timezone.now())
    try:
        phone = client.continue_rent(rent_id=rental.provider_rent_id, hours=hours)
    except ProviderError as error:
        state = AttemptState.UNKNOWN if error.is_unknown_outcome else AttemptState.FAILED
        with transaction.atomic():
            account_record_error(account=rental.account, error=error, operation="continueRentNumber")
            _finish(extension, state, token=error.token, detail=error.detail)
        if state == AttemptState.UNKNOWN:
            reconcile_soon(rental.account)
        return ActionOutcome(False, _extension_problem(error, spending=True), error.token)
    with transaction.atomic():
        rental.refresh_from_db(from_queryset=Rental.objects.select_for_update())
        _absorb_adopted_placeholder(rental, phone.rent_id)
        rental.provider_rent_id, rental.end_date, rental.hours = phone.rent_id, phone.end_date, rental.hours + hours
        rental.status, rental.ended_at, rental.expired_at = RentalStatus.ACTIVE, None, None
        rental.ended_by_provider = False
        rental._change_reason = f"extended by {hours} h"
        rental.save(
            update_fields=[
                "provider_rent_id",
                "end_date",
                "hours",
                "status",
                "ended_at",
                "expired_at",
                "ended_by_provider",
            ]
        )
        # A new end date earns new reminders.
        RentalReminder.objects.filter(rental=rental).delete()
        _finish(extension, AttemptState.SUCCEEDED, new_rent_id=phone.rent_id, new_end_date=phone.end_date,
                cost=phone.cost)  # fmt: skip
    end = timezone.localtime(phone.end_date).strftime("%Y-%m-%d %H:%M %Z")
    text = _("+%(number)s extended by %(hours)s h, until %(end)s.") % {
        "number": rental.number,
        "hours": hours,
        "end": end,
    }
    if phone.rent_id != extension.old_rent_id:
        text += " " + _("SMS.online gave it a new rent id, %(id)s.") % {"id": phone.rent_id}
    return ActionOutcome(True, text)


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
    placeholder.delete()


def _finish(extension: RentalExtension, state: str, **fields: object) -> None:
    fields.setdefault("error_token", fields.pop("token", ""))
    fields.setdefault("error_detail", fields.pop("detail", ""))
    RentalExtension.objects.filter(pk=extension.pk).update(state=state, finished_at=timezone.now(), **fields)


def _extension_problem(error: ProviderError, *, spending: bool) -> str:
    if error.token == "MAX_HOURS_EXCEED":
        most = re.search(r"[0-9]+", error.detail)
        limit = (
            " " + _("The most it can still be extended by is %(hours)s hours.") % {"hours": most.group(0)}
            if most
            else ""
        )
        return explain("MAX_HOURS_EXCEED") + limit
    if error.is_unknown_outcome and spending:
        return f"{error.token}: {_('no readable answer about the extension.')} {MAY_HAVE_CHARGED}"
    return explain(error.token)


def rentals_claim(*, rentals: Iterable[Rental], user: AbstractBaseUser) -> int:
    """``user`` takes care of these rentals from now on."""
    return _assign(rentals, user, reason="claimed")


def rentals_release(*, rentals: Iterable[Rental], user: AbstractBaseUser) -> int:
    """Nobody in particular takes care of these rentals any more."""
    return _assign(rentals, None, reason=f"released by {user}")


def _assign(rentals: Iterable[Rental], assignee: AbstractBaseUser | None, *, reason: str) -> int:
    changed = 0
    for rental in rentals:
        if rental.assignee_id != (assignee.pk if assignee else None):
            rental.assignee = assignee
            rental._change_reason = reason
            rental.save(update_fields=["assignee"])
            changed += 1
    return changed
