"""Pieces the admin modules share."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.http import HttpRequest

RENT_PERMISSION = "rentals.rent_number"


def can_rent(request: HttpRequest) -> bool:
    return request.user.has_perm(RENT_PERMISSION)


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
