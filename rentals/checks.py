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


# A webhook and a page each need a thread however many requests wait for an SMS or sit at SMS.online.
THREADS_KEPT_FREE = 2


@register(deploy=True)
def threads_left_for_webhooks(**kwargs: Any) -> list[Warning]:
    """SMS.online sends each webhook once: one that finds every gunicorn thread taken waits in the
    backlog, and past SMS.online's 10 s it is lost to polling."""
    held = settings.RENTDESK_API_WAIT_SLOTS + settings.RENTDESK_WEB_PROVIDER_CALLS
    if held <= settings.RENTDESK_WEB_THREADS - THREADS_KEPT_FREE:
        return []
    return [
        Warning(
            f"RENTDESK_API_WAIT_SLOTS + RENTDESK_WEB_PROVIDER_CALLS ({held}) leave fewer than {THREADS_KEPT_FREE} "
            f"of WEB_THREADS ({settings.RENTDESK_WEB_THREADS}) for webhooks and pages.",
            hint="Raise WEB_THREADS or lower the other two (docs/configuration.md, Settings).",
            id="rentals.W003",
        )
    ]


# /metrics names every account and what it spent: its token should be as hard to guess as a password.
METRICS_TOKEN_LEAST = 32


@register(Tags.security, deploy=True)
def metrics_token_strength(**kwargs: Any) -> list[Warning]:
    token = settings.RENTDESK_METRICS_TOKEN
    if not token or len(token) >= METRICS_TOKEN_LEAST:
        return []
    return [
        Warning(
            f"RENTDESK_METRICS_TOKEN is {len(token)} characters long: anyone who guesses it reads every "
            "account's spend and balance at /metrics.",
            hint=f"Use at least {METRICS_TOKEN_LEAST} random characters, e.g. `python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'` (docs/deploy.md, Monitoring).",
            id="rentals.W004",
        )
    ]


# Names kept for examples and tests (RFC 2606, RFC 6761): no mail to them ever arrives.
EXAMPLE_DOMAINS = ("example", "example.com", "example.net", "example.org", "invalid", "test")


def is_example_domain(host: str) -> bool:
    host = host.strip().rstrip(".").lower()
    return any(host == domain or host.endswith("." + domain) for domain in EXAMPLE_DOMAINS)


@register(deploy=True)
def mail_still_the_example(**kwargs: Any) -> list[Warning]:
    """The environment file's mail lines are the example's until someone fills them in, and then reminders,
    budget alerts and the lost-rent alarm go nowhere, with nothing on screen to say so."""
    addresses = {
        "EMAIL_URL's host": settings.EMAIL_HOST,
        "DEFAULT_FROM_EMAIL": settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].rstrip(">"),
        "RENTDESK_TEAM_EMAIL": settings.RENTDESK_TEAM_EMAIL.rpartition("@")[2],
    }
    left = [name for name, host in addresses.items() if host and is_example_domain(host)]
    if not left:
        return []
    return [
        Warning(
            f"{', '.join(left)} still name an example domain: reminders, budget alerts and the alarm for a rent "
            "of unknown outcome would never arrive.",
            hint="Fill in your mail server and addresses in the environment file (docs/deploy.md, section 3).",
            id="rentals.W005",
        )
    ]
