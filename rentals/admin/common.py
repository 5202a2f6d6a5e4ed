"""Pieces the admin modules share."""

from __future__ import annotations

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
