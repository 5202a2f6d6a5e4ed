"""Deployment checks of Rentdesk's own, run by `check --deploy` (`make check-deploy` fails on them)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def proxy_addresses_believed(**kwargs: Any) -> list[Warning]:
    """The proxy is trusted for both the scheme and the client's address, or for neither. Trusted for the
    scheme alone, every failed login counts as the proxy's (an environment file written before
    DJANGO_TRUST_X_FORWARDED_FOR existed is like that); for the address alone, as the client wrote it."""
    behind_proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None) is not None
    if behind_proxy and not settings.RENTDESK_TRUST_X_FORWARDED_FOR:
        return [
            Warning(
                "DJANGO_TRUST_X_FORWARDED_PROTO is true but DJANGO_TRUST_X_FORWARDED_FOR is not: failed logins "
                "are counted by the proxy's address, so a few wrong passwords from anyone lock that username "
                "out for everybody.",
                hint="Set DJANGO_TRUST_X_FORWARDED_FOR=true when the proxy appends the address it saw to "
                "X-Forwarded-For, as deploy/nginx/rentdesk.conf does (docs/deploy.md).",
                id="rentals.W001",
            )
        ]
    if settings.RENTDESK_TRUST_X_FORWARDED_FOR and not behind_proxy:
        # With no proxy in front, the header is whatever the client wrote: a new address per guess.
        return [
            Warning(
                "DJANGO_TRUST_X_FORWARDED_FOR is true but DJANGO_TRUST_X_FORWARDED_PROTO is not: with no proxy "
                "in front, anyone can write X-Forwarded-For, and a new address per wrong password escapes the "
                "login lockout.",
                hint="Believe both only behind a proxy that is the only way in (docs/deploy.md).",
                id="rentals.W002",
            )
        ]
    return []
