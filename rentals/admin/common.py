"""Pieces the admin modules share."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext

from ..forms import MoneyField
from ..models import ANY_OPERATOR, AttemptState
from ..permissions import Permission
from ..wording.formats import money
from ..wording.pages import token_html
from ..wording.tokens import what_happened

# Every amount a form edits is USD (thresholds, budgets, auto-renew's ceiling): written with its cents in
# the reader's language, typed with their decimal separator (``formfield_overrides``).
MONEY_FORM_FIELDS: dict[type, dict[str, Any]] = {models.DecimalField: {"form_class": MoneyField}}


def row_id(text: str) -> int | None:
    """An id from a URL or a query string, or None: ASCII digits only (``str.isdigit`` also takes "²",
    which ``int`` refuses) and few enough for a 64-bit column (SQLite overflows on more)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def can_rent(request: HttpRequest) -> bool:
    return request.user.has_perm(Permission.RENT)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def needs_permission(permission: str, action: Callable[..., Any]) -> Callable[..., Any]:
    """A library's admin action, offered and run only for users with ``permission`` ("change",
    "delete"...) on its model, as Django's ``@admin.action(permissions=...)`` would make it."""

    @functools.wraps(action)  # keeps its description
    def guarded(*args: Any, **kwargs: Any) -> Any:
        return action(*args, **kwargs)

    guarded.allowed_permissions = (permission,)  # type: ignore[attr-defined]
    return guarded


class OfferedFiltersOnlyMixin:
    """A list filters on the columns its filters offer (and on related rows, which Django checks
    itself), not on any column of its model. Django takes ``?webhook_token__startswith=a`` on any
    column by default, which would read out, a character at a time and through the export as well,
    what a page never shows its reader: webhook tokens, chat URLs, SMS codes, key ciphertexts.
    (Django's exemption for a raw-id popup's ``limit_choices_to`` is not kept: none points at these
    models; one that does would need its column among the target's filters.)"""

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        name = lookup.split(LOOKUP_SEP, 1)[0]
        try:
            field = self.model._meta.get_field(name)
        except FieldDoesNotExist:  # a filter's own parameter (?expiring=24h), or nothing Django reads
            field = None
        if field is not None and not field.is_relation and name not in self._offered_filters(request):
            return False
        return super().lookup_allowed(lookup, value, request)

    def _offered_filters(self, request: HttpRequest | None) -> set[str]:
        offered = {self.date_hierarchy} if self.date_hierarchy else set()
        for item in self.get_list_filter(request) if request is not None else self.list_filter:
            if isinstance(item, str):
                offered.add(item.split(LOOKUP_SEP, 1)[0])
            elif isinstance(item, (list, tuple)):
                offered.add(item[0].split(LOOKUP_SEP, 1)[0])
        return offered


class RecordAdmin(OfferedFiltersOnlyMixin, admin.ModelAdmin):
    """A record of what happened: listed and read here, never added, changed or deleted."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class CompactColumnsMixin:
    """A list that fits a 1400-pixel screen: ``compact_list_display`` by default, every column of
    ``list_display`` one click away ("All columns"), remembered for the user's session."""

    compact_list_display: list[str] = []
    change_list_template = "admin/rentals/compact_change_list.html"

    def columns_urls(self) -> list[Any]:
        name = f"{self.model._meta.app_label}_{self.model._meta.model_name}_columns"
        return [path("columns/", self.admin_site.admin_view(self.columns_view), name=name)]

    def _columns_key(self) -> str:
        return f"rentdesk-all-columns:{self.model._meta.label_lower}"

    def showing_all_columns(self, request: HttpRequest) -> bool:
        return bool(request.session.get(self._columns_key()))

    def get_list_display(self, request: HttpRequest) -> list[str]:
        full = list(super().get_list_display(request))
        if self.showing_all_columns(request):
            return full
        return [name for name in full if name in self.compact_list_display]

    def columns_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            request.session[self._columns_key()] = request.POST.get("show") == "all"
        target = request.POST.get("next", "")
        if not (target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})):
            target = reverse(f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}_changelist")
        return HttpResponseRedirect(target)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = {**(extra_context or {}), "all_columns": self.showing_all_columns(request)}
        return super().changelist_view(request, context)


def money_column(name: str, description: Any) -> Callable[[Any, Any], str]:
    """A list column or a page field showing the amount in ``name`` as its currency writes it."""

    @admin.display(description=description, ordering=name)
    def column(model_admin: Any, obj: Any) -> str:
        amount = getattr(obj, name)
        return "-" if amount is None else money(amount)

    return column


def operator_words(code: str) -> str:
    """A rent's operator: SMS.online's code, or "any operator" in the reader's language."""
    return gettext("Any operator") if code == ANY_OPERATOR else code


def attempt_what_happened(attempt: Any) -> str:
    """A rent attempt's or an extension's outcome in its list: a succeeded one (reconciled ones too) says
    nothing more than its state, whatever token its first answer left; the token stays on its page."""
    return "" if attempt.state == AttemptState.SUCCEEDED else token_html(attempt.error_token)


class OutcomeFilter(admin.AllValuesFieldListFilter):
    """A filter on SMS.online's tokens whose choices read as what happened, the token after it."""

    def choices(self, changelist: Any) -> Any:
        tokens = {str(value) for value in self.lookup_choices if value}
        for choice in super().choices(changelist):
            if choice["display"] in tokens:
                choice = {**choice, "display": str(what_happened(choice["display"], brief=True))}
            elif choice["display"] in ("", None, self.empty_value_display):
                # No token: nothing went wrong, or the row was written before tokens were recorded.
                choice = {**choice, "display": gettext("None (no error, or recorded before tokens were kept)")}
            yield choice
