"""Rows that belong to one person (their chat for forwarded SMS, their API tokens): each staff member
manages their own, whatever the model permissions say; only those ``sees_everyone`` names see others'."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from .common import OfferedFiltersOnlyMixin


class OwnRowsAdmin(OfferedFiltersOnlyMixin, admin.ModelAdmin):
    """Rows with a ``user``: a person works with their own, the ``user`` being them."""

    # A permission a person needs to have rows here at all (None: every active staff member).
    needs_permission: str | None = None

    def sees_everyone(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def may_use(self, request: HttpRequest) -> bool:
        user = request.user
        return (
            user.is_active and user.is_staff and (self.needs_permission is None or user.has_perm(self.needs_permission))
        )

    def _own(self, request: HttpRequest, obj: Model | None) -> bool:
        return self.sees_everyone(request) or (
            self.may_use(request) and (obj is None or obj.user_id == request.user.pk)
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.may_use(request) or self.sees_everyone(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._own(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._own(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.may_use(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._own(request, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        rows = super().get_queryset(request).select_related("user")
        return rows if self.sees_everyone(request) else rows.filter(user=request.user)

    def get_exclude(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        return [*(super().get_exclude(request, obj) or []), "user"]

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        if not change:
            obj.user = request.user  # one's own, always: nobody makes rows in another's name
        super().save_model(request, obj, form, change)
