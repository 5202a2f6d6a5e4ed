"""Read queries shared by the admin, tasks and services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Prefetch, QuerySet

from .models import AccountState, ErrorEvent, ProviderAccount, Rental, RentalReminder, RentalStatus


def rentals_due_for_reminder(*, now: datetime, within: timedelta) -> QuerySet[Rental]:
    """Active rentals ending within ``within``, with the reminders they already have.

    Served by the (status, end_date) index: the cost follows the rentals due, not the table.
    """
    return (
        Rental.objects.filter(
            status=RentalStatus.ACTIVE, reminders_enabled=True, end_date__gt=now, end_date__lte=now + within
        )
        .select_related("rented_by", "assignee", "service", "country", "account")
        .prefetch_related(
            Prefetch(
                "reminders",
                queryset=RentalReminder.objects.only("rental_id", "threshold_hours", "sent_at", "claimed_at"),
            )
        )
    )


def account_ids_for_health_check() -> list[int]:
    return list(ProviderAccount.objects.order_by("pk").values_list("pk", flat=True))


@dataclass(frozen=True)
class Dashboard:
    expiring_24h: list[Rental]
    expiring_72h_count: int
    expiring_24h_count: int
    troubled_accounts: list[ProviderAccount]
    errors_24h: list[dict[str, object]]
    errors_24h_count: int


def dashboard(*, now: datetime) -> Dashboard:
    active = Rental.objects.filter(status=RentalStatus.ACTIVE, end_date__gt=now)
    soon = active.filter(end_date__lte=now + timedelta(hours=24))
    errors = ErrorEvent.objects.filter(created_at__gte=now - timedelta(hours=24))
    by_token = list(errors.values("token").annotate(count=Count("id")).order_by("-count", "token")[:8])
    return Dashboard(
        expiring_24h=list(soon.select_related("service", "country").order_by("end_date")[:10]),
        expiring_24h_count=soon.count(),
        expiring_72h_count=active.filter(end_date__lte=now + timedelta(hours=72)).count(),
        troubled_accounts=list(ProviderAccount.objects.exclude(state=AccountState.OK).order_by("name")),
        errors_24h=by_token,
        errors_24h_count=errors.count(),
    )
