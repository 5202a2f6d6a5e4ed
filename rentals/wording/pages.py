"""What people read at Rentdesk's pages, its command line and its API, in the active language.

An operation's outcome (``describe``): the admin's message, the CLI's line, the API's ``message``.
Services return facts and a token (``outcomes.Outcome``); the words are made here, once. Also an outcome
on a page (``what_happened_html``), why a request was not sent, and the dashboard's health lines.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from .. import health
from ..models import RATE_LIMITED_TOKEN, STATE_TOKENS
from ..outcomes import Operation, Outcome, State, Token
from ..phone_numbers import spaced_number
from ..provider.destinations import UrlRefusal
from ..provider.errors import ExtensionTooLong
from .formats import local_time
from .tokens import MAY_HAVE_CHARGED, WhatHappened, explain, what_happened

if TYPE_CHECKING:
    from ..selectors import TelegramReading

# The tokens Rentdesk refuses with on an account's behalf, without sending anything.
REFUSAL_TOKENS = {*STATE_TOKENS.values(), RATE_LIMITED_TOKEN}


def provider_busy(seconds: int, *, account_paced: bool) -> str:
    """What a person is told when SMS.online was not asked now (``services.ProviderBusy``)."""
    if account_paced:
        text = ngettext(
            "SMS.online is busy for this account; try again in %(seconds)s second.",
            "SMS.online is busy for this account; try again in %(seconds)s seconds.",
            seconds,
        )
    else:
        text = ngettext(
            "Rentdesk is busy with other requests to SMS.online; try again in %(seconds)s second.",
            "Rentdesk is busy with other requests to SMS.online; try again in %(seconds)s seconds.",
            seconds,
        )
    return (text % {"seconds": seconds}) + " " + _("Nothing was sent.")


def describe(outcome: Outcome) -> str:
    """What staff are told about an outcome, whether it just happened or the request came again."""
    if outcome.state is State.PENDING:
        where = _("Rent attempts") if outcome.operation == Operation.RENT else _("the rental's extensions")
        return _("This request is already being carried out; its result will appear in %(where)s.") % {"where": where}
    if outcome.ok:
        text = _SUCCESS[outcome.operation](outcome) if not outcome.token else explain(outcome.token)
        return _("This request was already carried out:") + " " + text if outcome.repeated else text
    if outcome.operation == Operation.QUOTE:
        return _no_price(outcome)
    if outcome.token in (Token.BUDGET_EXCEEDED, Token.PRICE_UNKNOWN):
        return _budget_refusal(outcome)
    if outcome.operation == Operation.RENT:
        return _rent_failure(outcome)
    if outcome.operation == Operation.EXTEND:
        return _extension_failure(outcome)
    return explain(outcome.token)


def outcome_line(outcome: Outcome) -> str:
    """An outcome where it is all a person reads (an admin message, the CLI's line, the bot's reply):
    ``describe``'s sentence, and for one that did not succeed the token after it (the API and ``--json``
    give the token a field of its own and ``describe`` alone as the message)."""
    return str(what_happened("" if outcome.ok else outcome.token, sentence=describe(outcome)))


def _rented(outcome: Outcome) -> str:
    """What the rent made: its own end date, not the rental's now (an extension moves that on)."""
    rental, attempt = outcome.rental, outcome.attempt
    end = attempt.end_date if attempt is not None and attempt.end_date is not None else rental.end_date
    return _("Rented %(number)s until %(end)s on %(account)s.") % {
        "number": spaced_number(rental.number), "end": local_time(end), "account": rental.account.name,
    }  # fmt: skip


def _extended(outcome: Outcome) -> str:
    extension, rental = outcome.extension, outcome.rental
    end = extension.new_end_date or rental.end_date
    text = _("%(number)s extended by %(hours)s h, until %(end)s.") % {
        "number": spaced_number(rental.number), "hours": extension.hours, "end": local_time(end),
    }  # fmt: skip
    if extension.new_rent_id and extension.new_rent_id != extension.old_rent_id:
        text += " " + _("SMS.online gave it a new rent id, %(id)s.") % {"id": extension.new_rent_id}
    return text


_SUCCESS = {
    Operation.RENT: _rented,
    Operation.EXTEND: _extended,
    Operation.FINISH: lambda outcome: _("%(number)s: finished.") % {"number": spaced_number(outcome.rental.number)},
    Operation.CANCEL: lambda outcome: (
        _("%(number)s: cancelled; SMS.online refunds its price.") % {"number": spaced_number(outcome.rental.number)}
    ),
}


def _rent_failure(outcome: Outcome) -> str:
    attempt = outcome.attempt
    if attempt is None:  # refused before an attempt was recorded
        return explain(outcome.token)
    banned_until = attempt.account.banned_until if outcome.token == "BANNED" else None
    message = explain(outcome.token, banned_until=local_time(banned_until) if banned_until else None, spending=True)
    if attempt.sent_at is None and outcome.token in REFUSAL_TOKENS:
        refused = _("Not sent: %(account)s cannot rent now.") % {"account": attempt.account.name}
        message = f"{refused} {message}"
    return message


def _extension_failure(outcome: Outcome) -> str:
    extension = outcome.extension
    if outcome.token in REFUSAL_TOKENS and extension is not None and extension.sent_at is None:
        return _("Not sent.") + " " + explain(outcome.token)
    detail = extension.error_detail if extension is not None else ""
    return extension_problem(outcome.token, detail, may_have_charged=outcome.state is State.UNKNOWN)


def _no_price(outcome: Outcome) -> str:
    """Why an extension's price did not come."""
    if outcome.error is None:
        return _("SMS.online answered without a price.")
    return extension_problem(outcome.token, outcome.error.detail, may_have_charged=False)


def extension_problem(token: str, detail: str, *, may_have_charged: bool) -> str:
    """Why an extension (or its price) did not come: the most hours SMS.online allows, when it said."""
    if token == "MAX_HOURS_EXCEED":
        most = ExtensionTooLong.max_hours_in(detail)
        if most is None:
            return explain(token)
        return f"{explain(token)} " + _("The most it can still be extended by is %(hours)s hours.") % {"hours": most}
    if may_have_charged:
        # The token is not written here: whoever shows this beside it adds it once (``outcome_line``).
        unreadable = capfirst(_("no readable answer about the extension."))
        return f"{unreadable} {MAY_HAVE_CHARGED}"
    return explain(token)


def _budget_refusal(outcome: Outcome) -> str:
    facts = outcome.facts
    if not facts:  # the same request again: the numbers are on the attempt's record
        return explain(outcome.token)
    whose = (_("The account %(name)s") if facts["budget"] == "account" else _("%(name)s (personal budget)")) % {
        "name": facts["budget_of"]
    }
    numbers = _("%(whose)s has %(spent)s of %(cap)s USD spent or committed in %(month)s.") % {
        "whose": whose, "spent": facts["spent"], "cap": facts["cap"], "month": facts["month"],
    }  # fmt: skip
    if "price" in facts:
        numbers += " " + _("This would cost %(price)s USD.") % {"price": facts["price"]}
    return f"{explain(outcome.token)} {numbers}"


def url_refusal(refusal: UrlRefusal) -> str:
    """Why Rentdesk will not send an API key to a URL, in the reader's language."""
    sentences = {
        "invalid": _("it is not a valid URL"),
        "not_http": _("it is not an http:// or https:// URL with a host"),
        "carries_credentials": _(
            "it carries a query string or a user name: the API key goes in its own field, not in the URL"
        ),
        "https_only": _(
            "API keys are sent only over https:// here (plain http only to a loopback host named in "
            "SMSONLINE_ALLOWED_HOSTS, such as the simulator's)"
        ),
        "plain_http_elsewhere": _("plain http:// goes only to this machine here, and %(host)s resolves to %(address)s"),
        "not_public": _(
            "%(host)s resolves to %(address)s, which is not a public address (allow it in SMSONLINE_ALLOWED_HOSTS)"
        ),
    }
    return sentences[refusal.reason] % {"host": refusal.host, "address": refusal.address}


def what_happened_html(happened: WhatHappened) -> SafeString:
    """``happened`` marked up for a page (its words are ``tokens.what_happened``'s): the sentence, and muted
    after it SMS.online's token, whose tooltip says what it is."""
    if not happened.token:
        return format_html("{}", happened.sentence)
    return format_html(
        '{} <small class="quiet" title="{}">({})</small>', happened.sentence, _("SMS.online's code"), happened.token
    )


def token_html(token: str) -> SafeString:
    """A token in a list, a column or a count, where there is no room for what to do: its headline, the
    token muted after it."""
    return what_happened_html(what_happened(token, brief=True))


# --- the dashboard's health lines --------------------------------------------------------------------

HEALTH_PARTS = {
    "database": gettext_lazy("Database"),
    "broker": gettext_lazy("Broker (Redis)"),
    "beat": gettext_lazy("Beat (scheduled jobs)"),
}
HEALTH_PROBLEMS = {
    health.UNREACHABLE: gettext_lazy("Does not answer."),
    health.NO_RECENT_TICK: gettext_lazy(
        "No beat has ticked in the last %(seconds)s seconds: polling, reminders and expiry are not running."
    ),
    health.UNKNOWN: gettext_lazy("Cannot be checked while the broker does not answer."),
}


def health_lines(report: health.SystemHealth) -> list[tuple[str, bool, str]]:
    """(part, fine, what to say) for each part of the health report, as the dashboard shows them."""
    lines = []
    for part in report.parts:
        if part.problem:
            words = str(HEALTH_PROBLEMS[part.problem]) % {"seconds": health.BEAT_LOCK_SECONDS}
        elif part.name == "beat" and report.beat is not None:
            words = _("OK: last tick %(seconds)s s ago, on %(holder)s.") % {
                "seconds": round(report.beat.seconds_since_tick),
                "holder": report.beat.holder,
            }
        elif part.name == "broker" and report.webhooks_kept:
            words = ngettext(
                "OK; it keeps %(count)s SMS webhook that the database could not store, until it can.",
                "OK; it keeps %(count)s SMS webhooks that the database could not store, until it can.",
                report.webhooks_kept,
            ) % {"count": report.webhooks_kept}
        else:
            words = _("OK")
        lines.append((str(HEALTH_PARTS[part.name]), part.ok, words))
    return lines


# Beat starts a read every 5 s: a bot not read for this long is not being answered.
TELEGRAM_QUIET_SECONDS = 60
# Telegram's words when updates go to a webhook (`manage.py telegram_webhook set`): reading is not needed.
TELEGRAM_WEBHOOK_ACTIVE = "webhook is active"


def telegram_line(reading: TelegramReading | None, *, now: datetime) -> tuple[str, bool, str] | None:
    """The dashboard's health line for the team's bot (selectors.telegram_reading), or None without one."""
    if reading is None:
        return None
    part = _("Telegram bot")
    if TELEGRAM_WEBHOOK_ACTIVE in reading.error:
        return part, True, _("OK: Telegram sends the updates to the webhook.")
    if reading.error:
        return part, False, _("Telegram refuses to give its updates: %(error)s") % {"error": reading.error}
    if reading.last_read_at is None:
        return part, False, _("No update read yet: is the worker of the urgent queue running?")
    seconds = round((now - reading.last_read_at).total_seconds())
    if seconds > TELEGRAM_QUIET_SECONDS:
        late = _("Updates last read %(seconds)s s ago: is the worker of the urgent queue running?")
        return part, False, late % {"seconds": seconds}
    return part, True, _("OK: updates last read %(seconds)s s ago.") % {"seconds": max(seconds, 0)}
