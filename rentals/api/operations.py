"""What scripts do to rentals: rent (with an Idempotency-Key), extend (its price first, if wanted),
finish and cancel.

Each endpoint checks the same permission as the admin, reads its input with the same form as the
admin and the CLI, and calls the same service; the outcome comes back as its token, state and facts.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Header, Status

from .. import services
from ..forms import ExtendForm, RentForm
from ..outcomes import Operation, Outcome, State, Token
from ..permissions import Permission
from ..rental_json import rental_data
from ..services.renting import outcome_when_settled
from ..wording.pages import describe
from ..wording.tokens import explain
from .common import ERRORS, reads_sms, rental_or_404, require, router
from .errors import ApiError
from .schemas import ErrorOut, ExtendIn, ExtensionPriceOut, OutcomeOut, RentIn

OUTCOMES = {status: OutcomeOut for status in (200, 201, 409, 422, 502)}
# The same key from the same person names the same request, for ever: a retry never spends again.
_NONCE_NAMESPACE = uuid.UUID("0b7f3e0e-4c55-4a53-9a4e-6f4f0d5e8a21")
KEY_HELP = "Any unique string (a UUID will do). The same key gives the same outcome and never a second rent."
# The same key again while the first request is still at SMS.online waits this long for its outcome, then
# answers 409 pending with Retry-After: never a web thread held for as long as SMS.online may take.
REPLAY_WAIT = 3.0
PENDING_RETRY_AFTER = 3


def _nonce(operation: str, request: HttpRequest, key: str) -> uuid.UUID:
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise ApiError(400, Token.BAD_ARGUMENTS, fields={"Idempotency-Key": ["1 to 255 printable characters"]})
    return uuid.uuid5(_NONCE_NAMESPACE, f"{operation}:{request.user.pk}:{key}")


@router.post("", response={**OUTCOMES, **ERRORS}, summary="Rent a number (spends money)")
def rent(request: HttpRequest, response: HttpResponse, payload: RentIn,
         idempotency_key: str = Header(alias="Idempotency-Key", description=KEY_HELP)):  # fmt: skip
    """Rents once per Idempotency-Key: the attempt is recorded before SMS.online is asked, SMS.online is
    asked once, and the same key again answers the first request's outcome (waiting a few seconds for it
    if it is still at SMS.online, then 409 pending: ask again after Retry-After). 201 rented; 422 failed,
    nothing charged; 502 unknown, SMS.online may have charged: do not rent again for the same need until
    it is resolved; 429 PROVIDER_BUSY, nothing recorded or sent: ask again after Retry-After."""
    require(request, Permission.RENT)
    form = RentForm(payload.model_dump(), by_name=True)
    if not form.is_valid():
        raise ApiError.from_form(form)
    arguments = form.rent_arguments()
    outcome = services.rental_rent(
        **arguments, nonce=_nonce("rent", request, idempotency_key), requested_by=request.user, via="api", web=True
    )
    if outcome.repeated:
        if not _same_rent(outcome, arguments):
            raise ApiError(422, Token.IDEMPOTENCY_KEY_REUSED)
        outcome = outcome_when_settled(outcome, within=REPLAY_WAIT)
    return _answer(request, outcome, response)


def _same_rent(outcome: Outcome, arguments: dict[str, Any]) -> bool:
    attempt = outcome.attempt
    asked = (arguments["account"].pk, arguments["service"].pk, arguments["country"].pk, arguments["operator"],
             arguments["hours"], arguments["label"], arguments["webhook"])  # fmt: skip
    made = (attempt.account_id, attempt.service_id, attempt.country_id, attempt.operator, attempt.hours,
            attempt.label, attempt.webhook_token is not None)  # fmt: skip
    return asked == made


@router.get("/{int:rental_id}/extension-price", summary="The price of extending a rental (spends nothing)",
            response={200: ExtensionPriceOut, 422: ErrorOut, 502: ErrorOut, **ERRORS})  # fmt: skip
def extension_price(request: HttpRequest, rental_id: int, hours: int | str = 24) -> dict[str, Any]:
    """SMS.online's price now, as the admin shows it before an extension is confirmed; pass it to extend
    as ``price`` to keep it with the extension. 422: SMS.online refused (the error says why, e.g. the most
    hours it still allows); 502: it gave no price this time (unreachable, busy or unreadable): ask again;
    429 PROVIDER_BUSY: not asked, the account's next request slot is further off than a second (or this
    server has no place at SMS.online free): ask again after Retry-After."""
    rental = rental_or_404(request, rental_id)
    require(request, Permission.EXTEND)
    try:
        hours = ExtendForm.base_fields["hours"].clean(hours)
    except forms.ValidationError as problem:
        raise ApiError(400, Token.BAD_ARGUMENTS, fields={"hours": list(problem.messages)}) from None
    quote = services.rental_extension_quote(rental=rental, hours=hours)
    if not quote.ok:
        raise ApiError(_STATUS[quote.state], quote.token, message=describe(quote))
    return {"hours": hours, "price": quote.price}


@router.post("/{int:rental_id}/extend", response={**OUTCOMES, **ERRORS}, summary="Extend a rental (spends money)")
def extend(request: HttpRequest, response: HttpResponse, rental_id: int, payload: ExtendIn,
           idempotency_key: str = Header(alias="Idempotency-Key", description=KEY_HELP)):  # fmt: skip
    """Extends once per Idempotency-Key, as renting does. 200 extended; 422 failed; 502 unknown; 409
    pending; 429 PROVIDER_BUSY."""
    rental = rental_or_404(request, rental_id)
    require(request, Permission.EXTEND)
    nonce = _nonce("extend", request, idempotency_key)
    form = ExtendForm({"hours": payload.hours, "price": payload.price, "nonce": nonce})
    if not form.is_valid():
        raise ApiError.from_form(form)
    outcome = services.rental_extend(rental=rental, **form.extend_arguments(), requested_by=request.user, web=True)
    if outcome.repeated and outcome.extension is not None:
        extension = outcome.extension
        if (extension.rental_id, extension.hours) != (rental.pk, form.cleaned_data["hours"]):
            raise ApiError(422, Token.IDEMPOTENCY_KEY_REUSED)
        outcome = outcome_when_settled(outcome, within=REPLAY_WAIT)
    return _answer(request, outcome, response)


@router.post("/{int:rental_id}/finish", response={**OUTCOMES, **ERRORS}, summary="Finish a rental")
def finish(request: HttpRequest, rental_id: int):
    """Releases the number now; nothing is refunded."""
    rental = rental_or_404(request, rental_id)
    require(request, Permission.END)
    return _answer(request, services.rental_finish(rental=rental, requested_by=request.user, web=True))


@router.post("/{int:rental_id}/cancel", response={**OUTCOMES, **ERRORS}, summary="Cancel a rental with a refund")
def cancel(request: HttpRequest, rental_id: int):
    """Within 20 minutes of renting, SMS.online refunds the rent; after that, CANT_CANCEL: finish it instead."""
    rental = rental_or_404(request, rental_id)
    require(request, Permission.END)
    outcome = services.rental_cancel(rental=rental, now=timezone.now(), requested_by=request.user, web=True)
    return _answer(request, outcome)


_STATUS = {State.SUCCEEDED: 200, State.FAILED: 422, State.UNKNOWN: 502, State.PENDING: 409}


def _answer(request: HttpRequest, outcome: Outcome, response: HttpResponse | None = None) -> Status:
    status = _STATUS[outcome.state]
    if status == 200 and outcome.operation == Operation.RENT:
        status = 201
    pending = outcome.state is State.PENDING
    if pending and response is not None:
        response["Retry-After"] = str(PENDING_RETRY_AFTER)
    rental = outcome.rental
    if rental is not None:
        rental.refresh_from_db()
    body = {
        "ok": outcome.ok, "state": str(outcome.state), "token": str(outcome.token),
        "error": None if outcome.ok else str(outcome.token),
        "message": explain(Token.PENDING) if pending else describe(outcome),
        "replayed": outcome.repeated, "facts": dict(outcome.facts),
        "rental": rental_data(rental, reads_sms=reads_sms(request)) if rental else None,
        "attempt": outcome.attempt.pk if outcome.attempt else None,
        "extension": outcome.extension.pk if outcome.extension else None,
    }  # fmt: skip
    return Status(status, body)
