"""Expiry reminders and expiry scan: cost follows the rentals due, not the table
(target: 1M rentals with 100 due within 2x of 10k rentals with 100 due).

Run: .venv/bin/python bench/expiry_scan.py [--large 1000000]
"""

import argparse
import time

from _setup import django_on_scratch_database, make_rentals


def scan_seconds() -> float:
    from django.db import connection, transaction
    from django.utils import timezone

    from rentals.models import RentalReminder
    from rentals.services import reminders_send_due, rentals_expire

    timings = []
    for _ in range(3):
        with transaction.atomic():
            started = time.perf_counter()
            reminders_send_due(now=timezone.now())
            rentals_expire(now=timezone.now())
            timings.append(time.perf_counter() - started)
            transaction.set_rollback(True)  # the same 100 are due every round
    RentalReminder.objects.all().delete()
    connection.close()
    return sorted(timings)[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args()
    django_on_scratch_database()
    make_rentals(10_000, due_within_hours=1, due=100)
    small = scan_seconds()
    make_rentals(args.large - 10_000)
    large = scan_seconds()
    print(f"10k rentals, 100 due:   {small * 1000:7.1f} ms")
    print(f"{args.large // 1000}k rentals, 100 due: {large * 1000:7.1f} ms")
    print(f"ratio: {large / small:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
