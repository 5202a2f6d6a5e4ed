"""A rental as JSON: the one shape the API answers and ``rent_number --json`` prints.

Values are Python's (datetimes, decimals); ``JSON_ENCODER`` writes them as the API does (django-ninja
writes with Django's encoder: ISO times to the millisecond, "Z" for UTC, amounts as strings).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from .models import Rental, SmsMessage
from .wording.attention import attention_words

JSON_ENCODER = DjangoJSONEncoder


def _money(amount: Decimal | None) -> Decimal | None:
    # SQLite computes a sum as a float: four places, as the amounts are stored.
    return None if amount is None else Decimal(amount).quantize(Decimal("0.0001"))


def sms_data(message: SmsMessage) -> dict[str, Any]:
    return {"id": message.pk, "sender": message.sender, "text": message.text, "code": message.code,
            "received_at": message.received_at, "provider_date": message.provider_date,
            "source": message.source}  # fmt: skip


def rental_data(rental: Rental, *, reads_sms: bool, with_messages: bool = False) -> dict[str, Any]:
    """A rental for a script; SMS text only to those who may read SMS, as in the admin. ``cost`` is what
    it paid (``Rental.objects.with_paid()``: the rent and its extensions) where that was read, else the rent's."""
    data = {
        "id": rental.pk, "number": rental.number, "label": rental.label, "status": rental.status,
        "service": rental.service.code if rental.service else None,
        "country": rental.country.provider_id if rental.country else None, "operator": rental.operator,
        "hours": rental.hours, "end_date": rental.end_date, "account": rental.account.name,
        "assignee": rental.assignee.get_username() if rental.assignee else None,
        "rented_by": rental.rented_by.get_username() if rental.rented_by else None,
        "cost": _money(getattr(rental, "paid", rental.cost)),
        "provider_rent_id": rental.provider_rent_id, "created_at": rental.created_at,
        "attention": attention_words(rental.attention),
        "lost": rental.provider_lost_at is not None, "last_sms_at": rental.last_sms_at,
        "last_sms_text": rental.last_sms_text if reads_sms else None,
        "last_sms_code": rental.last_sms_code if reads_sms else None,
    }  # fmt: skip
    if with_messages:
        data["messages"] = [sms_data(message) for message in rental.messages.all()] if reads_sms else None
    return data
