"""What the API's endpoints share: the admin's permissions, a rental found for its reader."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from .. import selectors
from ..models import Rental
from ..outcomes import Token
from ..permissions import Permission
from .errors import ApiError
from .schemas import ErrorOut

# One router for every path under /rentals: ninja answers a path from one router only.
router = Router(tags=["rentals"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 429: ErrorOut}


def require(request: HttpRequest, *permissions: Permission) -> None:
    if not all(request.user.has_perm(permission) for permission in permissions):
        raise ApiError(403, Token.PERMISSION_DENIED, needs=list(permissions))


def may_see_rentals(request: HttpRequest) -> bool:
    # As in the admin: viewing the inventory, or changing rentals, shows them.
    return request.user.has_perm(Permission.VIEW_RENTAL) or request.user.has_perm(Permission.CHANGE_RENTAL)


def require_rentals_seen(request: HttpRequest) -> None:
    if not may_see_rentals(request):
        raise ApiError(403, Token.PERMISSION_DENIED, needs=[Permission.VIEW_RENTAL])


def reads_sms(request: HttpRequest) -> bool:
    return request.user.has_perm(Permission.READ_SMS)


def rental_or_404(request: HttpRequest, rental_id: int) -> Rental:
    require_rentals_seen(request)
    everything = selectors.InventoryFilter()
    rental = selectors.rentals_inventory(narrowed=everything, person=request.user).filter(pk=rental_id).first()
    if rental is None:
        raise ApiError(404, Token.NOT_FOUND)
    return rental
