"""Inventory changelist: queries per page and time at 1k vs 100k rentals (target: time ratio <= 1.5).

Run: .venv/bin/python bench/changelist.py   (BENCH_DATABASE_URL=postgres://... for PostgreSQL)
"""

import time

from _setup import django_on_scratch_database, make_rentals


def measure(client, rounds: int = 5) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timings = []
    for _ in range(rounds):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            assert client.get("/admin/rentals/rental/?expiring=72h").status_code == 200
            assert client.get("/admin/rentals/rental/").status_code == 200
            timings.append(time.perf_counter() - started)
    return sorted(timings)[len(timings) // 2], len(queries)


def main() -> None:
    django_on_scratch_database()
    from django.contrib.auth.models import User
    from django.test import Client

    client = Client()
    client.force_login(User.objects.create_superuser("bench", password="pw"))
    make_rentals(1_000, due_within_hours=48, due=50)
    small_time, small_queries = measure(client)
    make_rentals(99_000)
    large_time, large_queries = measure(client)
    print(f"1k rentals:   {small_time * 1000:7.1f} ms, {small_queries} queries for two pages")
    print(f"100k rentals: {large_time * 1000:7.1f} ms, {large_queries} queries for two pages")
    ratio = large_time / small_time
    print(f"time ratio 100k/1k: {ratio:.2f} (target <= 1.5); same queries: {small_queries == large_queries}")


if __name__ == "__main__":
    main()
