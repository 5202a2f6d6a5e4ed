"""The address a request came from, as the proxy in front of Rentdesk saw it.

Behind nginx every request reaches gunicorn from the proxy's own address, so django-axes would count
every person's failed logins as one address's, and five wrong passwords from anyone would lock the
username out for everybody. The shipped nginx site appends the address it saw to X-Forwarded-For
($proxy_add_x_forwarded_for); entries before that one are whatever the client sent, and prove nothing.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str | None:
    """REMOTE_ADDR; behind a trusted proxy (DJANGO_TRUST_X_FORWARDED_FOR), the address that proxy
    appended last to X-Forwarded-For. A header that ends in anything but an address is not believed."""
    remote = request.META.get("REMOTE_ADDR")
    if not settings.RENTDESK_TRUST_X_FORWARDED_FOR:
        return remote
    appended_by_proxy = request.META.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", 1)[-1].strip()
    try:
        return str(ipaddress.ip_address(appended_by_proxy))
    except ValueError:
        return remote
