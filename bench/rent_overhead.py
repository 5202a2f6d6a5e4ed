"""Rent overhead: Rentdesk's rent path beside a raw ``requests`` call to the simulator, rent for rent.

Rentdesk's path is ``services.rental_rent``: the attempt row committed first, the account's client,
the reply's parser, the rental row. The floor is the same getRentNumber sent with ``requests.get``,
which opens a connection for each call as Rentdesk's client does for each rent (a rent is one
request). The two alternate, against one simulator process.
Target: Rentdesk's median within 1.3x of the floor's. Printed beside it, not targets: the least any
recorded rent costs (the raw call between one INSERT before it and one UPDATE after), and the same
two paths when the simulator answers 50 ms late, as a provider across a network would.

Run: .venv/bin/python bench/rent_overhead.py   (BENCH_DATABASE_URL=postgres://... for PostgreSQL)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import requests
from _setup import django_on_scratch_database, finish, median, note, report, simulator_process, sized

RENTS = sized(200, 100)
WARM_UP = 10
MAX_RATIO = 1.3
API_KEY = "bench-rent-key-0123456789"
# Printed beside the target: the same two paths when the simulator answers this late, as a provider
# across a network does (not a target; the loopback figure is).
PROVIDER_LATENCY = 0.05
LATE_RENTS = sized(40, 20)


@contextmanager
def simulator() -> Iterator[str]:
    """A simulator in its own process, as SMS.online is; its handler_api.php URL."""
    with simulator_process() as base:
        requests.post(base + "/_control/accounts", json={"api_key": API_KEY, "balance": 1_000_000}, timeout=10)
        requests.post(base + "/_control/stock", json={"country": 1, "service": "tg", "count": 10 * RENTS}, timeout=10)
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
    rental row). Printed beside the target: what any rent path on this machine and database costs at
    the least."""
    from django.db import connection
    from django.utils import timezone

    from rentals.models import AttemptState, Country, ProviderAccount, RentAttempt, Service
    from rentals.statements import row_inserted

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


def main() -> None:
    django_on_scratch_database()
    with simulator() as api_url:
        paths = {"rentdesk": rentdesk_rent(api_url), "raw requests": raw_rent(api_url)}
        paths["raw requests, recorded before and after"] = least_recorded_rent(api_url)
        seconds: dict[str, list[float]] = {name: [] for name in paths}
        for n in range(WARM_UP + RENTS):
            for name, rent in paths.items():
                took = timed(rent)
                if n >= WARM_UP:
                    seconds[name].append(took)
        late_seconds: dict[str, list[float]] = {"rentdesk": [], "raw requests": []}
        for _ in range(LATE_RENTS):
            for name, taken in late_seconds.items():
                next_rent_answered_late(api_url)
                taken.append(timed(paths[name]))
    for name, taken in seconds.items():
        note(f"rent by {name}", f"median {median(taken) * 1000:.2f} ms, total {sum(taken):.2f} s")
    floor = median(seconds["raw requests"])
    least = median(seconds["raw requests, recorded before and after"]) / floor
    note("the least a recorded rent costs, vs a raw requests call", f"{least:.2f}x")
    late_ratio = median(late_seconds["rentdesk"]) / median(late_seconds["raw requests"])
    note(f"rent overhead with the provider answering {PROVIDER_LATENCY * 1000:.0f} ms late ({LATE_RENTS} rents each)",
         f"{late_ratio:.2f}x")  # fmt: skip
    ratio = median(seconds["rentdesk"]) / floor
    report(
        f"rent overhead: Rentdesk's rent path vs a raw requests call ({RENTS} rents each)",
        f"{ratio:.2f}x",
        f"<= {MAX_RATIO}x",
        ratio <= MAX_RATIO,
    )
    finish()


if __name__ == "__main__":
    main()
