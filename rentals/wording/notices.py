"""What Rentdesk tells people by email and in the team's chat channels, worded here, in the team's language.

Services decide when to tell whom; this module says it, and ``rentals.notice_sending`` sends it. Every
notice is written in the team's language (``LANGUAGE_CODE``, set by ``RENTDESK_LANGUAGE``) whoever or
whatever set it off: a worker, or a person whose admin speaks another language. Times are in Rentdesk's
timezone (``DJANGO_TIME_ZONE``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import ParamSpec

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _

from ..chat import one_line, quoted
from ..models import ProviderAccount, Rental, RentalStatus, SmsMessage
from .formats import format_time_left, local_time, money, team_language
from .tokens import what_happened

Arguments = ParamSpec("Arguments")


@dataclass(frozen=True)
class Notice:
    subject: str
    body: str


def in_team_language(build: Callable[Arguments, Notice]) -> Callable[Arguments, Notice]:
    @functools.wraps(build)
    def built(*args: Arguments.args, **kwargs: Arguments.kwargs) -> Notice:
        with team_language():
            return build(*args, **kwargs)

    return built


def _rental_url(rental: Rental) -> str:
    return settings.PUBLIC_BASE_URL + reverse("admin:rentals_rental_change", args=[rental.pk])


def _end(rental: Rental) -> str:
    return local_time(rental.end_date)


def _label(rental: Rental) -> str:
    """The label on one line: whatever a person typed, it cannot start a line of its own in a message."""
    return one_line(rental.label, limit=200)


def _number_and_label(rental: Rental) -> str:
    return _("%(number)s (%(label)s)") % {"number": str(rental), "label": _label(rental) or _("no label")}


@in_team_language
def expiry_reminder(rental: Rental, *, now: datetime) -> Notice:
    time_left = format_time_left(rental.end_date - now)
    context = {"rental": rental, "label": _label(rental), "time_left": time_left, "end": _end(rental),
               "url": _rental_url(rental)}  # fmt: skip
    return Notice(
        subject=_("[Rentdesk] %(number)s ends in %(time_left)s") % {"number": rental, "time_left": time_left},
        body=render_to_string("rentals/email/expiry_reminder.txt", context),
    )


@in_team_language
def ended_early(rental: Rental) -> Notice:
    """SMS.online finished, cancelled or took back the rent before its end date."""
    subjects = {
        RentalStatus.FINISHED: _("[Rentdesk] SMS.online finished %(number)s before its end date"),
        RentalStatus.CANCELLED: _("[Rentdesk] SMS.online cancelled %(number)s before its end date"),
        RentalStatus.REVOKED: _("[Rentdesk] SMS.online took back %(number)s before its end date"),
    }
    subject = subjects.get(rental.status, _("[Rentdesk] SMS.online ended %(number)s before its end date"))
    body = _(
        "SMS.online ended the rent of %(rental)s, which was to last until %(end)s. No more SMS will reach it: "
        "rent another number if it is still needed."
    )
    facts = {"rental": _number_and_label(rental), "end": _end(rental)}
    return Notice(subject % {"number": rental}, f"{body % facts}\n{_rental_url(rental)}\n")


@in_team_language
def lost(rental: Rental, *, token: str) -> Notice:
    """SMS.online no longer knows the rent: its SMS cannot be read. What happened and what to do first;
    SMS.online's token after it, for those who look it up."""
    body = _(
        "SMS.online no longer knows the rent of %(rental)s: Rentdesk cannot read its SMS any more. "
        "Check the number in the SMS.online panel."
    ) % {"rental": _number_and_label(rental)}
    return Notice(
        _("[Rentdesk] SMS.online no longer knows %(number)s") % {"number": rental},
        f"{what_happened(token, sentence=body)}\n{_rental_url(rental)}\n",
    )


@in_team_language
def low_balance(account: ProviderAccount, *, balance: Decimal, threshold: Decimal) -> Notice:
    facts = {"account": account.name, "balance": money(balance), "threshold": money(threshold)}
    return Notice(
        _("[Rentdesk] Low balance on %(account)s: %(balance)s USD") % facts,
        _(
            "The SMS.online account %(account)s has %(balance)s USD left, below its threshold of %(threshold)s "
            "USD. Top it up before renting or extending fails."
        )
        % facts,
    )


@in_team_language
def budget_alert(
    *, scope: str, name: str, cap: Decimal, spent: Decimal, percent: int, reached: bool, month: date
) -> Notice:
    """A budget has used ``percent`` of its cap this month; ``reached``: all of it (or it refused a spend)."""
    facts = {"name": name, "percent": percent, "spent": money(spent), "cap": money(cap), "month": f"{month:%Y-%m}"}
    facts["owner"] = (_("Account %(name)s") if scope == "account" else _("Person %(name)s")) % facts
    if reached:
        subject = _("[Rentdesk] Budget: %(owner)s has reached its monthly budget") % facts
    else:
        subject = _("[Rentdesk] Budget: %(owner)s has used %(percent)s%% of its monthly budget") % facts
    body = (
        _(
            "%(owner)s: %(spent)s of %(cap)s USD spent or committed in %(month)s (%(percent)s%%). A rent or extension "
            "that would pass the budget is refused before anything is sent to SMS.online, until next month or until "
            "a manager raises the budget."
        )
        % facts
    )
    return Notice(subject, f"{body}\n{settings.PUBLIC_BASE_URL + reverse('admin:rentals_rental_costs')}\n")


@in_team_language
def auto_renew_alarm(rental: Rental, *, what: str) -> Notice:
    """Auto-renew did not renew the rental: a person must extend it before it ends."""
    facts = {"number": rental, "end": _end(rental), "label": _label(rental) or _("no label")}
    details = _("Number: %(number)s (%(label)s)\nEnds: %(end)s\nExtend it by hand before then: %(url)s") % {
        **facts,
        "url": _rental_url(rental),
    }
    return Notice(
        _("[Rentdesk] ACTION NEEDED: %(number)s was not renewed and ends %(end)s") % facts,
        f"{what}\n\n{details}\n",
    )


@in_team_language
def forwarded_sms(message: SmsMessage) -> Notice:
    """A forwarded SMS, for a chat: number, label, sender, code, text and link, as plain text. Each line
    is Rentdesk's: the label, sender and code are folded onto theirs, and the text's further lines are
    quoted, so none of them can pass for the code line or the link."""
    rental = message.rental
    number, label, code = str(rental), _label(rental), one_line(message.code, limit=32)
    who = _("%(number)s (%(label)s)") % {"number": number, "label": label} if label else number
    title = _("Code %(code)s for %(who)s") % {"code": code, "who": who} if code else _("SMS for %(who)s") % {"who": who}
    lines = [_("Number: %(number)s") % {"number": number}]
    if label:
        lines.append(_("Used for: %(label)s") % {"label": label})
    lines.append(_("From: %(sender)s") % {"sender": one_line(message.sender, limit=64)})
    if code:
        lines.append(_("Code: %(code)s") % {"code": code})
    lines += [_("Text: %(text)s") % {"text": quoted(message.text)}, _rental_url(rental)]
    return Notice(title, "\n".join(lines))
