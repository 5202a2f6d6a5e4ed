from typing import Any

from django import template
from django.conf import settings
from django.utils import timezone

from .. import explanations, selectors
from ..health import system_health

register = template.Library()


@register.inclusion_tag("rentals/admin/dashboard.html", takes_context=True)
def rentdesk_dashboard(context: dict[str, Any]) -> dict[str, Any]:
    """The block at the top of the admin index: whether Rentdesk can work, and what needs attention now."""
    user, now = context["request"].user, timezone.now()
    # The same report as /healthz, which anyone may read: every staff member sees it.
    health = explanations.health_lines(system_health())
    if not (user.has_perm("rentals.view_rental") or user.has_perm("rentals.view_provideraccount")):
        return {"dashboard": None, "health": health}
    locked_out = selectors.logins_locked_out(now=now) if user.has_perm("axes.view_accessattempt") else None
    return {
        "dashboard": selectors.dashboard(now=now),
        "now": now,
        "health": health,
        "can_rent": user.has_perm("rentals.rent_number"),
        "locked_out": locked_out,
    }


@register.filter
def person(user: object) -> str:
    """A colleague by full name, else username."""
    from ..admin.inventory import person as person_name

    return person_name(user)


@register.simple_tag
def rentdesk_version() -> str:
    """This release's version (pyproject.toml), for the admin's footer: what to quote when reporting."""
    return settings.RENTDESK_VERSION
