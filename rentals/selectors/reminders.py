"""The rentals due for a reminder before they end (services.reminders_send_due)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Max, Prefetch, Q, QuerySet

from ..models import AttemptState, Rental, RentalReminder, RentalStatus


def rentals_due_for_reminder(*, now: datetime, within: timedelta) -> QuerySet[Rental]:
    """Active rentals ending within ``within``, with the reminders they already have.

    Served by the (status, end_date) index: the cost follows the rentals due, not the table.
    """
    return (
        Rental.objects.filter(
            status=RentalStatus.ACTIVE, reminders_enabled=True, end_date__gt=now, end_date__lte=now + within
        )
        .select_related("rented_by", "assignee", "service", "country", "account")
        # When the current end date was set, if not at renting: reminders count from there.
        .annotate(last_extended_at=Max("extensions__finished_at", filter=Q(extensions__state=AttemptState.SUCCEEDED)))
        .prefetch_related(
            Prefetch(
                "reminders",
                queryset=RentalReminder.objects.only("rental_id", "threshold_hours", "sent_at", "claimed_at"),
            )
        )
    )
