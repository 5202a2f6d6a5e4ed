"""Sign-in: the login form that asks for a two-factor code, and django-axes' lockout records.

Access attempts lists the usernames locked out after repeated failed logins; deleting an attempt
lifts its lockout.
"""

from __future__ import annotations

import functools

from axes import admin as axes_admin
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from ..two_factor import StaffLoginForm
from .common import OfferedFiltersOnlyMixin, needs_permission

admin.site.login_form = StaffLoginForm
admin.site.login_template = "admin/rentdesk_login.html"

Library = axes_admin.AccessAttemptAdmin


def _cleanup_expired_attempts(model_admin: Library, request: HttpRequest, queryset: QuerySet) -> None:
    # The library's handler reads the attempt time django-axes sets only on login requests.
    AxesProxyHandler.update_request(request)
    return Library.cleanup_expired_attempts(model_admin, request, queryset)


class AccessAttemptAdmin(OfferedFiltersOnlyMixin, Library):
    # It deletes attempt records: the right to view them is not enough.
    cleanup_expired_attempts = needs_permission(
        "delete", functools.wraps(Library.cleanup_expired_attempts)(_cleanup_expired_attempts)
    )


admin.site.unregister(AccessAttempt)
admin.site.register(AccessAttempt, AccessAttemptAdmin)
