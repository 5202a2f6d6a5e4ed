"""Every answer that is not a success: JSON with the token, a sentence, and what else helps a script.

``{"error": "NOT_FOUND", "message": "...", ...}``, never an HTML page, never a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from ..outcomes import Token
from ..services.turns import ProviderBusy
from ..wording.pages import provider_busy
from ..wording.tokens import explain

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """Answer ``status`` with ``token``, its explanation, and ``extra`` fields."""

    def __init__(self, status: int, token: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(token)
        self.status, self.token, self.extra, self.headers = status, token, extra, headers or {}

    @classmethod
    def from_form(cls, form: forms.Form) -> ApiError:
        """The form's problems, field by field (``__all__`` for the request as a whole)."""
        return cls(400, Token.BAD_ARGUMENTS, fields={name: list(errors) for name, errors in form.errors.items()})


_HTTP_TOKENS = {401: Token.NOT_AUTHENTICATED, 403: Token.PERMISSION_DENIED, 404: Token.NOT_FOUND}


def error_body(token: str, **extra: Any) -> dict[str, Any]:
    return {"error": str(token), "message": explain(token), **extra}


def install_error_handlers(api: NinjaAPI) -> None:
    def answer(request: HttpRequest, status: int, token: str, **extra: Any) -> HttpResponse:
        return api.create_response(request, error_body(token, **extra), status=status)

    @api.exception_handler(ApiError)
    def api_error(request: HttpRequest, error: ApiError) -> HttpResponse:
        response = answer(request, error.status, error.token, **error.extra)
        for name, value in error.headers.items():
            response[name] = value
        return response

    @api.exception_handler(ValidationError)
    def invalid(request: HttpRequest, error: ValidationError) -> HttpResponse:
        # pydantic's reading of the JSON body, the path and the query: where, and what is wrong there.
        fields: dict[str, list[str]] = {}
        for problem in error.errors:
            place = list(problem.get("loc", ()))
            # ("body", "payload", "hours"): the body's parameter name means nothing to a script.
            where = ".".join(str(part) for part in place[2 if place[:1] == ["body"] else 1 :]) or "__all__"
            fields.setdefault(where, []).append(str(problem.get("msg", "invalid")))
        return answer(request, 400, Token.BAD_ARGUMENTS, fields=fields)

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
        response = answer(request, 401, Token.NOT_AUTHENTICATED)
        response["WWW-Authenticate"] = "Bearer"
        return response

    @api.exception_handler(Throttled)
    def throttled(request: HttpRequest, error: Throttled) -> HttpResponse:
        return answer(request, 429, Token.TOO_MANY_REQUESTS)  # ninja adds Retry-After

    @api.exception_handler(ProviderBusy)
    def busy(request: HttpRequest, error: ProviderBusy) -> HttpResponse:
        # Answered at once rather than waited out in a thread the webhooks need (services/turns.py).
        message = provider_busy(error.seconds, account_paced=error.account_paced)
        response = answer(request, 429, Token.PROVIDER_BUSY, message=message, retry_after=error.seconds)
        response["Retry-After"] = str(error.seconds)
        return response

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
        token = _HTTP_TOKENS.get(error.status_code, Token.BAD_ARGUMENTS)
        return answer(request, error.status_code, token)

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, error: Http404) -> HttpResponse:
        return answer(request, 404, Token.NOT_FOUND)

    @api.exception_handler(RequestDataTooBig)
    def too_large(request: HttpRequest, error: RequestDataTooBig) -> HttpResponse:
        # Past DATA_UPLOAD_MAX_MEMORY_SIZE (nginx refuses it sooner; gunicorn alone does not).
        return answer(request, 413, Token.BODY_TOO_LARGE)

    @api.exception_handler(Exception)
    def internal(request: HttpRequest, error: Exception) -> HttpResponse:
        logger.exception("API %s %s failed", request.method, request.path)
        return answer(request, 500, Token.INTERNAL_ERROR)
