"""Retention: webhook ingest keeps its target while a purge removes ROWS old webhook deliveries, and the
bytes each kind of row takes (the table sizes per 1,000 rentals a month in docs/operating.md).

ROWS deliveries processed 60 days ago (kept 30 by default) are written with one bulk SQL statement, then
`manage.py purge_old_records` removes them in its own process, in its batches and pauses, while webhooks
arrive on gunicorn with the production settings. As in webhook_ingest.py, rounds of the webhook and of its
floor (a bare Django view doing one INSERT, same server) alternate, here for as long as the purge runs.
Targets, during the purge: the webhook's throughput at least 70% of the floor's with no error, and at 50
requests a second a p99 under 200 ms. The throughput before the purge is noted beside, and how fast it
purged. The quick run (CI) purges 120,000 rows, not 1,000,000: its purge is shorter, the targets the same.

Run: .venv/bin/python bench/retention.py   (BENCH_DATABASE_URL=postgres://... for PostgreSQL)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from typing import Any

from _load import as_fast_as_possible, at_a_steady_rate
from _setup import (
    PROJECT,
    django_on_scratch_database,
    finish,
    make_webhook_rentals,
    median,
    note,
    percentile,
    planner_statistics_refreshed,
    report,
    sized,
)
from _sizes import table_sizes_noted
from _stack import running_stack
from webhook_ingest import CONNECTIONS, MIN_THROUGHPUT_RATIO, Traffic

ROWS = sized(1_000_000, 120_000)
RENTALS = 200
ROUNDS = sized(9, 5)  # pairs of rounds before the purge, and at most during it
ROUND_SECONDS = sized(2, 1.5)
LEAST_PAIRS_DURING = 3
STEADY_RATE, STEADY_SECONDS, MAX_P99_MS = 50, sized(10, 3), 200
SIZE_ROWS = sized(20_000, 5_000)


def old_deliveries_written(count: int, rental_ids: list[int]) -> float:
    """``count`` processed deliveries, 60 days old, each like a real body, in one statement; its seconds."""
    from django.db import connection

    from rentals.models import WebhookDelivery

    low, high = min(rental_ids), max(rental_ids)
    assert high - low + 1 == len(rental_ids), "the rentals' ids are one run"
    body = """'{"rentId":"1","sms":{"phoneFrom":"Bank","text":"Your code ' || n || '","date":"2026-01-01 12:00:00"}}'"""
    if connection.vendor == "postgresql":
        prefix, series = "", "generate_series(1, %s) AS n"
        blob, when = f"convert_to({body}, 'UTF8')", "now() - interval '60 days' + n * interval '1 ms'"
    else:
        prefix = "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < %s) "
        series, blob = "seq", f"CAST({body} AS BLOB)"
        when = "strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now', '-60 days')"
    # No outside input: the table, figures and expressions are the benchmark's own.
    sql = (
        f"{prefix}INSERT INTO {WebhookDelivery._meta.db_table} (rental_id, body_hash, body, content_type, "  # noqa: S608
        f"received_at, stored_at, enqueued_at, processed_at, outcome) SELECT {low} + n %% {len(rental_ids)}, "
        f"'old-' || n, {blob}, 'application/json', {when}, {when}, {when}, {when}, 'recorded' FROM {series}"
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, [count])
    planner_statistics_refreshed()
    return time.perf_counter() - started


def main() -> None:
    database_url = django_on_scratch_database()
    with running_stack(database_url, units=["web"]) as stack:  # its set-up makes the Sandbox account
        table_sizes_noted(SIZE_ROWS)
        traffic = Traffic(make_webhook_rentals(RENTALS, prefix="retention"))
        seconds = old_deliveries_written(ROWS, [rental_id for rental_id, _, _ in traffic.rentals])
        note("writing the old deliveries", f"{ROWS:,} rows in one statement, {seconds:.1f} s")
        address = ("127.0.0.1", stack.ports["web"])
        for make in (traffic.webhook, traffic.floor):  # every gunicorn thread opens its connections first
            as_fast_as_possible(address, make, connections=CONNECTIONS, seconds=1)
        before = rounds(address, traffic, purge=None)
        purge, started = purge_started(database_url), time.monotonic()
        during = rounds(address, traffic, purge=purge)
        # Each on a new connection, as SMS.online sends them: a pooled connection left idle after a
        # burst is closed by gunicorn's keep-alive timer, and would count as an error of the webhook.
        steady = at_a_steady_rate(
            address, traffic.webhook, per_second=STEADY_RATE, seconds=STEADY_SECONDS, new_connections=True
        )
        steady_during = purge.poll() is None
        output, _ = purge.communicate(timeout=3600)
        purge_seconds = time.monotonic() - started
    verdicts(before, during, steady, steady_during=steady_during)
    from django.db import connection

    from rentals.services.retention import BATCH_ROWS, SQLITE_BATCH_ROWS

    batch = SQLITE_BATCH_ROWS if connection.vendor == "sqlite" else BATCH_ROWS
    note("the purge", f"{output.strip().splitlines()[0] if output.strip() else 'no output'} in {purge_seconds:.0f} s "
                      f"({ROWS / purge_seconds:,.0f} rows/s, batches of {batch:,}, each followed by a pause at least "
                      "as long)")  # fmt: skip
    finish()


def purge_started(database_url: str) -> subprocess.Popen:
    """`manage.py purge_old_records` in its own process, as a person or the nightly task runs it."""
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "manage.py", "purge_old_records"], cwd=PROJECT, env=env,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip


def rounds(address: tuple[str, int], traffic: Traffic, *, purge: subprocess.Popen | None) -> dict[str, Any]:
    """ROUNDS pairs of rounds of the webhook and its floor, in turns first; during a purge, only while it
    runs. The median ratio of a pair's throughputs, the webhook's median rate, the errors, the pairs."""
    paths = {"webhook": traffic.webhook, "floor": traffic.floor}
    runs: dict[str, list] = {name: [] for name in paths}
    for round_number in range(ROUNDS):
        if purge is not None and purge.poll() is not None:
            break
        for name in sorted(paths, reverse=round_number % 2 == 1):
            runs[name].append(as_fast_as_possible(address, paths[name], connections=CONNECTIONS, seconds=ROUND_SECONDS))
    pairs = list(zip(runs["webhook"], runs["floor"], strict=True))
    return {
        "ratio": median([w.per_second / f.per_second for w, f in pairs]) if pairs else 0.0,
        "webhook": median([w.per_second for w, _ in pairs]) if pairs else 0.0,
        "floor": median([f.per_second for _, f in pairs]) if pairs else 0.0,
        "errors": Counter(error for done in runs.values() for run in done for error in run.errors),
        "pairs": len(pairs),
    }


def verdicts(before: dict[str, Any], during: dict[str, Any], steady: Any, *, steady_during: bool) -> None:
    enough = during["pairs"] >= LEAST_PAIRS_DURING
    report(
        f"webhook ingest vs a bare one-INSERT view while {ROWS:,} old deliveries are purged",
        f"{during['ratio']:.2f} ({during['webhook']:.0f}/s vs {during['floor']:.0f}/s, median of {during['pairs']} "
        f"pairs of rounds during the purge; errors: {dict(during['errors']) or 'none'})",
        f">= {MIN_THROUGHPUT_RATIO}, no error, at least {LEAST_PAIRS_DURING} pairs during the purge",
        during["ratio"] >= MIN_THROUGHPUT_RATIO and not during["errors"] and enough,
    )
    note("the same before the purge", f"{before['ratio']:.2f} ({before['webhook']:.0f}/s vs {before['floor']:.0f}/s); "
         f"the webhook during the purge at {during['webhook'] / before['webhook']:.2f}x its rate before")  # fmt: skip
    p50, p99 = (percentile(steady.latencies, q) * 1000 for q in (0.5, 0.99))
    still = "during the purge" if steady_during else "the purge ended before this finished"
    report(
        f"webhook at {STEADY_RATE}/s while purging",
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms ({still}); errors: {dict(Counter(steady.errors)) or 'none'}",
        f"p99 < {MAX_P99_MS} ms, no error",
        p99 < MAX_P99_MS and not steady.errors,
    )


if __name__ == "__main__":
    main()
