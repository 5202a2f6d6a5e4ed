"""The sentence people read for an operation's outcome: the admin's message, the CLI's line, the API's
``message``. Services return facts and a token (``outcomes.Outcome``); the words and local times are
made here, once, in the active language.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .explanations import MAY_HAVE_CHARGED, explain, with_token
from .models import RATE_LIMITED_TOKEN, STATE_TOKENS
from .outcomes import Operation, Outcome, Token
from .phone_numbers import spaced_number
from .provider.destinations import UrlRefusal
from .provider.errors import ExtensionTooLong

# The tokens Rentdesk refuses with on an account's behalf, without sending anything.
REFUSAL_TOKENS = {*STATE_TOKENS.values(), RATE_LIMITED_TOKEN}


def team_language() -> AbstractContextManager[None]:
    """For words Rentdesk sends or writes down (notices, a rental's history reasons and attention notes):
    the team's language (``RENTDESK_LANGUAGE``), whoever's request or which worker wrote them."""
    return translation.override(settings.LANGUAGE_CODE)


def local_time(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


# SMS.online charges in USD, which is written with cents.
CURRENCY_PLACES = 2


def money(amount: Decimal) -> str:
    """An amount as its currency writes it, in the reader's language: "0,45", "100,00" (columns keep 4 places);
    more places only where a provider's price truly has them ("0,455")."""
    places = max(CURRENCY_PLACES, -min(amount.normalize().as_tuple().exponent, 0))
    return number_format(amount, places, use_l10n=True)


def format_time_left(left: timedelta) -> str:
    """ "2 d 3 h", "5 h 10 min", "7 min", in the active language."""
    minutes = max(int(left.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return _("%(days)s d %(hours)s h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)s min") % {"minutes": minutes}


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


def person(user: object) -> str:
    """A person as colleagues know them: full name, else the username."""
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()  # type: ignore[attr-defined]


def describe(outcome: Outcome) -> str:
    """What staff are told about an outcome, whether it just happened or the request came again."""
    if outcome.state == "pending":
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
    return extension_problem(outcome.token, detail, may_have_charged=outcome.state == "unknown")


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
        unreadable = capfirst(_("no readable answer about the extension."))
        return with_token(f"{unreadable} {MAY_HAVE_CHARGED}", token)
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
