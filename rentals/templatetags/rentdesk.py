from typing import Any

from django import template
from django.conf import settings
from django.utils import timezone

from .. import reasons, selectors
from ..health import system_health
from ..permissions import Permission
from ..wording import formats, pages

register = template.Library()


@register.inclusion_tag("rentals/admin/dashboard.html", takes_context=True)
def rentdesk_dashboard(context: dict[str, Any]) -> dict[str, Any]:
    """The block at the top of the admin index: whether Rentdesk can work, and what needs attention now."""
    user, now = context["request"].user, timezone.now()
    # The same report as /healthz, which anyone may read: every staff member sees it.
    health = pages.health_lines(system_health())
    if telegram := pages.telegram_line(selectors.telegram_reading(), now=now):
        health.append(telegram)
    if not (user.has_perm(Permission.VIEW_RENTAL) or user.has_perm(Permission.VIEW_ACCOUNT)):
        return {"dashboard": None, "health": health}
    locked_out = selectors.logins_locked_out(now=now) if user.has_perm(Permission.VIEW_LOCKOUTS) else None
    return {
        "dashboard": selectors.dashboard(now=now),
        "now": now,
        "health": health,
        "can_rent": user.has_perm(Permission.RENT),
        "locked_out": locked_out,
    }


@register.simple_tag
def telegram_bot_on() -> bool:
    """Whether the team has a Telegram bot: "Connect Telegram" is offered only then."""
    return bool(settings.TELEGRAM_BOT_TOKEN)


@register.filter
def reason_words(stored: str | None) -> str:
    """A history reason, kept as a code and its facts, in the reader's language."""
    return reasons.reason_words(stored)


@register.filter
def what_happened(token: str) -> str:
    """An outcome's sentence, SMS.online's token muted after it."""
    return pages.token_html(token)


@register.filter
def person(user: object) -> str:
    """A colleague by full name, else username."""
    return formats.person(user)


@register.simple_tag
def rentdesk_version() -> str:
    """This release's version (pyproject.toml), for the admin's footer: what to quote when reporting."""
    return settings.RENTDESK_VERSION
