"""Webhook to screen under contention: SMS.online's webhooks at a steady rate while the app is busy
with something else, one case after the other:

(a) a fresh start: 180 active countries, no offers yet, and the catalog sync a new account or a
    worker start asks for, running (at the account's rate it takes many minutes; the quick run
    measures its first seconds);
(b) 2,000 rentals on the account polled at the rate limit (20 awaiting a code, the rest idle);
(c) 70 extension quotes at once through the API, on a provider that answers each in 3 s;
(d) the database away for 5 s: on PostgreSQL the server is stopped and started again (the benchmark
    runs on a throwaway server of its own from the machine's PostgreSQL binaries, as `make faults`
    does; without them, on BENCH_DATABASE_URL's server, the database refuses connections and its
    open ones are cut, as the fault suite's S3 does); on SQLite the file is locked exclusively.

gunicorn, both workers (as their units start them), Redis and the simulator, as in
webhook_to_screen.py, and no beat: the benchmark sends the jobs beat sends every minute or more
often (the polling cycle every 15 s among them) itself. Webhooks go to 200 rentals at RATE a second,
each POST on a new connection as SMS.online sends them (it waits ANSWER_TIMEOUT for the answer), and
leave on schedule whatever the earlier ones take. A watcher sleeps on the rentals' arrival channels
and reads each rental's SMS as its page does (``selectors.live_sms_of``) when one is announced, and
every SWEEP_EVERY anyway; an SMS's time counts from its scheduled POST until it is readable.
Targets for each case: webhook to screen p99 under 2 s (an SMS never shown counts as never), every
webhook answered 200, none lost (answered 200 and never stored). In case (d) no page answers while the
database is away (sessions and rentals live there), so an SMS that came meanwhile counts from the
database's return: the webhook is answered at once and kept, and what is measured is how soon the page
shows it once a page can; its time from the POST is noted beside.

Run: .venv/bin/python bench/contention.py [a b c d]   (BENCH_DATABASE_URL=postgres://... for PostgreSQL;
     BENCH_SIZE=quick for CI's shorter cases)
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import http.client
import json
import os
import random
import secrets
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from _setup import django_on_scratch_database, finish, note, percentile, report, sized
from _stack import celery_client, running_stack, wait_for_idle_worker

from harness.databases import ThrowawayCluster, initdb, unavailable_for

RATE = 10  # webhooks a second
RENTALS = 200  # that they go to: each gets one every 20 s, so its page's newest 10 always hold the SMS
POLLED_RENTALS = sized(2000, 1000)  # a cycle's due rentals are more than the rate allows either way
AWAITING_A_CODE = 20  # of the polled rentals
# Each case's seconds of webhooks (CI's quick run keeps its share of a 30-minute build).
SECONDS = {"a": sized(300, 10), "b": sized(120, 10), "c": sized(60, 10), "d": sized(60, 10)}
QUOTES_AFTER = 2.0  # seconds into case (c)
DATABASE_AWAY_SECONDS = 5.0
ANSWER_TIMEOUT = 10.0  # SMS.online waits this long for an answer (as the simulator's webhook does)
SETTLE = 60.0  # after the last webhook, how long an SMS answered 200 may still take to be shown
MAX_P99_SECONDS = 2.0
LOOK_AT_LEAST_EVERY = 0.02  # seconds the watcher sleeps on the arrival channels between two looks
SWEEP_EVERY = 0.2  # seconds between two looks at every rental with an SMS not yet shown
QUOTE_TIMEOUT = 120.0
RENTING_THREADS = 8  # rents made on the simulator at once, setting up
BEAT_AT_MOST_EVERY = 60  # seconds: the beat jobs the benchmark sends, as beat would
HEADERS = {"Host": "127.0.0.1", "X-Forwarded-Proto": "https"}
# Where the app keeps webhooks while the database is away, the task that stores them.
KEPT_WEBHOOKS_STORED = "rentals.tasks.store_kept_webhooks"
TITLES = {
    "a": "catalog sync on a fresh start",
    "b": f"{POLLED_RENTALS:,} rentals polled at the rate limit",
    "c": "70 quotes on a provider answering in 3 s",
    "d": f"database away {DATABASE_AWAY_SECONDS:.0f} s",
}


# --- the webhooks and the screen ---------------------------------------------------------------


@dataclass
class Sent:
    rental_id: int
    text: str
    at: float  # perf_counter() of its scheduled POST
    status: int | None = None  # None: no answer (refused, reset, or none within ANSWER_TIMEOUT)
    error: str = ""
    shown: float | None = None  # seconds from ``at`` until readable on its rental
    # Seconds after ``at`` before any page could show it: in case (d), until the database is back (no
    # admin page answers without it); its time to screen is counted from then.
    unshowable_for: float = 0.0

    @property
    def to_screen(self) -> float:
        return float("inf") if self.shown is None else self.shown - self.unshowable_for


class Screen:
    """What a person watching each rental's page sees: when each expected SMS became readable."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.pending: dict[int, dict[str, Sent]] = {}
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._watch, name="screen", daemon=True)

    def start(self) -> Screen:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.running = False
        self.thread.join()

    def expect(self, sent: Sent) -> None:
        with self.lock:
            self.pending.setdefault(sent.rental_id, {})[sent.text] = sent

    def waiting(self) -> int:
        with self.lock:
            return sum(len(texts) for texts in self.pending.values())

    def _watch(self) -> None:
        from django.db import connection

        from rentals.services.arrivals import arrival_channel

        listener = redis.Redis.from_url(self.redis_url).pubsub(ignore_subscribe_messages=True)
        listener.psubscribe(arrival_channel("*"))  # type: ignore[arg-type]
        swept = 0.0
        try:
            while self.running:
                announced = set()
                message = listener.get_message(timeout=LOOK_AT_LEAST_EVERY)
                while message:
                    announced.add(int(message["channel"].rsplit(b":", 1)[1]))
                    message = listener.get_message(timeout=0)
                if time.perf_counter() - swept >= SWEEP_EVERY:
                    swept, announced = time.perf_counter(), self._rentals_waiting()
                self._look(announced)
        finally:
            listener.close()
            connection.close()

    def _rentals_waiting(self) -> set[int]:
        with self.lock:
            return {rental_id for rental_id, texts in self.pending.items() if texts}

    def _look(self, rental_ids: set[int]) -> None:
        from django.db import DatabaseError, connection

        from rentals import selectors

        for rental_id in rental_ids & self._rentals_waiting():
            try:
                shown = {sms.text for sms in selectors.live_sms_of(rental_id=rental_id)}
            except DatabaseError:  # the database is away (case d): look again later
                connection.close()
                time.sleep(0.1)
                return
            now = time.perf_counter()
            with self.lock:
                texts = self.pending[rental_id]
                for text in [text for text in texts if text in shown]:
                    sent = texts.pop(text)
                    sent.shown = now - sent.at


@dataclass
class Flow:
    """Webhooks at RATE a second for ``seconds``, in the background, each expected on the screen."""

    port: int
    rentals: list[tuple[int, str, str]]  # id, provider rent id, webhook token
    screen: Screen
    tag: str
    seconds: float
    sent: list[Sent] = field(default_factory=list)
    started: float = 0.0

    def start(self) -> Flow:
        self.started = time.perf_counter()
        self._thread = threading.Thread(target=self._send, name=f"webhooks {self.tag}", daemon=True)
        self._thread.start()
        return self

    def sleep_until(self, second: float) -> None:
        time.sleep(max(0.0, self.started + second - time.perf_counter()))

    def finish(self) -> list[Sent]:
        """Once every webhook is answered: wait until each answered 200 is shown (SETTLE at most)."""
        self._thread.join()
        return shown_within(self.sent, SETTLE)

    def _send(self) -> None:
        with ThreadPoolExecutor(max_workers=int(RATE * ANSWER_TIMEOUT) + 16) as pool:
            for n in range(int(self.seconds * RATE)):
                self.sleep_until(n / RATE)
                rental_id, rent_id, token = self.rentals[n % len(self.rentals)]
                sent = Sent(rental_id, f"Contention {self.tag} {n:05d}: code {random.randrange(10**5, 10**6)}",
                            self.started + n / RATE)  # fmt: skip
                self.sent.append(sent)
                self.screen.expect(sent)  # before the POST: its SMS cannot be shown unseen
                pool.submit(self._post, sent, rent_id, token)

    def _post(self, sent: Sent, rent_id: str, token: str) -> None:
        sms = {"phoneFrom": "Bank", "text": sent.text, "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")}
        body = json.dumps({"rentId": int(rent_id), "sms": sms}).encode()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=ANSWER_TIMEOUT)
        try:
            connection.request("POST", f"/hooks/sms/{token}/", body=body,
                               headers={**HEADERS, "Content-Type": "application/json"})  # fmt: skip
            answer = connection.getresponse()
            answer.read()
            sent.status = answer.status
        except (OSError, http.client.HTTPException) as error:
            sent.error = type(error).__name__
        finally:
            connection.close()


def shown_within(sent: list[Sent], seconds: float) -> list[Sent]:
    """``sent``, once each SMS answered 200 is shown, or after ``seconds``."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline and unshown(sent):
        time.sleep(0.2)
    return sent


def unshown(sent: list[Sent]) -> list[Sent]:
    return [s for s in sent if s.status == 200 and s.shown is None]


def judged(code: str, sent: list[Sent]) -> None:
    """Report a case's three figures against their targets."""
    from rentals.models import SmsMessage

    name = f"contention ({code}) {TITLES[code]}"
    never = [s for s in sent if s.shown is None]
    p99 = percentile([s.to_screen for s in sent], 0.99)
    figure = "never shown" if p99 == float("inf") else f"{p99 * 1000:.0f} ms"
    figure += f" ({len(sent)} SMS at {RATE}/s" + (f", {len(never)} not shown within {SETTLE:.0f} s)" if never else ")")
    report(f"{name}: webhook to screen p99", figure, f"< {MAX_P99_SECONDS:.0f} s", p99 < MAX_P99_SECONDS)
    refused = [s for s in sent if s.status != 200]
    kinds = Counter(f"HTTP {s.status}" if s.status else (s.error or "no answer") for s in refused)
    detail = f" ({', '.join(f'{kind}: {n}' for kind, n in sorted(kinds.items()))})" if refused else ""
    report(f"{name}: webhooks answered other than 200", f"{len(refused)} of {len(sent)}{detail}", "0", not refused)
    acknowledged = [s.text for s in sent if s.status == 200 and s.shown is None]
    stored = set(SmsMessage.objects.filter(text__in=acknowledged).values_list("text", flat=True))
    lost = len(set(acknowledged) - stored)
    report(f"{name}: SMS lost (answered 200, never stored)", str(lost), "0", lost == 0)


# --- the stack, its data, and what beat would send ----------------------------------------------------


@dataclass
class Bench:
    stack: Any
    celery: Any
    screen: Screen
    rentals: list[tuple[int, str, str]]
    cluster: ThrowawayCluster | None
    beat: Beat

    def flow(self, code: str) -> Flow:
        self.beat.now()  # each case begins with a polling cycle
        return Flow(self.stack.ports["web"], self.rentals, self.screen, code, SECONDS[code]).start()

    def settled(self) -> None:
        """Between two cases: the workers idle, so one case's work does not weigh on the next."""
        self.beat.pause()
        with contextlib.suppress(TimeoutError):
            wait_for_idle_worker(self.celery, seconds=60)


class Beat:
    """The jobs beat sends every BEAT_AT_MOST_EVERY seconds or more often (the polling cycle, and any
    such job the schedule gains), sent on their schedule from the benchmark's first case on."""

    def __init__(self, celery: Any) -> None:
        from rentals.schedule import SCHEDULE

        self.celery = celery
        self.jobs = [job for job in SCHEDULE if job.every_seconds <= BEAT_AT_MOST_EVERY]
        self.due = {job.task: 0.0 for job in self.jobs}  # time.monotonic() when each is sent next
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._send, name="beat", daemon=True)

    def start(self) -> Beat:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.running = False
        self.thread.join()

    def now(self) -> None:
        """Send every job now, and from now on at its interval (a case starts with a polling cycle)."""
        with self.lock:
            self.due = dict.fromkeys(self.due, 0.0)

    def pause(self) -> None:
        """Send nothing until ``now()`` (between two cases, while the workers finish what they hold)."""
        with self.lock:
            self.due = dict.fromkeys(self.due, float("inf"))

    def _send(self) -> None:
        while self.running:
            with self.lock:
                for job in self.jobs:
                    if time.monotonic() >= self.due[job.task]:
                        self.celery.send_task(job.task)  # routed by name, as beat sends it
                        self.due[job.task] = time.monotonic() + job.every_seconds
            time.sleep(0.1)


def rentals_on_the_simulator(stack: Any, count: int, *, awaiting: int = 0, webhooks: bool = False) -> list[int]:
    """``count`` real rents on the simulator and their rentals: the first ``awaiting`` just rented, the
    rest rented hours ago, with an SMS then, and last polled at moments spread over their interval."""
    from django.utils import timezone

    from rentals.models import Country, ProviderAccount, Rental, Service
    from rentals.selectors import POLL_IDLE_EVERY

    rents = rent_on_the_simulator(stack, count)
    account = ProviderAccount.objects.get(name="Sandbox")
    service, country = Service.objects.get(code="tg"), Country.objects.get(provider_id=1)
    now, spread = timezone.now(), random.Random(13)
    idle = {"created_at": now - timedelta(hours=3), "last_sms_at": now - timedelta(hours=3)}

    def last_polled(n: int) -> datetime | None:
        return None if n < awaiting else now - spread.uniform(0, 1) * POLL_IDLE_EVERY

    made = Rental.objects.bulk_create(
        Rental(account=account, provider_rent_id=str(rent["id"]), number=str(rent["number"]), service=service,
               country=country, hours=720, end_date=now + timedelta(days=30), last_polled_at=last_polled(n),
               webhook_token=secrets.token_urlsafe(32) if webhooks else None)
        for n, rent in enumerate(rents)
    )  # fmt: skip
    ids = [rental.pk for rental in made]
    Rental.objects.filter(pk__in=ids[awaiting:]).update(**idle)
    return ids


def rent_on_the_simulator(stack: Any, count: int) -> list[dict[str, Any]]:
    import requests

    api_key, control = stack.env["SMSONLINE_API_KEY"], stack.simulator_url + "/_control/"
    requests.post(control + "accounts", json={"api_key": api_key, "balance": 10_000_000}, timeout=10).raise_for_status()
    requests.post(control + "stock", json={"country": 1, "service": "tg", "count": count + 1}, timeout=10)
    query = {"api_key": api_key, "action": "getRentNumber", "service": "tg", "country": 1, "rent_time": 720}
    api, sessions = stack.simulator_url + "/stubs/handler_api.php", threading.local()

    def rent(_: int) -> dict[str, Any]:
        if not hasattr(sessions, "session"):
            sessions.session = requests.Session()
        return sessions.session.get(api, params=query, timeout=10).json()["phone"]

    with ThreadPoolExecutor(RENTING_THREADS) as pool:
        return list(pool.map(rent, range(count)))


def provider_requests(stack: Any, actions: tuple[str, ...], *, since: float) -> int:
    import requests

    received = requests.get(stack.simulator_url + "/_control/requests", timeout=30).json()
    return sum(1 for r in received if r.get("action") in actions and r["at"] >= since)


def own_postgres_server() -> ThrowawayCluster | None:
    """On PostgreSQL, a server of the benchmark's own (so case d may stop it), when the machine has the
    binaries: BENCH_DATABASE_URL then only says to run on PostgreSQL."""
    if not os.environ.get("BENCH_DATABASE_URL"):
        return None
    binary, why_not = initdb()
    if binary is None:
        print(f"No PostgreSQL server of its own ({why_not}): case (d) cuts the database's connections instead")
        return None
    cluster = ThrowawayCluster(Path(binary).parent)
    cluster.start()
    atexit.register(cluster.stop)  # after the scratch database is dropped (atexit runs in reverse)
    os.environ["BENCH_DATABASE_URL"] = cluster.url + "/postgres"
    return cluster


# --- the cases ------------------------------------------------------------------------------------


def fresh_start(bench: Bench) -> list[Sent]:
    from faults.contention import PRICE_ACTIONS, SYNC_CATALOG, catalog_sync_stopped, fresh_catalog

    catalog = fresh_catalog(bench.stack)
    since = time.time()
    bench.celery.send_task(SYNC_CATALOG)  # routed by name, as a new account or a worker start sends it
    sent = bench.flow("a").finish()
    asked = provider_requests(bench.stack, PRICE_ACTIONS, since=since)
    still = provider_requests(bench.stack, PRICE_ACTIONS, since=time.time() - 5)
    ended = catalog_sync_stopped(bench.stack, bench.celery, catalog)
    note(f"contention (a) {TITLES['a']}",
         f"{catalog}; {asked} price requests during the case; "
         + ("still syncing at its end, then stopped" if still else "the sync had ended")
         + f" ({ended} task(s))")  # fmt: skip
    return sent


def polled_at_the_rate_limit(bench: Bench) -> list[Sent]:
    from rentals.models import Rental, RentalStatus

    made = time.monotonic()
    polled = rentals_on_the_simulator(bench.stack, POLLED_RENTALS, awaiting=AWAITING_A_CODE)
    print(f"({len(polled)} rentals made in {time.monotonic() - made:.0f} s)", flush=True)
    since = time.time()
    sent = bench.flow("b").finish()
    polls = provider_requests(bench.stack, ("getRentStatus",), since=since)
    # Done: the next cases measure without them.
    Rental.objects.filter(pk__in=polled).update(status=RentalStatus.FINISHED)
    note(f"contention (b) {TITLES['b']}",
         f"{polls} getRentStatus in {time.time() - since:.0f} s ({AWAITING_A_CODE} awaiting a code, "
         "the rest idle)")  # fmt: skip
    return sent


def slow_quotes(bench: Bench) -> list[Sent]:
    from django.contrib.auth import get_user_model

    from faults.contention import SLOW_QUOTES, slow_answers_used_up, slow_provider_for_quotes
    from rentals.services.api_tokens import api_token_create

    _, token = api_token_create(user=get_user_model().objects.get(username="boss"), name="bench contention")
    since = time.time()
    slow_provider_for_quotes(bench.stack)
    flow = bench.flow("c")
    flow.sleep_until(QUOTES_AFTER)
    with ThreadPoolExecutor(SLOW_QUOTES) as pool:
        quotes = [pool.submit(quote, bench.stack.ports["web"], token, bench.rentals[n % len(bench.rentals)][0])
                  for n in range(SLOW_QUOTES)]  # fmt: skip
        sent = flow.finish()
        answers = [future.result() for future in quotes]
    left = slow_answers_used_up(bench.stack, since=since)
    statuses = Counter(status for status, _ in answers)
    note(f"contention (c) {TITLES['c']}",
         f"quotes answered {', '.join(f'{k}: {n}' for k, n in sorted(statuses.items()))}, the last after "
         f"{max(seconds for _, seconds in answers):.1f} s; {left} never reached SMS.online")  # fmt: skip
    return sent


def quote(port: int, token: str, rental_id: int) -> tuple[str, float]:
    """One extension quote through the API: its answer ("HTTP 200", or the error) and its seconds."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=QUOTE_TIMEOUT)
    try:
        connection.request("GET", f"/api/rentals/{rental_id}/extension-price?hours=24",
                           headers={**HEADERS, "Authorization": f"Bearer {token}"})  # fmt: skip
        answer = connection.getresponse()
        answer.read()
        return f"HTTP {answer.status}", time.perf_counter() - started
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__, time.perf_counter() - started
    finally:
        connection.close()


def database_away(bench: Bench) -> list[Sent]:
    flow = bench.flow("d")
    flow.sleep_until(SECONDS["d"] / 3)
    how = database_unavailable(bench, seconds=DATABASE_AWAY_SECONDS)
    back = time.perf_counter()
    from django.db import connections

    connections.close_all()  # this thread's own were cut: the next case opens new ones
    sent = flow.finish()
    if unshown(sent) and KEPT_WEBHOOKS_STORED in registered_tasks():
        # Webhooks kept while the database was away and not moved in yet: moved in now, so that what
        # is counted lost is what never will be (their time to screen counts until then).
        bench.celery.send_task(KEPT_WEBHOOKS_STORED)
        shown_within(sent, SETTLE)
        how += f"; {KEPT_WEBHOOKS_STORED} sent once more after {SETTLE:.0f} s"
    for each in sent:
        each.unshowable_for = max(0.0, back - each.at)
    raw = percentile([float("inf") if s.shown is None else s.shown for s in sent], 0.99)
    note(f"contention (d) {TITLES['d']}", f"{how}, {SECONDS['d'] / 3:.0f} s into the case; an SMS that came "
         f"while it was away counts from its return (from its POST, p99 {raw * 1000:.0f} ms)")  # fmt: skip
    return sent


def registered_tasks() -> set[str]:
    from celery import current_app

    import rentals.tasks  # noqa: F401 - registers them

    return set(current_app.tasks)


def database_unavailable(bench: Bench, *, seconds: float) -> str:
    """Take the database away for ``seconds``; says how."""
    if bench.cluster is not None:
        bench.cluster.away_for(seconds)
        return f"PostgreSQL stopped (fast: open connections cut) and started again {seconds:.0f} s later"
    return unavailable_for(bench.stack.database_url, seconds=seconds)


CASES: dict[str, Callable[[Bench], list[Sent]]] = {
    "a": fresh_start, "b": polled_at_the_rate_limit, "c": slow_quotes, "d": database_away,
}  # fmt: skip


# The order they run in: (b)'s polls take a cycle to end, and the last case needs no wait for the next.
ORDER = "acdb"


def main() -> None:
    chosen = [code for code in ORDER if code in sys.argv[1:]] or list(ORDER)
    began = time.monotonic()
    cluster = own_postgres_server()
    database_url = django_on_scratch_database()
    with running_stack(database_url, units=["web", "worker-urgent", "worker-background"]) as stack:
        celery = celery_client(stack)
        from rentals.models import Rental

        made = rentals_on_the_simulator(stack, RENTALS, webhooks=True)
        rentals = list(Rental.objects.filter(pk__in=made).values_list("pk", "provider_rent_id", "webhook_token"))
        wait_for_idle_worker(celery)
        bench = Bench(stack, celery, Screen(stack.env["REDIS_URL"]).start(), rentals, cluster, Beat(celery).start())
        print(f"(set up in {time.monotonic() - began:.0f} s)", flush=True)
        results = {}
        try:
            for code in chosen:
                started = time.monotonic()
                results[code] = CASES[code](bench)
                measured = time.monotonic()
                if code != chosen[-1]:
                    bench.settled()
                idle = time.monotonic() - measured
                print(f"({code}: {measured - started:.0f} s, then {idle:.0f} s until the workers idled)", flush=True)
        finally:
            bench.beat.stop()
            bench.screen.stop()
            gc.collect()
    for code, sent in sorted(results.items()):
        judged(code, sent)
    finish()


if __name__ == "__main__":
    main()
