"""Times in each user's own timezone: the browser names it in a cookie (set by admin/base_site.html)."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

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
