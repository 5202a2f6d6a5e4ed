"""Rent overhead: Rentdesk's rent path beside the least any recorded rent costs, rent for rent.

Rentdesk's path is ``services.rental_rent``: the account read under its lock, the budgets checked,
the attempt committed with its time of sending, the account's client, the reply's parser, then the
rental, its history row and the attempt's outcome committed together. The floor is the least a rent
that records its spending call may cost: a raw ``requests.get`` of getRentNumber between one INSERT
committed before it and one UPDATE after, each a statement built by hand (no check, no rental row).
A raw call alone opens a connection for each call as Rentdesk's client does for each rent (a rent
is one request), and is printed beside them. The paths take turns rent by rent against one simulator
process, in rounds whose order alternates; each figure is the median of the rounds' ratios.
Targets: Rentdesk's rent within 1.5x of the floor; and within 1.1x of a raw call when the simulator
answers 50 ms late, as a provider across a network would.

Run: .venv/bin/python bench/rent_overhead.py   (BENCH_DATABASE_URL=postgres://... for PostgreSQL)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import requests
from _setup import django_on_scratch_database, finish, median, note, report, sized

from harness.servers import simulator_process

ROUNDS = sized(9, 7)
RENTS_PER_ROUND = 40  # the quick run's too: its rounds of 25 rents ranged from 0.9x to 2.1x
WARM_UP = 10
MAX_RATIO = 1.5
FLOOR = "raw requests, recorded before and after"
API_KEY = "bench-rent-key-0123456789"
# The simulator answers the second target's rents this late, as a provider across a network does.
PROVIDER_LATENCY = 0.05
LATE_ROUNDS = 7  # the quick run's too: a rent 50 ms late costs the path little, the machine's noise much
LATE_RENTS_PER_ROUND = 8
MAX_LATE_RATIO = 1.1
STOCK = 3 * (WARM_UP + ROUNDS * RENTS_PER_ROUND) + 2 * LATE_ROUNDS * LATE_RENTS_PER_ROUND + 100


@contextmanager
def simulator() -> Iterator[str]:
    """A simulator in its own process, as SMS.online is; its handler_api.php URL."""
    with simulator_process() as base:
        requests.post(base + "/_control/accounts", json={"api_key": API_KEY, "balance": 1_000_000}, timeout=10)
        requests.post(base + "/_control/stock", json={"country": 1, "service": "tg", "count": STOCK}, timeout=10)
        yield base + "/stubs/handler_api.php"


def rentdesk_rent(api_url: str) -> Callable[[], None]:
    from rentals import services
    from rentals.models import Country, Service

    account = services.account_create(name="Bench", api_url=api_url, api_key=API_KEY)
    service, country = Service.objects.get(code="tg"), Country.objects.get(provider_id=1)

    def rent() -> None:
        outcome = services.rental_rent(
            account=account, service=service, country=country, operator="any", hours=24, webhook=True,
            nonce=uuid.uuid4(), requested_by=None, via="cli",
        )  # fmt: skip
        assert outcome.ok, outcome.message

    return rent


def raw_rent(api_url: str) -> Callable[[], None]:
    def rent() -> None:
        webhook = f"https://rentdesk.example.test/hooks/sms/{uuid.uuid4().hex}/"
        query = {"api_key": API_KEY, "action": "getRentNumber", "service": "tg", "country": 1, "operator": "any",
                 "rent_time": 24, "time": 24, "url": webhook}  # fmt: skip
        reply = requests.get(api_url, params=query, timeout=30)
        assert reply.json()["status"] == "success", reply.text

    return rent


def least_recorded_rent(api_url: str) -> Callable[[], None]:
    """The raw call between the least recording a spending call may have: its row committed before it is
    sent, its outcome committed after, each one statement built by hand (no ORM building, no checks, no
    rental row): what any rent path on this machine and database costs at the least."""
    from django.db import connection
    from django.utils import timezone

    from rentals.models import AttemptState, Country, ProviderAccount, RentAttempt, Service
    from rentals.raw_sql import row_inserted

    account = ProviderAccount.objects.get(name="Bench")
    service, country = Service.objects.get(code="tg"), Country.objects.get(provider_id=1)
    raw = raw_rent(api_url)
    field, quote = RentAttempt._meta.get_field, connection.ops.quote_name
    finish = (
        f"UPDATE {quote(RentAttempt._meta.db_table)} SET {quote(field('state').column)} = %s, "  # noqa: S608
        f"{quote(field('finished_at').column)} = %s WHERE {quote(RentAttempt._meta.pk.column)} = %s"
    )

    def rent() -> None:
        attempt = RentAttempt(nonce=uuid.uuid4(), account=account, service=service, country=country, operator="any",
                              hours=24, via="cli")  # fmt: skip
        row_inserted(attempt)  # one statement, committed at once (autocommit)
        raw()
        finished_at = field("finished_at").get_db_prep_save(timezone.now(), connection)
        with connection.cursor() as cursor:
            cursor.execute(finish, [AttemptState.SUCCEEDED, finished_at, attempt.pk])

    return rent


def timed(call: Callable[[], None]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def next_rent_answered_late(api_url: str) -> None:
    """The simulator carries the next getRentNumber out as usual and answers PROVIDER_LATENCY late."""
    control = api_url.replace("/stubs/handler_api.php", "/_control/force")
    requests.post(control, json={"action": "getRentNumber", "delay": PROVIDER_LATENCY}, timeout=10)


def rounds(
    paths: dict[str, Callable[[], None]], *, count: int, rents: int, before: Callable[[], None] = lambda: None
) -> dict[str, list[float]]:
    """Each path's median rent time in each of ``count`` rounds of ``rents`` rents a path: the paths take
    turns rent by rent, in an order that alternates from round to round, so that they share the
    machine's noise of the moment. ``before`` runs, untimed, before each rent."""
    medians: dict[str, list[float]] = {name: [] for name in paths}
    for round_number in range(count):
        order = sorted(paths, reverse=round_number % 2 == 1)
        taken: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(rents):
            for name in order:
                before()
                taken[name].append(timed(paths[name]))
        for name, seconds in taken.items():
            medians[name].append(median(seconds))
    return medians


def round_ratio(medians: dict[str, list[float]], path: str, floor: str) -> float:
    return median([mine / least for mine, least in zip(medians[path], medians[floor], strict=True)])


def main() -> None:
    django_on_scratch_database()
    with simulator() as api_url:
        paths = {"rentdesk": rentdesk_rent(api_url), "raw requests": raw_rent(api_url)}
        paths[FLOOR] = least_recorded_rent(api_url)
        rounds(paths, count=1, rents=WARM_UP)
        loopback = rounds(paths, count=ROUNDS, rents=RENTS_PER_ROUND)
        late_paths = {name: paths[name] for name in ("rentdesk", "raw requests")}
        late = rounds(late_paths, count=LATE_ROUNDS, rents=LATE_RENTS_PER_ROUND,
                      before=lambda: next_rent_answered_late(api_url))  # fmt: skip
    for name, medians in loopback.items():
        note(f"rent by {name}", f"median {median(medians) * 1000:.2f} ms ({min(medians) * 1000:.2f} to "
                                f"{max(medians) * 1000:.2f} over {ROUNDS} rounds)")  # fmt: skip
    least = round_ratio(loopback, FLOOR, "raw requests")
    note("the least a recorded rent costs, vs a raw requests call", f"{least:.2f}x")
    ratios = [mine / floor for mine, floor in zip(loopback["rentdesk"], loopback[FLOOR], strict=True)]
    ratio = median(ratios)
    report(
        f"rent path: Rentdesk's rent vs the least recorded rent ({ROUNDS} rounds of {RENTS_PER_ROUND} rents each)",
        f"{ratio:.2f}x (rounds {min(ratios):.2f}x to {max(ratios):.2f}x)",
        f"<= {MAX_RATIO}x",
        ratio <= MAX_RATIO,
    )
    late_ratio = round_ratio(late, "rentdesk", "raw requests")
    rounds_done = f"{LATE_ROUNDS} rounds of {LATE_RENTS_PER_ROUND} rents each"
    report(
        f"rent path with the provider answering {PROVIDER_LATENCY * 1000:.0f} ms late: Rentdesk's rent vs a raw "
        f"requests call ({rounds_done})",
        f"{late_ratio:.2f}x ({median(late['rentdesk']) * 1000:.1f} ms vs {median(late['raw requests']) * 1000:.1f} ms)",
        f"<= {MAX_LATE_RATIO}x",
        late_ratio <= MAX_LATE_RATIO,
    )
    finish()


if __name__ == "__main__":
    main()
