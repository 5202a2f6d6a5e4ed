"""Webhook ingest on gunicorn with the production settings, beside its floor on the same server.

The floor is a bare Django view doing one INSERT (bench/floor.py), served by the same gunicorn
with the same middleware. Rounds of each alternate, so the machine's noise falls on both alike.
Targets: the webhook's throughput is at least 70% of the floor's, with no error; the
acknowledgement's p50 and p99 at 50 requests per second are reported for both.

Run: .venv/bin/python bench/webhook_ingest.py   (BENCH_DATABASE_URL=postgres://... for PostgreSQL)
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from _load import Run, as_fast_as_possible, at_a_steady_rate, post
from _setup import django_on_scratch_database, finish, make_webhook_rentals, median, note, percentile, report, sized
from _stack import running_stack

ROUNDS = sized(9, 5)
ROUND_SECONDS = sized(2, 1.5)
CONNECTIONS = 16
STEADY_RATE = 50
STEADY_SECONDS = sized(10, 3)
RENTALS = 200
MIN_THROUGHPUT_RATIO = 0.7


class Traffic:
    """What SMS.online sends, through the proxy's headers: a distinct SMS each time."""

    HEADERS = {"Host": "127.0.0.1", "X-Forwarded-Proto": "https", "Content-Type": "application/json"}

    def __init__(self, rentals: list[tuple[int, str, str]]) -> None:
        self.rentals = rentals
        self.sent = 0

    def body(self, rent_id: str) -> bytes:
        self.sent += 1
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        sms = {"phoneFrom": "Bank", "text": f"Your code {self.sent:06d}", "date": now}
        return json.dumps({"rentId": rent_id, "sms": sms}).encode()

    def webhook(self, n: int) -> bytes:
        _, rent_id, token = self.rentals[n % len(self.rentals)]
        return post(f"/hooks/sms/{token}/", self.body(rent_id), headers=self.HEADERS)

    def floor(self, n: int) -> bytes:
        rental_id, rent_id, _ = self.rentals[n % len(self.rentals)]
        return post(f"/bench/insert/{rental_id}/", self.body(rent_id), headers=self.HEADERS)


def main() -> None:
    database_url = django_on_scratch_database()
    # No worker: what is measured is the acknowledgement (the processing runs queue up in Redis).
    with running_stack(database_url, units=["web"]) as stack:
        measure(Traffic(make_webhook_rentals(RENTALS, prefix="ingest")), stack)
    finish()


def measure(traffic: Traffic, stack: Any) -> None:
    address = ("127.0.0.1", stack.ports["web"])
    paths = {"webhook": traffic.webhook, "floor": traffic.floor}
    for make in paths.values():  # every gunicorn thread opens its connections first
        as_fast_as_possible(address, make, connections=CONNECTIONS, seconds=1)
    runs: dict[str, list[Run]] = {name: [] for name in paths}
    for round_number in range(ROUNDS):
        # Each pair of rounds back to back, in turns first: a pair shares the machine's noise of the moment.
        for name in sorted(paths, reverse=round_number % 2 == 1):
            runs[name].append(as_fast_as_possible(address, paths[name], connections=CONNECTIONS, seconds=ROUND_SECONDS))
    pair_ratios = [w.per_second / f.per_second for w, f in zip(runs["webhook"], runs["floor"], strict=True)]
    ratio = median(pair_ratios)
    rates = {name: median([run.per_second for run in done]) for name, done in runs.items()}
    errors = Counter(error for done in runs.values() for run in done for error in run.errors)
    report(
        "webhook ingest throughput vs a bare one-INSERT view",
        f"{ratio:.2f} ({rates['webhook']:.0f}/s vs {rates['floor']:.0f}/s, median of {ROUNDS} pairs of rounds; "
        f"errors: {dict(errors) or 'none'})",
        f">= {MIN_THROUGHPUT_RATIO} and no error",
        ratio >= MIN_THROUGHPUT_RATIO and not errors,
    )
    steady = {name: at_a_steady_rate(address, make, per_second=STEADY_RATE, seconds=STEADY_SECONDS)
              for name, make in paths.items()}  # fmt: skip
    for name, run in steady.items():
        p50, p99 = (percentile(run.latencies, q) * 1000 for q in (0.5, 0.99))
        note(f"{name} acknowledgement at {STEADY_RATE}/s", f"p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    steady_errors = Counter(error for run in steady.values() for error in run.errors)
    report(f"webhook ingest at {STEADY_RATE}/s", f"errors: {dict(steady_errors) or 'none'}", "no error",
           not steady_errors)  # fmt: skip


if __name__ == "__main__":
    main()
