"""Phone numbers as people read them: each country's own grouping, from libphonenumber's metadata.

Rentdesk keeps a number as its digits (``380671234567``); every place a person reads one (lists, the
rental's page, messages, mail, chat) shows it grouped, "+380 67 123 4567", through this module.
"""

from __future__ import annotations

import re

import phonenumbers


def number_groups(number: str) -> list[str]:
    """``380671234567`` as people read it: ``["+380", "67", "123", "4567"]``; a number libphonenumber
    does not know stays in one piece."""
    try:
        parsed = phonenumbers.parse(f"+{number}")
    except phonenumbers.NumberParseException:
        return [f"+{number}"]
    return re.split(r"[\s\-]+", phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL))


def spaced_number(number: str) -> str:
    """The number as plain text, its groups apart: "+380 67 123 4567" (for messages, mail and titles)."""
    return " ".join(number_groups(number))
