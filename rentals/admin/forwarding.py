"""Forwarded SMS in the admin: each person's chosen chat, and how each SMS's forwarding went."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..chat import masked, parse_chat_urls
from ..models import ForwardingPreference, ForwardState, SmsForward
from ..permissions import Permission
from ..telegram.client import bot_enabled
from .personal import OwnRowsAdmin


def forwarding_summary(forward: SmsForward | None) -> str:
    """Where an SMS was forwarded and when, or why not, in a line."""
    if forward is None or forward.state == ForwardState.NOT_FORWARDED:
        return gettext("not forwarded (no chat chosen)")
    if forward.state == ForwardState.SENT:
        when = timezone.localtime(forward.sent_at).strftime("%H:%M:%S")
        return gettext("to %(where)s at %(when)s") % {"where": forward.destinations.replace("\n", ", "), "when": when}
    if forward.state == ForwardState.PENDING and not forward.last_error:
        return gettext("pending")
    what = forward.get_state_display() if forward.state != ForwardState.PENDING else gettext("retrying")
    return gettext("%(what)s after %(attempts)s attempt(s): %(error)s") % {
        "what": what, "attempts": forward.attempts, "error": forward.last_error,
    }  # fmt: skip


@admin.register(ForwardingPreference)
class ForwardingPreferenceAdmin(OwnRowsAdmin):
    """Where the SMS of the rentals assigned to me go, instead of the team's chat."""

    needs_permission = Permission.READ_SMS  # nobody receives SMS text who may not read it
    list_display = ["user", "destinations"]
    fields = ["sms_chat_urls", "desktop_notifications", "telegram_codes"]

    def get_fields(self, request: HttpRequest, obj: ForwardingPreference | None = None) -> list[str]:
        fields = list(super().get_fields(request, obj))
        return fields if bot_enabled() else [name for name in fields if name != "telegram_codes"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return (
            super().has_add_permission(request) and not ForwardingPreference.objects.filter(user=request.user).exists()
        )

    @admin.display(description=_("forward SMS to"))
    def destinations(self, obj: ForwardingPreference) -> str:
        urls = parse_chat_urls(obj.sms_chat_urls)
        if urls is None:
            return _("the team's chat")
        return ", ".join(masked(url) for url in urls) or _("nowhere")
