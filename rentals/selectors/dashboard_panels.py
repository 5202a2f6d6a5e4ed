"""What the admin's dashboard shows, panel by panel: rentals ending soon or lost, troubled accounts, the
day's errors, how the team's bot reads its messages, and the logins locked out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Count, F

from ..models import AccountState, ErrorEvent, ProviderAccount, Rental, RentalStatus, TelegramPoll


@dataclass(frozen=True)
class Dashboard:
    expiring_24h: list[Rental]
    expiring_72h_count: int
    expiring_24h_count: int
    troubled_accounts: list[ProviderAccount]
    errors_24h: list[dict[str, object]]
    errors_24h_count: int
    lost: list[Rental]
    lost_count: int
    ended_early: list[Rental]


def dashboard(*, now: datetime) -> Dashboard:
    active = Rental.objects.filter(status=RentalStatus.ACTIVE, end_date__gt=now)
    soon = active.filter(end_date__lte=now + timedelta(hours=24))
    errors = ErrorEvent.objects.filter(created_at__gte=now - timedelta(hours=24))
    by_token = list(errors.values("token").annotate(count=Count("id")).order_by("-count", "token")[:8])
    lost = active.filter(provider_lost_at__isnull=False)
    return Dashboard(
        expiring_24h=list(soon.select_related("service", "country").order_by("end_date")[:10]),
        expiring_24h_count=soon.count(),
        expiring_72h_count=active.filter(end_date__lte=now + timedelta(hours=72)).count(),
        troubled_accounts=list(ProviderAccount.objects.exclude(state=AccountState.OK).order_by("name")),
        errors_24h=by_token,
        errors_24h_count=errors.count(),
        lost=list(lost.order_by("end_date")[:10]),
        lost_count=lost.count(),
        ended_early=list(
            Rental.objects.filter(
                ended_by_provider=True, ended_at__gte=now - timedelta(hours=24), ended_at__lt=F("end_date")
            ).order_by("-ended_at")[:10]
        ),
    )


@dataclass(frozen=True)
class TelegramReading:
    """How the team's bot reads what people write to it (getUpdates, rentals.tasks.telegram_read_updates)."""

    last_read_at: datetime | None
    error: str  # Telegram's last refusal, its words (no token in them); empty after a good read


def telegram_reading() -> TelegramReading | None:
    """None while no bot is set up (TELEGRAM_BOT_TOKEN empty)."""
    if not settings.TELEGRAM_BOT_TOKEN:
        return None
    row = TelegramPoll.objects.order_by("pk").values("last_read_at", "last_error").first() or {}  # one row
    return TelegramReading(row.get("last_read_at"), row.get("last_error", ""))


def logins_locked_out(*, now: datetime) -> int:
    """Username and address pairs django-axes refuses now (too many failed logins, still cooling off)."""
    still_cooling = now - settings.AXES_COOLOFF_TIME
    return AccessAttempt.objects.filter(
        failures_since_start__gte=settings.AXES_FAILURE_LIMIT, attempt_time__gt=still_cooling
    ).count()
