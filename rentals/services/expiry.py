"""Expiry: a rental past its end date is marked expired, once (its reminders: reminders.py)."""

from __future__ import annotations

from datetime import datetime

from ..models import Rental, RentalStatus


def rentals_expire(*, now: datetime) -> int:
    """Mark active rentals past their end date as expired, once. Returns how many changed."""
    return Rental.objects.filter(status=RentalStatus.ACTIVE, end_date__lte=now).update(
        status=RentalStatus.EXPIRED, expired_at=now
    )
