from typing import Any

from django import template
from django.utils import timezone

from .. import selectors

register = template.Library()


@register.inclusion_tag("rentals/admin/dashboard.html", takes_context=True)
def rentdesk_dashboard(context: dict[str, Any]) -> dict[str, Any]:
    """The block at the top of the admin index: what needs attention now."""
    user, now = context["request"].user, timezone.now()
    if not (user.has_perm("rentals.view_rental") or user.has_perm("rentals.view_provideraccount")):
        return {"dashboard": None}
    locked_out = selectors.logins_locked_out(now=now) if user.has_perm("axes.view_accessattempt") else None
    return {"dashboard": selectors.dashboard(now=now), "now": now, "locked_out": locked_out}
