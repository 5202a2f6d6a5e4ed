"""Spend per month, read from the months kept in sums (models/spend.py) and the rest summed live.

A kept month is a calendar month in the team's timezone (TIME_ZONE). The reader's months may start a
few hours earlier or later (the costs page groups by the reader's timezone): the rows of a kept month
that fall in another of the reader's months are read live, counted where they belong and taken off
their kept month. Whatever the timezone, the figures are those of summing every rental and extension.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from .models import AttemptState, Rental, RentalExtension, RentalStatus, SpendSum

REFUNDED = [RentalStatus.CANCELLED, RentalStatus.REVOKED]
# The name each grouping reads: on a rental, on an extension (through its rental), on a kept sum.
SPEND_GROUPS = {
    "account": ("account__name", "rental__account__name", "account__name"),
    "service": ("service__name", "rental__service__name", "service__name"),
    "country": ("country__name", "rental__country__name", "country__name"),
    "person": ("rented_by__username", "requested_by__username", "person__username"),
}
Range = tuple[datetime, datetime | None]  # from, until (None: no end)


@dataclass
class Spent:
    amount: Decimal = Decimal(0)
    count: int = 0


def team_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def month_start_in(moment: datetime, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    return datetime(local.year, local.month, 1, tzinfo=zone)


def next_month(start: datetime) -> datetime:
    """The first instant of the month after ``start``'s, in ``start``'s timezone."""
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return datetime(year, month, 1, tzinfo=start.tzinfo)


def paid_rents(ranges: list[Range]) -> QuerySet[Rental]:
    """The rents paid for, made in ``ranges``: cancelled and revoked ones were refunded."""
    return Rental.objects.filter(_within(ranges), cost__isnull=False).exclude(status__in=REFUNDED)


def paid_extensions(ranges: list[Range]) -> QuerySet[RentalExtension]:
    """The extensions paid for, made in ``ranges``: a cancel or a revoke refunds them too."""
    paid = RentalExtension.objects.filter(_within(ranges), state=AttemptState.SUCCEEDED, cost__isnull=False)
    return paid.exclude(rental__status__in=REFUNDED)


def _within(ranges: list[Range]) -> Q:
    made = Q(pk__in=[])
    for since, until in ranges:
        made |= Q(created_at__gte=since) & (Q(created_at__lt=until) if until is not None else Q())
    return made


def spend_totals(*, group: str, since: datetime) -> dict[tuple[str, str], Spent]:
    """What was paid since ``since``, by (month "YYYY-MM" in the reader's timezone, name of ``group``)."""
    rental_key, extension_key, kept_key = SPEND_GROUPS[group]
    totals, starts = _kept_months(kept_key, since)
    ranges, moved = _live_ranges(since, starts, timezone.get_current_timezone())
    # The team's month of a row is needed only where a kept month's rows are read (each costs SQLite a
    # call into Python per row).
    months = {"month": TruncMonth("created_at")}
    if moved:
        months["team_month"] = TruncMonth("created_at", tzinfo=team_zone())
    for queryset, key in ((paid_rents(ranges), rental_key), (paid_extensions(ranges), extension_key)):
        rows = queryset.annotate(**months).values(*months, key).order_by()
        for row in rows.annotate(amount=Sum("cost"), count=Count("pk")):
            name = row[key] or "(unknown)"
            _add(totals, (_label(row["month"]), name), row["amount"], row["count"])
            if row.get("team_month") in starts:  # a kept month's row in another of the reader's months
                _add(totals, (_label(row["team_month"]), name), -row["amount"], -row["count"])
    return {index: spent for index, spent in totals.items() if spent.count}


def _add(totals: dict[tuple[str, str], Spent], index: tuple[str, str], amount: Decimal, count: int) -> None:
    spent = totals.setdefault(index, Spent())
    spent.amount += amount
    spent.count += count


def _kept_months(key: str, since: datetime) -> tuple[dict[tuple[str, str], Spent], set[datetime]]:
    """The sums of the kept months from ``since`` on, by (team's month, name), and where those months
    start. A month kept under another TIME_ZONE than today's is not one of the team's months: summed live."""
    sums = SpendSum.objects.filter(month__stale=False, month__starts_at__gte=since)
    rows = sums.values("month__starts_at", "month__ends_at", key).annotate(amount=Sum("amount"), count=Sum("count"))
    totals: dict[tuple[str, str], Spent] = {}
    starts = set()
    for row in rows.order_by():
        start = month_start_in(row["month__starts_at"], team_zone())
        if start != row["month__starts_at"] or next_month(start) != row["month__ends_at"]:
            continue
        starts.add(start)
        _add(totals, (_label(start), row[key] or "(unknown)"), row["amount"], row["count"])
    return totals, starts


def _live_ranges(since: datetime, starts: set[datetime], reader: ZoneInfo) -> tuple[list[Range], bool]:
    """What is read live: all from ``since`` on but the kept months, and the parts of those that are
    in another month of the reader's (moved: whether there are such parts)."""
    ranges: list[Range] = []
    moved = []
    cursor = since
    for start in sorted(starts):
        end = next_month(start)
        if start > cursor:
            ranges.append((cursor, start))
        own = datetime(start.year, start.month, 1, tzinfo=reader)  # the same month, the reader's
        if own > start:
            moved.append((start, min(own, end)))
        if next_month(own) < end:
            moved.append((max(next_month(own), start), end))
        cursor = end
    ranges.append((cursor, None))
    return ranges + moved, bool(moved)


def _label(month: datetime) -> str:
    return month.strftime("%Y-%m")
