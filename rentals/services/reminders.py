"""Reminders before a rental ends: one mail and chat message per threshold it comes inside, once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import selectors
from ..models import Rental, RentalReminder
from ..notice_sending import notify, rental_people
from ..wording import notices

logger = logging.getLogger(__name__)

# A claimed reminder still unsent after this long is taken over: its sender died or its mail failed.
REMINDER_LEASE = timedelta(minutes=10)


def nearest_threshold(time_left: timedelta, thresholds: list[int]) -> int | None:
    """The smallest threshold (hours) that ``time_left`` is inside, or None when outside all."""
    inside = [hours for hours in thresholds if time_left <= timedelta(hours=hours)]
    return min(inside) if inside else None


def reminders_send_due(*, now: datetime) -> int:
    """Send each due reminder once; returns how many went out now.

    A rental gets the reminder of the nearest threshold it is inside: first seen 1 hour before its
    end, it gets the 2-hour reminder only, never the 72- and 24-hour ones as well. A threshold the
    rental was already inside when it was rented (or last extended) means nothing: a 24-hour rental
    gets its 2-hour reminder, not a "24 h left" mail right after renting.
    """
    thresholds = settings.RENTDESK_REMINDER_HOURS
    sent = 0
    for rental in selectors.rentals_due_for_reminder(now=now, within=timedelta(hours=max(thresholds))):
        term = rental.end_date - max(rental.created_at, rental.last_extended_at or rental.created_at)
        meaningful = [hours for hours in thresholds if term > timedelta(hours=hours)]
        threshold = nearest_threshold(rental.end_date - now, meaningful)
        claim = next((r for r in rental.reminders.all() if r.threshold_hours == threshold), None)
        if threshold is None or (claim is not None and (claim.sent_at or claim.claimed_at >= now - REMINDER_LEASE)):
            continue
        reminder = _reminder_claim(rental=rental, threshold=threshold, now=now)
        if reminder is not None and _reminder_send(reminder=reminder, rental=rental, now=now):
            sent += 1
    return sent


def _reminder_claim(*, rental: Rental, threshold: int, now: datetime) -> RentalReminder | None:
    """Insert the claim row; only the worker whose insert (or lease takeover) wins sends."""
    try:
        with transaction.atomic():
            return RentalReminder.objects.create(rental=rental, threshold_hours=threshold, claimed_at=now)
    except IntegrityError:
        taken_over = RentalReminder.objects.filter(
            rental=rental, threshold_hours=threshold, sent_at__isnull=True, claimed_at__lt=now - REMINDER_LEASE
        ).update(claimed_at=now)
        return RentalReminder.objects.get(rental=rental, threshold_hours=threshold) if taken_over else None


def _reminder_send(*, reminder: RentalReminder, rental: Rental, now: datetime) -> bool:
    try:
        recipients = notify(notices.expiry_reminder(rental, now=now), recipients=rental_people(rental))
    except Exception:
        # Mail server down or refusing: leave the claim unsent; it is taken over after the lease.
        logger.exception("expiry reminder for rental %s not sent", rental.pk)
        return False
    RentalReminder.objects.filter(pk=reminder.pk).update(sent_at=timezone.now(), recipients=", ".join(recipients))
    return True
