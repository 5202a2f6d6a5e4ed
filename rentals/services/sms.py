"""Incoming SMS: the one row per real SMS, however it came (webhooks: webhooks.py; polling: polling.py)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import Rental, SmsMessage
from ..provider.parsing import IncomingSms
from ..raw_sql import rental_last_sms_moved, row_inserted
from .forwarding import sms_arrived

# "Your code 1234", "G-123456", "123-456", "12 34 56" is not one: a run of 4-8 digits, or 3+3.
_CODE = re.compile(r"(?<![0-9])([0-9]{3}[- ][0-9]{3}|[0-9]{4,8})(?![0-9])")
# Clocks differ a little: an SMS dated further ahead than this is ordered by when it arrived, or it
# would stay the rental's last SMS (and code) and push every real one out of the newest shown.
FUTURE_DATE_TOLERANCE = timedelta(minutes=5)


def extract_code(text: str) -> str:
    match = _CODE.search(text)
    return re.sub(r"[- ]", "", match.group(1)) if match else ""


def sms_dedupe_key(sms: IncomingSms, occurrence: int = 0) -> str:
    """The same SMS, whether by webhook or by polling, in whichever wire form: the same key.

    Two SMS alike in second, sender and text are told apart by their occurrence (0, 1, ...), which
    polling counts among the rental's messages; a webhook carries one SMS and says occurrence 0.
    An SMS whose date could not be read is keyed on the date as the provider wrote it.
    """
    if sms.received_at is not None:
        moment = sms.received_at.astimezone(UTC).replace(microsecond=0).isoformat()
    else:
        moment = f"unread:{sms.raw_date}"
    suffix = f"\x1f#{occurrence}" if occurrence else ""
    return hashlib.sha256(f"{moment}\x1f{sms.sender}\x1f{sms.text}{suffix}".encode()).hexdigest()


def sms_record(*, rental: Rental, sms: IncomingSms, source: str, occurrence: int = 0) -> SmsMessage | None:
    """Store the SMS once; returns None when it was already there."""
    received_at, provider_date = sms_arrival(sms, now=timezone.now())
    message = SmsMessage(
        rental=rental, sender=sms.sender, text=sms.text, code=extract_code(sms.text), received_at=received_at,
        provider_date=provider_date, dedupe_key=sms_dedupe_key(sms, occurrence), source=source,
    )  # fmt: skip
    try:
        with transaction.atomic():
            # Every SMS passes here: two statements of our own, not the ORM's (see raw_sql.py).
            row_inserted(message)
            rental_last_sms_moved(
                rental_id=rental.pk, received_at=message.received_at, text=sms.text[:500], code=message.code
            )
            sms_arrived(message)  # forwarded to chat and announced to waiting scripts, once committed
    except IntegrityError:
        return None
    return message


def sms_arrival(sms: IncomingSms, *, now: datetime) -> tuple[datetime, datetime | None]:
    """When the SMS is ordered as received, and the provider's date when that is not it. A date the
    provider wrote unreadably, or one in the future, becomes the time Rentdesk first saw the SMS."""
    if sms.received_at is None:
        return now, None
    if sms.received_at > now + FUTURE_DATE_TOLERANCE:
        return now, sms.received_at
    return sms.received_at, None


def provider_tz() -> ZoneInfo:
    return ZoneInfo(settings.PROVIDER_TIMEZONE)
