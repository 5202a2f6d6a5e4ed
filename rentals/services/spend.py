"""Closed months' spend kept in sums (models/spend.py): summed by a task, marked stale by any change.

What can still change a closed month's spend, and how long after: a cancel (20 minutes after the rent,
or SMS.online's ALREADY_CANCEL at any time), a revoke (while the rental lasts, and extensions make that
months), an extension settled by reconciliation (no time limit) or re-opening a refunded rental, an
adopted placeholder absorbed by its rental. Each calls ``spend_of_rental_changed`` in the transaction
that changes it; adopted rents are recorded as made when adopted (this month). So no grace period is
needed for refunds: ``SUMMARY_GRACE`` only covers a row whose time was taken just before its month
ended and that commits just after.

The summing locks its month's row and a change marks it in its own transaction (an upsert, which waits
on that lock): whichever commits second, the month is right or marked stale. On SQLite every write
transaction is IMMEDIATE: they run one after the other.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Min, Sum

from ..models import Rental, RentalExtension, SpendMonth, SpendSum
from ..spend import month_start_in, next_month, paid_extensions, paid_rents, team_zone

SUMMARY_GRACE = timedelta(hours=1)
_RENT_KEYS = ("account_id", "service_id", "country_id", "rented_by_id")
_EXTENSION_KEYS = ("rental__account_id", "rental__service_id", "rental__country_id", "requested_by_id")


def spend_months_summarise(*, now: datetime) -> int:
    """Sum every closed month (ended ``SUMMARY_GRACE`` ago) not summed yet or marked stale; how many."""
    first = _first_spend()
    if first is None:
        return 0
    kept = set(SpendMonth.objects.filter(stale=False).values_list("starts_at", "ends_at"))
    summed = 0
    start = month_start_in(first, team_zone())
    while next_month(start) <= now - SUMMARY_GRACE:
        if (start, next_month(start)) not in kept:
            spend_month_summarise(start=start, now=now)
            summed += 1
        start = next_month(start)
    return summed


def _first_spend() -> datetime | None:
    rents = Rental.objects.aggregate(first=Min("created_at"))["first"]
    extensions = RentalExtension.objects.aggregate(first=Min("created_at"))["first"]
    return min((moment for moment in (rents, extensions) if moment is not None), default=None)


def spend_month_summarise(*, start: datetime, now: datetime) -> None:
    """Sum the team's month starting at ``start`` again, under its row's lock."""
    end = next_month(start)
    with transaction.atomic():
        month, _ = SpendMonth.objects.select_for_update().get_or_create(starts_at=start, defaults={"ends_at": end})
        sums: dict[tuple, list] = {}
        for queryset, keys in (
            (paid_rents([(start, end)]), _RENT_KEYS),
            (paid_extensions([(start, end)]), _EXTENSION_KEYS),
        ):
            for row in queryset.values_list(*keys).annotate(amount=Sum("cost"), count=Count("pk")).order_by():
                total = sums.setdefault(row[:4], [Decimal(0), 0])
                total[0] += row[4]
                total[1] += row[5]
        SpendSum.objects.filter(month=month).delete()
        SpendSum.objects.bulk_create(
            SpendSum(month=month, account_id=account, service_id=service, country_id=country, person_id=person,
                     amount=amount, count=count)
            for (account, service, country, person), (amount, count) in sums.items()
        )  # fmt: skip
        SpendMonth.objects.filter(pk=month.pk).update(ends_at=end, stale=False, summed_at=now)


def spend_of_rental_changed(*, rental_id: int, now: datetime) -> None:
    """The rental's paid or refunded state changed (or it goes): the closed months of its rent and its
    extensions are summed again. Call it in the transaction that makes the change."""
    moments = list(RentalExtension.objects.filter(rental_id=rental_id).values_list("created_at", flat=True))
    moments += Rental.objects.filter(pk=rental_id).values_list("created_at", flat=True)
    this_month = month_start_in(now, team_zone())
    # This month is never kept: it is always read live.
    starts = {start for start in (month_start_in(moment, team_zone()) for moment in moments) if start < this_month}
    if starts:
        SpendMonth.objects.bulk_create(
            [SpendMonth(starts_at=start, ends_at=next_month(start), stale=True) for start in sorted(starts)],
            update_conflicts=True, unique_fields=["starts_at"], update_fields=["stale"],
        )  # fmt: skip
