"""Expiry reminders (each claimed in the database) and the expiry scan: their cost follows the rentals
due, not the table. Target: 1M rentals with 100 due within 2x of 10k rentals with 100 due.

Run: .venv/bin/python bench/expiry_scan.py   (BENCH_DATABASE_URL=postgres://... for PostgreSQL)
"""

from __future__ import annotations

import time

from _setup import django_on_scratch_database, finish, make_rentals, planner_statistics_refreshed, report, sized

SMALL, LARGE = 10_000, sized(1_000_000, 50_000)
DUE = 100
ROUNDS = 5
MAX_RATIO = 2.0


def scan_seconds() -> float:
    """The quickest of ROUNDS scans, each undone after, so the same 100 are due every time."""
    from django.db import connection, transaction
    from django.utils import timezone

    from rentals.models import RentalReminder
    from rentals.services import reminders_send_due, rentals_expire

    timings = []
    for _ in range(ROUNDS):
        with transaction.atomic():
            started = time.perf_counter()
            reminders_send_due(now=timezone.now())
            rentals_expire(now=timezone.now())
            timings.append(time.perf_counter() - started)
            transaction.set_rollback(True)
    RentalReminder.objects.all().delete()
    connection.close()
    return min(timings)


def main() -> None:
    django_on_scratch_database()
    make_rentals(SMALL - DUE, due_within_hours=1, due=DUE)
    planner_statistics_refreshed()
    small = scan_seconds()
    make_rentals(LARGE - SMALL)
    planner_statistics_refreshed()
    large = scan_seconds()
    report(
        f"reminders and expiry scan: {LARGE // 1000}k rentals vs {SMALL // 1000}k, {DUE} due",
        f"{large / small:.2f}x ({large * 1000:.1f} ms vs {small * 1000:.1f} ms)",
        f"<= {MAX_RATIO:g}x",
        large / small <= MAX_RATIO,
    )
    finish()


if __name__ == "__main__":
    main()
