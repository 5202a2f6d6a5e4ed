"""Deployment checks of Rentdesk's own, run by `check --deploy` (`make check-deploy` fails on them)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def proxy_addresses_believed(**kwargs: Any) -> list[Warning]:
    """A server whose proxy is trusted for the scheme but not for the address counts every failed login
    as the proxy's: five wrong passwords from anywhere then lock a username out for everyone. An
    environment file written before DJANGO_TRUST_X_FORWARDED_FOR existed lacks it."""
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
    return []
