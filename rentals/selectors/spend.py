"""What the costs page shows: the spend per month, and what the active rentals have committed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Max, Sum

from ..models import AttemptState, Rental, RentalExtension, RentalStatus
from ..spend import SPEND_GROUPS as SPEND_GROUPS  # the costs page offers these
from ..spend import spend_totals


@dataclass(frozen=True)
class SpendRow:
    month: str  # YYYY-MM
    group: str
    amount: Decimal


def spend_by_month(*, group: str, since: datetime) -> list[SpendRow]:
    """What was paid per month (rents and extensions, by when they were made, refunds deducted), split by
    ``group``: months in the reader's timezone, closed months read from their sums (rentals/spend.py)."""
    totals = spend_totals(group=group, since=since)
    return [SpendRow(month, name, spent.amount) for (month, name), spent in sorted(totals.items())]


@dataclass(frozen=True)
class CommittedSpend:
    count: int
    paid: Decimal
    last_end: datetime | None


def committed_spend(*, now: datetime) -> CommittedSpend:
    """The active rentals: how many, what was paid to keep them until their end dates, when the last ends."""
    active = Rental.objects.filter(status=RentalStatus.ACTIVE, end_date__gt=now)
    totals = active.aggregate(count=Count("id"), paid=Sum("cost"), last_end=Max("end_date"))
    extra = RentalExtension.objects.filter(
        rental__in=active, state=AttemptState.SUCCEEDED, cost__isnull=False
    ).aggregate(paid=Sum("cost"))
    paid = (totals["paid"] or Decimal(0)) + (extra["paid"] or Decimal(0))
    return CommittedSpend(count=totals["count"], paid=paid, last_end=totals["last_end"])
