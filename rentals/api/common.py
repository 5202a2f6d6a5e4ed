"""What the API's endpoints share: the admin's permissions, a rental as JSON, SMS shown only to readers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Router

from ..models import Rental, SmsMessage
from ..outcomes import Token
from ..wording.attention import attention_words
from .errors import ApiError
from .schemas import ErrorOut

# One router for every path under /rentals: ninja answers a path from one router only.
router = Router(tags=["rentals"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 429: ErrorOut}

VIEW_RENTAL = "rentals.view_rental"
CHANGE_RENTAL = "rentals.change_rental"
READ_SMS = "rentals.view_smsmessage"
RENT = "rentals.rent_number"
EXTEND = "rentals.extend_rental"
END = "rentals.end_rental"


def require(request: HttpRequest, *permissions: str) -> None:
    if not all(request.user.has_perm(permission) for permission in permissions):
        raise ApiError(403, Token.PERMISSION_DENIED, needs=list(permissions))


def may_see_rentals(request: HttpRequest) -> bool:
    # As in the admin: viewing the inventory, or changing rentals, shows them.
    return request.user.has_perm(VIEW_RENTAL) or request.user.has_perm(CHANGE_RENTAL)


def rental_or_404(request: HttpRequest, rental_id: int) -> Rental:
    if not may_see_rentals(request):
        raise ApiError(403, Token.PERMISSION_DENIED, needs=[VIEW_RENTAL])
    rental = rentals_visible().filter(pk=rental_id).first()
    if rental is None:
        raise ApiError(404, Token.NOT_FOUND)
    return rental


def rentals_visible():
    return Rental.objects.select_related("account", "service", "country", "assignee", "rented_by").with_paid()


def _money(amount: Decimal | None) -> Decimal | None:
    # SQLite computes a sum as a float: four places, as the amounts are stored.
    return None if amount is None else Decimal(amount).quantize(Decimal("0.0001"))


def sms_data(message: SmsMessage) -> dict[str, Any]:
    return {"id": message.pk, "sender": message.sender, "text": message.text, "code": message.code,
            "received_at": message.received_at, "provider_date": message.provider_date,
            "source": message.source}  # fmt: skip


def rental_data(rental: Rental, *, reads_sms: bool, with_messages: bool = False) -> dict[str, Any]:
    """A rental as the API shows it; SMS text only to those who may read SMS, as in the admin."""
    data = {
        "id": rental.pk, "number": rental.number, "label": rental.label, "status": rental.status,
        "service": rental.service.code if rental.service else None,
        "country": rental.country.provider_id if rental.country else None, "operator": rental.operator,
        "hours": rental.hours, "end_date": rental.end_date, "account": rental.account.name,
        "assignee": rental.assignee.get_username() if rental.assignee else None,
        "rented_by": rental.rented_by.get_username() if rental.rented_by else None,
        "cost": _money(getattr(rental, "paid", rental.cost)),
        "provider_rent_id": rental.provider_rent_id, "created_at": rental.created_at,
        "attention": attention_words(rental.attention),
        "lost": rental.provider_lost_at is not None, "last_sms_at": rental.last_sms_at,
        "last_sms_text": rental.last_sms_text if reads_sms else None,
        "last_sms_code": rental.last_sms_code if reads_sms else None,
    }  # fmt: skip
    if with_messages:
        data["messages"] = [sms_data(message) for message in rental.messages.all()] if reads_sms else None
    return data
