"""Times in each user's own timezone (the browser names it in a cookie set by admin/base_site.html),
input no database column can hold answered as a bad request rather than a server error, and a
request in a charset that is not text refused before anything reads it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse, QueryDict
from django.utils import timezone
from django.utils.http import parse_header_parameters
from django.utils.translation import gettext as _

from .charsets import is_refused_charset, refuses_charset

logger = logging.getLogger(__name__)

TIMEZONE_COOKIE = "rentdesk_tz"


class UserTimezoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = browser_timezone(request.COOKIES.get(TIMEZONE_COOKIE, ""))
        if zone is None:
            timezone.deactivate()  # the server's TIME_ZONE
        else:
            timezone.activate(zone)
        return self.get_response(request)


def browser_timezone(name: str) -> ZoneInfo | None:
    """The IANA zone the browser named, or None for anything else (the cookie is the user's to change)."""
    if not name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


class TextCharsetsOnlyMiddleware:
    """``charset=rot13`` (or zlib, base64, idna...) names a codec Python has, so Django took it as the
    request's encoding and failed with a server error when the query string, a form or the webhook's
    body was decoded in it. Such a request is answered 415 before anything reads it; it sits before
    every middleware that reads a form (CSRF, django-axes) and after LocaleMiddleware, so the answer
    is in the reader's language."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if declares_unreadable_charset(request.META.get("CONTENT_TYPE", "")):
            return _unreadable_charset(request)
        return self.get_response(request)


def declares_unreadable_charset(content_type: str) -> bool:
    """Read as a plain split does and as Django does (which decodes charset*=utf-8''rot13)."""
    _, params = parse_header_parameters(content_type)
    return refuses_charset(content_type) or is_refused_charset(params.get("charset", ""))


class TextCharsetsRequest:
    """Mixed into Django's request classes (config/wsgi.py, config/asgi.py): Django's own constructor
    set a declared charset as the encoding and decoded the query string in it at once, a server error
    before any middleware ran. Built as if no charset were declared; the middleware then refuses it."""

    def _set_content_type_params(self, meta: dict[str, Any]) -> None:
        content_type = meta.get("CONTENT_TYPE", "")
        if declares_unreadable_charset(content_type):
            meta = {"CONTENT_TYPE": content_type.split(";", 1)[0]}
        super()._set_content_type_params(meta)  # type: ignore[misc]


def _unreadable_charset(request: HttpRequest) -> HttpResponse:
    sentence = _("This request declares a charset that is not text. Send it in UTF-8.")
    if request.path.startswith(("/api/", "/hooks/")):
        return JsonResponse({"detail": sentence}, status=415)
    return HttpResponse(sentence, status=415, content_type="text/plain; charset=utf-8")


class UnstorableInputMiddleware:
    """A NUL character in a filter, a search, an id or a form field, or a number past what a column or a
    date holds, made a query fail as a server error (PostgreSQL refuses NUL in text; SQLite and Python's
    dates overflow). No field Rentdesk takes can hold either, so such a request is answered 400.

    Form bodies are checked only where CSRF protection reads them anyway: a view exempt from it (the
    SMS webhook, the API) reads its own body, and the webhook keeps whatever bytes it is sent.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Any, args: Any, kwargs: Any) -> HttpResponse | None:
        forms = [request.GET]
        if request.method == "POST" and not getattr(view_func, "csrf_exempt", False):
            forms.append(request.POST)
        if any(_holds_nul(form) for form in forms) or "\x00" in request.path:
            return _bad_request(_("A NUL character is not accepted here."))
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OverflowError):  # e.g. Django's date drill-down asked for the day after 9999-12-31
            logger.warning("%s %s: a number out of range", request.method, request.path, exc_info=exception)
            return _bad_request(_("A number in this request is out of range."))
        return None


class AdminListInputMiddleware:
    """A list's address naming a parameter it does not know (?foo=1), and an action on ids that are
    not ids (_selected_action=abc, index=x), made server errors: in an export, and in every action,
    Django's own included. Django redirected a list to "?e=1", a page saying the database is broken.
    Each is a 400 with a sentence, for every list in the admin (third parties' too)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if _admin_list_refused(request, response):
            return _bad_request(_("This list does not know a parameter in its address."))
        return response

    def process_view(self, request: HttpRequest, view_func: Any, args: Any, kwargs: Any) -> HttpResponse | None:
        model_admin = _changelist_admin(request)
        if request.method != "POST" or model_admin is None or "action" not in request.POST:
            return None
        if not admin.site.has_permission(request):  # signed out: the admin sends them to its login page
            return None
        chosen = request.POST.getlist(ACTION_CHECKBOX_NAME)
        index = request.POST.get("index", "0")
        if not (index.isascii() and index.isdigit()) or not all(_is_id(model_admin.model, pk) for pk in chosen):
            return _bad_request(_("An item chosen for this action is not one of this list's."))
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, IncorrectLookupParameters):  # an export builds the list Django's way, uncaught
            return _bad_request(_("This list does not know a parameter in its address."))
        return None


def _changelist_admin(request: HttpRequest) -> Any:
    """The ModelAdmin whose list this request is for, or None."""
    match = request.resolver_match
    if match is None or match.namespace != "admin" or not (match.url_name or "").endswith("_changelist"):
        return None
    for model, model_admin in admin.site._registry.items():
        if match.url_name == f"{model._meta.app_label}_{model._meta.model_name}_changelist":
            return model_admin
    return None


def _is_id(model: type[Model], value: str) -> bool:
    field = model._meta.pk
    try:
        field.run_validators(field.to_python(value))
    except ValidationError:
        return False
    return True


def _admin_list_refused(request: HttpRequest, response: HttpResponse) -> bool:
    """Django's own answer to unknown list parameters: a redirect to "?e=1", and with it the page
    "admin/invalid_setup.html"."""
    if getattr(response, "template_name", None) == "admin/invalid_setup.html":
        return True
    redirect = response.get("Location", "") if response.status_code == 302 else ""
    return redirect == f"{request.path}?{ERROR_FLAG}=1" and _changelist_admin(request) is not None


def _bad_request(sentence: str) -> HttpResponse:
    return HttpResponseBadRequest(sentence, content_type="text/plain; charset=utf-8")


def _holds_nul(form: QueryDict) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in form.lists())
