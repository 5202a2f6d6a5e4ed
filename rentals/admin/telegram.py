""" "Connect Telegram": a person's page for linking their Telegram chat to the team's bot.

Reached from the links at the top of every admin page, as two-factor sign-in is. Each visit while not
linked makes a fresh one-time code (the earlier one stops working) and shows the deep link and its QR
code: scanned with a phone, Telegram opens the bot with ``/start <code>`` ready to send.
"""

from __future__ import annotations

import segno
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .. import services
from ..telegram.client import TelegramError, bot_enabled, telegram_client


@staff_member_required
def telegram_connect_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        _act(request, request.POST.get("action", ""))
        return HttpResponseRedirect(reverse("telegram_connect"))
    link = services.telegram_link_of(user=request.user) if bot_enabled() else None
    context = {"title": _("Connect Telegram"), "enabled": bot_enabled(), "link": link, "deep_link": "", "problem": "",
               "codes_on": services.telegram_codes_on(user=request.user)}  # fmt: skip
    if bot_enabled() and link is None:
        context["refused_at"] = services.telegram_refused_at(user=request.user)
        context.update(_deep_link(request))
    return TemplateResponse(request, "admin/telegram_connect.html", {**admin.site.each_context(request), **context})


def _act(request: HttpRequest, action: str) -> None:
    if action == "disconnect" and services.telegram_unlink(user=request.user):
        messages.success(request, _("Telegram disconnected: no more codes go to that chat."))
    elif action in ("codes-on", "codes-off"):
        services.telegram_codes_set(user=request.user, on=action == "codes-on")
        messages.success(request, _("Saved."))


def _deep_link(request: HttpRequest) -> dict[str, str]:
    try:
        bot = services.telegram_bot_name(client=telegram_client())
    except TelegramError:
        # What went wrong is in the server log; the page says only what the person can do.
        return {"problem": _("Telegram cannot be reached right now. Reload this page in a minute.")}
    code = services.telegram_link_code_create(
        user=request.user, language=translation.get_language() or "en", now=timezone.now()
    )
    deep_link = f"https://t.me/{bot}?start={code}"
    # On white, quiet zone and all: segno's default is see-through, and the dark theme's near-black
    # page behind black modules leaves a phone nothing to scan.
    qr_svg = segno.make(deep_link).svg_inline(scale=5, light="#fff")
    return {"deep_link": deep_link, "bot": bot, "qr_svg": qr_svg}
