"""Money, times and people as every reader sees them (pages, notices, the bot), and the team's language."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import gettext as _


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


def person(user: object) -> str:
    """A person as colleagues know them: full name, else the username."""
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()  # type: ignore[attr-defined]
