"""Why a rental changed, as its history keeps it: a code and its facts, worded when the history is shown.

A reason is written down by a worker or a request in whatever language it runs in, and read later by
people who may read another: so the history stores ``extended?hours=8`` and each reader sees "extended
by 8 h" or "продовжено на 8 год". Rows written before reasons were codes hold words; they show as
they are.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

WORDINGS: dict[str, Promise] = {
    "extended": _("extended by %(hours)s h"),
    "extension_reconciled": _("extension confirmed by reconciliation"),
    "finished": _("finished on SMS.online"),
    "cancelled": _("cancelled on SMS.online"),
    "finished_by_provider": _("finished on SMS.online's side"),
    "finished_by_provider_early": _("finished on SMS.online's side before its end date"),
    "cancelled_by_provider": _("cancelled on SMS.online's side"),
    "cancelled_by_provider_early": _("cancelled on SMS.online's side before its end date"),
    "revoked_by_provider": _("revoked on SMS.online's side"),
    "revoked_by_provider_early": _("revoked on SMS.online's side before its end date"),
    "lost": _("SMS.online no longer knows rent %(rent_id)s (%(token)s)"),
    "found_again": _("SMS.online knows the rent again"),
    "claimed": _("claimed"),
    "released_by": _("released by %(person)s"),
    "released_deleted": _("released: %(person)s was deleted"),
    "released_inactive": _("released: %(person)s is no longer active staff"),
    "auto_renew_off_deleted": _("auto-renew switched off: %(person)s, who set it, was deleted"),
    "auto_renew_off_inactive": _("auto-renew switched off: %(person)s, who set it, is no longer active staff"),
}
# The history's column holds 100 characters; a fact is cut to fit (a person's name is the long one).
LONGEST_FACT = 40
STORED = re.compile(r"(?P<code>[a-z_]+)(?:\?(?P<facts>\S*))?")


def reason(code: str, **facts: object) -> str:
    """What the history stores for ``code`` (one of WORDINGS) and the facts its wording names."""
    if code not in WORDINGS:
        raise ValueError(f"no wording for the history reason {code!r}")
    if not facts:
        return code
    return f"{code}?{urlencode({name: str(value)[:LONGEST_FACT] for name, value in facts.items()})}"


def reason_words(stored: str | None) -> str:
    """A stored reason in the active language; words stored before reasons were codes, as they are."""
    if not stored:
        return ""
    match = STORED.fullmatch(stored)
    if match is None or match["code"] not in WORDINGS:
        return stored
    try:
        return str(WORDINGS[match["code"]]) % dict(parse_qsl(match["facts"] or ""))
    except (KeyError, TypeError, ValueError):
        return stored
