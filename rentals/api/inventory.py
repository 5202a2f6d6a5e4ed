"""Reading the inventory: rentals, one rental with its SMS, and waiting for the next SMS."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Query

from .. import selectors
from ..outcomes import Token
from ..permissions import Permission
from ..rental_json import rental_data, sms_data
from ..services.arrivals import sms_wait
from .common import ERRORS, reads_sms, rental_or_404, require, require_rentals_seen, router
from .errors import ApiError
from .schemas import ErrorOut, RentalDetailOut, RentalFilters, RentalListOut, WaitOut

MAX_WAIT = 60


@router.get("", response={200: RentalListOut, **ERRORS}, summary="List rentals")
def list_rentals(request: HttpRequest, filters: Query[RentalFilters]) -> dict[str, Any]:
    """The inventory, active rentals first and the soonest to end at the top, as in the admin."""
    require_rentals_seen(request)
    shows_sms = reads_sms(request)
    rentals = selectors.rentals_inventory(narrowed=_narrowed(filters), person=request.user, reads_sms=shows_sms)
    rentals = rentals.order_by(*selectors.INVENTORY_ORDER, "pk")
    page = rentals[filters.offset : filters.offset + filters.limit]
    return {"count": rentals.count(), "results": [rental_data(rental, reads_sms=shows_sms) for rental in page]}


def _narrowed(filters: RentalFilters) -> selectors.InventoryFilter:
    hours = filters.ending_within_hours
    return selectors.InventoryFilter(
        status=filters.status, account=filters.account, service=filters.service, country=filters.country,
        assignee=filters.assignee, mine=filters.mine, ending_within=timedelta(hours=hours) if hours else None,
        terms=tuple(term for term in (filters.number, filters.q) if term),
    )  # fmt: skip


@router.get("/{int:rental_id}", response={200: RentalDetailOut, **ERRORS}, summary="One rental with its SMS")
def read_rental(request: HttpRequest, rental_id: int) -> dict[str, Any]:
    rental = rental_or_404(request, rental_id)
    return rental_data(rental, reads_sms=reads_sms(request), with_messages=True)


@router.get(
    "/{int:rental_id}/sms/next", response={200: WaitOut, **ERRORS, 503: ErrorOut}, summary="Wait for the next SMS"
)
def wait_for_sms(request: HttpRequest, rental_id: int, after: int | None = None, timeout: int = 30) -> dict[str, Any]:
    """The rental's first SMS after the one whose id is `after` (0: any; left out: the newest now), waiting
    up to `timeout` seconds (at most 60) for it to arrive. `sms` is null when none came in time."""
    rental = rental_or_404(request, rental_id)
    require(request, Permission.READ_SMS)
    problems = {"timeout": [f"0 to {MAX_WAIT} seconds"]} if not 0 <= timeout <= MAX_WAIT else {}
    if after is not None and after < 0:
        problems["after"] = ["an SMS id, or 0 for any SMS"]
    if problems:
        raise ApiError(400, Token.BAD_ARGUMENTS, fields=problems)
    if after is None:
        after = selectors.newest_sms_id_of(rental_id=rental.pk)
    with _wait_slot() as free:
        if not free:
            raise ApiError(503, Token.WAIT_SLOTS_BUSY, headers={"Retry-After": "1"})
        message = sms_wait(rental_id=rental.pk, after_id=after, timeout=timeout)
    return {"sms": sms_data(message) if message else None, "after": message.pk if message else after}


_waiting_lock = threading.Lock()
_waiting = 0


@contextmanager
def _wait_slot() -> Iterator[bool]:
    """One of this process's RENTDESK_API_WAIT_SLOTS, if one is free: a waiting request holds a thread,
    and the others must stay free for webhooks and pages."""
    global _waiting
    with _waiting_lock:
        free = _waiting < settings.RENTDESK_API_WAIT_SLOTS
        _waiting += free
    try:
        yield free
    finally:
        if free:
            with _waiting_lock:
                _waiting -= 1
