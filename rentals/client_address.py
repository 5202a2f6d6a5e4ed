"""The address a request came from, as the proxy in front of Rentdesk saw it.

Behind nginx every request reaches gunicorn from the proxy's own address, so django-axes would count
every person's failed logins as one address's, and five wrong passwords from anyone would lock the
username out for everybody. The shipped nginx site appends the address it saw to X-Forwarded-For
($proxy_add_x_forwarded_for); entries before that one are whatever the client sent, and prove nothing.

The header is believed only from a trusted proxy (RENTDESK_TRUSTED_PROXIES): a request straight to
gunicorn with a new X-Forwarded-For each time would otherwise be a new address each time, and no
lockout would ever hold. Through a chain of trusted proxies, the address is the rightmost entry that
is not one of them: the first one a trusted proxy did not write itself.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def client_address(request: HttpRequest) -> str | None:
    """REMOTE_ADDR; from a trusted proxy (DJANGO_TRUST_X_FORWARDED_FOR, RENTDESK_TRUSTED_PROXIES), the
    rightmost address in X-Forwarded-For that no trusted proxy has. An entry that is no address ends
    the walk: whatever lies left of it was written by the client."""
    remote = request.META.get("REMOTE_ADDR") or ""
    if not settings.RENTDESK_TRUST_X_FORWARDED_FOR or not _trusted(remote):
        return remote or None
    seen = remote
    for entry in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _address(entry.strip())
        if address is None:
            break
        seen = str(address)
        if not _trusted(seen):
            return seen
    return seen or None


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(remote: str) -> bool:
    """gunicorn gives a unix socket's peer as an empty REMOTE_ADDR."""
    proxies = _trusted_proxies(tuple(settings.RENTDESK_TRUSTED_PROXIES))
    if not remote:
        return "unix" in proxies
    address = _address(remote)
    return address is not None and any(address in network for network in proxies if network != "unix")


@lru_cache(maxsize=4)
def _trusted_proxies(entries: tuple[str, ...]) -> tuple:
    return tuple(entry if entry == "unix" else ipaddress.ip_network(entry, strict=False) for entry in entries)
