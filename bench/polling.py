"""Polling at scale: many active rentals on one account, against the simulator, with a real worker.

The rentals are real rents on the simulator; a few were just rented and await their code, the rest
are idle. The benchmark sends the "Poll SMS" task on its schedule, as beat does, and halfway through
a catalog sync, which shares the account's rate. What the simulator received, with its times, says:
- per cycle, provider calls never exceed the rentals due, and no rental is polled twice;
- no rental is polled before it is due, nor twice in a cycle;
- the account's status and price requests never exceed SMSONLINE_POLL_RATE;
- every rental awaiting a code is polled within its interval.
It also reports how many rentals one account keeps fresh at that rate.

Run: .venv/bin/python bench/polling.py   (BENCH_DATABASE_URL=postgres://... for PostgreSQL)
"""

from __future__ import annotations

import gc
import itertools
import math
import random
import time
from collections import Counter, defaultdict
from datetime import timedelta

import requests
from _setup import django_on_scratch_database, finish, note, report, sized
from _stack import celery_client, running_stack, wait_for_idle_worker

RENTALS = sized(2000, 300)
AWAITING_A_CODE = 20
CYCLES = sized(8, 3)
CATALOG_SYNC_AT_CYCLE = 2
RATE_WINDOW_SECONDS = 5
# Request times are taken as the simulator receives them; loopback adds jitter of a few milliseconds,
# this share of the window.
RATE_JITTER = 0.01
RATE_LIMITED_ACTIONS = {"getRentStatus", "getRentPrices", "getRentServicesAndCountries"}


def rent_on_the_simulator(stack: object, count: int) -> list[dict[str, object]]:
    """``count`` real rents on the account's key (balance and stock set high enough first)."""
    api_key = stack.env["SMSONLINE_API_KEY"]  # type: ignore[attr-defined]
    control = stack.simulator_url + "/_control/"  # type: ignore[attr-defined]
    requests.post(control + "accounts", json={"api_key": api_key, "balance": 1_000_000}, timeout=10).raise_for_status()
    requests.post(control + "stock", json={"country": 1, "service": "tg", "count": count + 1}, timeout=10)
    session = requests.Session()
    query = {"api_key": api_key, "action": "getRentNumber", "service": "tg", "country": 1, "rent_time": 720}
    api_url = stack.simulator_url + "/stubs/handler_api.php"  # type: ignore[attr-defined]
    return [session.get(api_url, params=query, timeout=10).json()["phone"] for _ in range(count)]


def rentals_for(rents: list[dict[str, object]]) -> dict[str, bool]:
    """The rentals Rentdesk keeps for those rents: provider id -> awaiting a code. The idle ones were
    rented hours ago, got their SMS, and were last polled at moments spread over their interval."""
    from django.utils import timezone

    from rentals.models import Country, ProviderAccount, Rental, Service
    from rentals.selectors import POLL_IDLE_EVERY

    account = ProviderAccount.objects.get(name="Sandbox")
    service, country = Service.objects.get(code="tg"), Country.objects.get(provider_id=1)
    now = timezone.now()
    Rental.objects.bulk_create(
        Rental(account=account, provider_rent_id=str(rent["id"]), number=str(rent["number"]), service=service,
               country=country, hours=720, end_date=now + timedelta(days=30))
        for rent in rents
    )  # fmt: skip
    awaiting = {str(rent["id"]) for rent in rents[:AWAITING_A_CODE]}
    idle = Rental.objects.exclude(provider_rent_id__in=awaiting)
    idle.update(created_at=now - timedelta(hours=3), last_sms_at=now - timedelta(hours=3))
    spread = random.Random(13)
    polled = [Rental(pk=pk, last_polled_at=now - timedelta(seconds=spread.uniform(0, POLL_IDLE_EVERY.total_seconds())))
              for pk in idle.values_list("pk", flat=True)]  # fmt: skip
    Rental.objects.bulk_update(polled, ["last_polled_at"], batch_size=500)
    return {str(rent["id"]): str(rent["id"]) in awaiting for rent in rents}


def run_cycles(stack: object, celery: object, cycle_seconds: float) -> tuple[float, list[int]]:
    """Send "Poll SMS" every cycle as beat would; the start time and each cycle's rentals due."""
    started = time.time()
    results = []
    for cycle in range(CYCLES):
        time.sleep(max(0.0, started + cycle * cycle_seconds - time.time()))
        results.append(celery.send_task("rentals.tasks.poll_sms", ignore_result=False))  # type: ignore[attr-defined]
        if cycle == CATALOG_SYNC_AT_CYCLE:
            celery.send_task("rentals.tasks.sync_catalog")  # type: ignore[attr-defined]
    time.sleep(max(0.0, started + CYCLES * cycle_seconds - time.time()))
    return started, [result.get(timeout=60) for result in results]


def peak_rate(moments: list[float], per_second: float) -> float:
    """The highest request rate over any run of requests spanning about RATE_WINDOW_SECONDS."""
    span = max(1, round(per_second * RATE_WINDOW_SECONDS))
    rates = [span / (moments[i + span] - moments[i]) for i in range(len(moments) - span)]
    return max(rates, default=0.0)


def main() -> None:
    database_url = django_on_scratch_database()
    from django.conf import settings

    from rentals.selectors import POLL_CYCLE, POLL_EAGER_EVERY, POLL_IDLE_EVERY

    rate = settings.SMSONLINE_POLL_RATE
    cycle = POLL_CYCLE.total_seconds()
    with running_stack(database_url, units=["worker-urgent", "worker-background"]) as stack:
        awaiting = rentals_for(rent_on_the_simulator(stack, RENTALS))
        celery = celery_client(stack)
        wait_for_idle_worker(celery)  # a worker that starts reads prices and balances first
        started, due = run_cycles(stack, celery, cycle)
        # The sent tasks' results are held in reference cycles: freed at exit, after the stack's Redis
        # has stopped, each would retry it for 20 s and print a traceback. Free them while it runs.
        gc.collect()
        received = requests.get(stack.simulator_url + "/_control/requests", timeout=30).json()
    ended = started + CYCLES * cycle
    received = [r for r in received if started <= r["at"] < ended and r["action"] in RATE_LIMITED_ACTIONS]
    polls = [(r["at"], r["id"]) for r in received if r["action"] == "getRentStatus"]

    per_cycle = [Counter(rent for at, rent in polls if int((at - started) // cycle) == n) for n in range(CYCLES)]
    over = [n for n, calls in enumerate(per_cycle) if calls.total() > due[n] or max(calls.values(), default=0) > 1]
    report(
        f"polling {RENTALS} rentals on one account: calls per cycle vs rentals due",
        ", ".join(f"{calls.total()}/{due[n]}" for n, calls in enumerate(per_cycle)) + f" ({len(over)} over)",
        "never more calls than rentals due, no rental twice in a cycle",
        not over,
    )
    times_of: dict[str, list[float]] = defaultdict(list)
    for at, rent in polls:
        times_of[rent].append(at)
    early = []
    for rent, moments in times_of.items():
        # Due once the cycle after next could reach it too late (selectors.rentals_due_for_poll).
        interval = (POLL_EAGER_EVERY if awaiting[rent] else POLL_IDLE_EVERY) - 2 * POLL_CYCLE
        early += [b - a for a, b in itertools.pairwise(moments) if b - a < interval.total_seconds()]
    report("polling: rentals polled before they were due", str(len(early)), "none", not early)

    peak = peak_rate(sorted(r["at"] for r in received), rate)
    report(
        "polling: the account's status and price requests",
        f"at most {peak:.2f}/s over {RATE_WINDOW_SECONDS} s ({len(received)} requests)",
        f"<= SMSONLINE_POLL_RATE ({rate:g}/s)",
        peak <= rate * (1 + RATE_JITTER),
    )
    gaps = []
    for rent in (rent for rent, is_awaiting in awaiting.items() if is_awaiting):
        moments = [started, *times_of[rent]]
        gaps.append(max(b - a for a, b in itertools.pairwise(moments)) if len(moments) > 1 else math.inf)
    report(
        f"polling: the {AWAITING_A_CODE} rentals awaiting a code",
        f"longest wait between polls {max(gaps):.1f} s",
        f"<= {POLL_EAGER_EVERY.total_seconds():.0f} s",
        max(gaps) <= POLL_EAGER_EVERY.total_seconds(),
    )
    per_second = len(polls) / (ended - started)
    # An idle rental is polled on the last cycle that surely reaches it within 5 minutes: every 270 s at least.
    idle_kept = per_second * (POLL_IDLE_EVERY - 2 * POLL_CYCLE).total_seconds()
    note(
        "polling: rentals one account keeps fresh",
        f"{per_second:.2f} status requests/s at {rate:g}/s: {idle_kept:.0f} idle rentals (each every "
        f"{POLL_IDLE_EVERY.total_seconds() / 60:.0f} min), or {per_second * cycle:.0f} awaiting a code "
        f"(each every {cycle:.0f} s)",
    )
    finish()


if __name__ == "__main__":
    main()
