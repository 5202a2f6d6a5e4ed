"""What the bot writes, in HTML (Telegram's parse mode): our markup only, everything else escaped.

An SMS, a label or a sender is text someone else wrote: ``html.escape`` turns its ``<`` and ``&`` into
entities, so it can neither add markup nor break ours (Telegram refuses a message with a stray ``<``).
The code sits alone in ``<code>…</code>``: a tap on it copies it. Each function writes in the active
language: callers choose it (``translation.override``) from the person the message is for.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from html import escape
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from ..chat import one_line, quoted
from ..models import Rental, SmsMessage
from ..outcomes import Outcome
from ..phone_numbers import spaced_number
from .formats import format_time_left, local_time, money
from .pages import outcome_line

MAX_LISTED = 20


def _said(template: str, **values: object) -> str:
    """A sentence of ours (no markup in it) with others' text put in, escaped."""
    return escape(template % {name: str(value) for name, value in values.items()}, quote=False)


def _who(rental: Rental) -> str:
    number, label = spaced_number(rental.number), one_line(rental.label, limit=100)
    return _("%(number)s (%(label)s)") % {"number": number, "label": label} if label else number


def _link(rental: Rental) -> str:
    url = settings.PUBLIC_BASE_URL + reverse("admin:rentals_rental_change", args=[rental.pk])
    words = _("Open in Rentdesk")
    return f'<a href="{escape(url)}">{escape(words)}</a>'


def sms_pushed(message: SmsMessage, *, may_read: bool) -> str:
    """A new SMS of one of the person's rentals: the code set apart, the text quoted; only "an SMS came"
    for a person who may not read SMS."""
    rental = message.rental
    if not may_read:
        return "\n".join([_said(_("An SMS came to %(who)s."), who=_who(rental)), _link(rental)])
    lines = [f"<b>{escape(_who(rental))}</b>"]
    if code := one_line(message.code, limit=32):
        label = _("Code:")
        lines.append(f"{escape(label)} <code>{escape(code)}</code>")
    lines += [
        _said(_("From: %(sender)s"), sender=one_line(message.sender, limit=64)),
        _said(_("Text: %(text)s"), text=quoted(message.text)),
        _link(rental),
    ]
    return "\n".join(lines)


def numbers(rentals: Iterable[Rental], *, now: datetime, may_read: bool) -> str:
    """The person's active rentals with the time left, and their last code for one who may read SMS."""
    listed = list(rentals)[: MAX_LISTED + 1]
    if not listed:
        return escape(_("You have no active numbers (assigned to you or rented by you)."))
    heading = _("Your active numbers")
    lines = [f"<b>{escape(heading)}</b>"]
    for rental in listed[:MAX_LISTED]:
        left = _said(_("%(who)s: %(left)s left"), who=_who(rental), left=format_time_left(rental.end_date - now))
        code = rental.last_sms_code if may_read else ""
        lines.append(left + (f" · <code>{escape(code)}</code>" if code else ""))
    if len(listed) > MAX_LISTED:
        lines.append(escape(_("…and more: see Rentdesk.")))
    return "\n".join(lines)


def newest_sms(rental: Rental, message: SmsMessage | None, *, may_read: bool) -> str:
    if message is None:
        return _said(_("No SMS has come to %(who)s yet."), who=_who(rental))
    at = local_time(message.received_at)
    if not may_read:
        return _said(_("The newest SMS came to %(who)s at %(time)s."), who=_who(rental), time=at)
    return sms_pushed(message, may_read=True) + "\n" + _said(_("Received: %(time)s"), time=at)


def which_rental(rentals: Iterable[Rental]) -> str:
    lines = [escape(_("More than one number matches; write more of it:"))]
    lines += [escape(_who(rental)) for rental in list(rentals)[:MAX_LISTED]]
    return "\n".join(lines)


def no_such_rental(query: str) -> str:
    return _said(_("No number you may see matches “%(query)s”."), query=one_line(query, limit=40))


def code_usage() -> str:
    return escape(_("Write the number or its label after /code, e.g. /code 380501234567."))


def help_text() -> str:
    return "\n".join([
        "<b>" + escape(_("Rentdesk bot")) + "</b>",
        escape(_("Codes of the numbers assigned to you or rented by you come here by themselves.")),
        "/numbers — " + escape(_("your active numbers and the time left")),
        "/code " + escape(_("<number or label>")) + " — " + escape(_("the newest SMS and its code")),
        *(["/rent " + escape(_("<service> <country> [hours] [what for]")) + " — " + escape(_("rent a number"))]
          if settings.RENTDESK_TELEGRAM_RENT else []),
        "/stop — " + escape(_("disconnect this chat from Rentdesk")),
        "/help — " + escape(_("this list")),
    ])  # fmt: skip


def not_linked() -> str:
    return escape(_("This chat is not connected to Rentdesk. Open Rentdesk, choose “Connect Telegram” "
                    "at the top of any page and scan the code there."))  # fmt: skip


def linked(name: str) -> str:
    return _said(_("Connected: this chat now gets the codes of %(name)s's numbers. /help lists what I can do."),
                 name=one_line(name, limit=64))  # fmt: skip


def code_refused() -> str:
    return escape(_("That link has expired or was used already. Open “Connect Telegram” in Rentdesk again "
                    "for a new one (each works once, for 10 minutes)."))  # fmt: skip


def unlinked() -> str:
    return escape(_("Disconnected: no more codes come to this chat."))


def not_allowed() -> str:
    return escape(_("Your Rentdesk account cannot use the bot (it is not active staff)."))


def unknown_command() -> str:
    return escape(_("I do not know that command.")) + "\n" + help_text()


# --- renting from the bot ---------------------------------------------------------------------------


def rent_off() -> str:
    return escape(_("Renting from the bot is off for this team: rent in Rentdesk."))


def rent_not_allowed() -> str:
    return escape(_("Your role may not rent numbers."))


def rent_needs_two_factor() -> str:
    return escape(_("Renting needs two-factor sign-in: set up your authenticator app in Rentdesk first."))


def rent_usage() -> str:
    return escape(_("Write /rent <service code> <country id> [hours] [what it is for], e.g. /rent tg 1 24 Shop login."))


def rent_refused(problems: list[str]) -> str:
    return _said(_("Not rented: %(problems)s"), problems=" ".join(problems))


def rent_offer(chosen: dict[str, Any], *, price: Decimal | None, offer_id: int, with_code: bool) -> str:
    what = _said(
        _("Rent a %(service)s number in %(country)s for %(hours)s h with account %(account)s?"),
        service=chosen["service"].name, country=chosen["country"].name, hours=chosen["hours"],
        account=chosen["account"].name,
    )  # fmt: skip
    lines = [f"<b>{what}</b>"]
    if chosen["label"]:
        lines.append(_said(_("Used for: %(label)s"), label=one_line(chosen["label"], limit=200)))
    lines.append(_said(_("Price: %(price)s USD"), price=money(price)) if price is not None else escape(
        _("Price: not known yet (the catalog has none)")))  # fmt: skip
    if with_code:
        lines.append(_said(_("To rent, send /confirm %(offer)s and the 6-digit code from your authenticator app "
                             "(within 5 minutes)."), offer=offer_id))  # fmt: skip
    return "\n".join(lines)


def rent_button() -> str:
    return _("Rent (spends money)")


def cancel_button() -> str:
    return _("Cancel")


def rent_gone() -> str:
    return escape(_("That rent has expired or was answered already: send /rent again."))


def rent_withdrawn() -> str:
    return escape(_("Not rented."))


def rent_code_wrong() -> str:
    return escape(_("That code is not right: nothing was rented. Send /rent again."))


def rent_outcome(outcome: Outcome) -> str:
    text = escape(outcome_line(outcome))
    return "\n".join([text, _link(outcome.rental)]) if outcome.ok and outcome.rental else text
