"""A rental's attention note as data: codes and their facts, worded when shown, in the reader's language.

Reconciliation and polling write the note from a worker, for people who may read another language
than the team's: so the rental keeps ``lost?token=INVALID_PHONE`` and each reader sees the sentence
first, SMS.online's token after it as a detail. Several notes are kept side by side, a space apart.
Text a person typed into the field, and notes written before they were codes, show as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode

from django.utils.translation import gettext as _

from ..reasons import STORED
from .tokens import what_happened


def _lost(facts: dict[str, str]) -> str:
    sentence = _("SMS.online no longer knows this rent: its SMS cannot be read. Check it on SMS.online.")
    return str(what_happened(facts.get("token", ""), sentence=sentence))


def _duplicate(facts: dict[str, str]) -> str:
    minutes = int(facts.get("minutes") or 0)
    if minutes > 0:
        refund = _("cancel within %(minutes)s min for a refund if one is enough") % {"minutes": minutes}
    else:
        refund = _("the refund window has passed; finish it if one is enough")
    duplicate = _("Possibly a duplicate of %(number)s, rented after this rent's answer was lost: %(refund)s.")
    return duplicate % {"number": facts["number"], "refund": refund}


WORDINGS: dict[str, Callable[[dict[str, str]], str]] = {
    "lost": _lost,
    "matched_oldest": lambda facts: _(
        "Matched to the oldest unknown attempt with the same rent time: check its service."
    ),
    "possible_duplicate": _duplicate,
    "rented_outside": lambda facts: _(
        "Rented outside Rentdesk (found in SMS.online's rent list): service and country unknown, end date estimated."
    ),
}


def note(code: str, **facts: object) -> str:
    """What the rental's ``attention`` stores for ``code`` (one of WORDINGS) and its facts."""
    if code not in WORDINGS:
        raise ValueError(f"no wording for the attention note {code!r}")
    return f"{code}?{urlencode({name: str(value) for name, value in facts.items()})}" if facts else code


def notes(*stored: str) -> str:
    """Several notes kept together (empty ones left out)."""
    return " ".join(part for part in stored if part)


def attention_words(stored: str) -> str:
    """The note in the active language; a person's own text, or a note from before codes, as it is."""
    parts = [STORED.fullmatch(part) for part in stored.split()]
    if not parts or any(match is None or match["code"] not in WORDINGS for match in parts):
        return stored
    try:
        return " ".join(WORDINGS[match["code"]](dict(parse_qsl(match["facts"] or ""))) for match in parts)
    except (KeyError, TypeError, ValueError):
        return stored
