"""Webhook storms while the provider's long jobs or slow answers hold the app's resources: a catalog
sync on a fresh start (S7) and 70 extension quotes waiting on a provider that answers in 3 s (S8).

Targets, as for the issue's benchmarks under contention (bench/contention.py measures the same
cases with a watcher on the rental's page): every webhook answered 200, none lost, and the webhook
to screen p99 under 2 s. Here "on screen" is the SMS row's creation, read from the database
afterwards (the page shows it once its transaction commits, a few milliseconds later).

The set-ups are shared with bench/contention.py: the 180-country catalog with no offers yet, the
catalog sync stopped again afterwards, and the slow provider for quotes.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

from harness.servers import wait_until
from harness.stack import Stack

from .renting import READ_TIMEOUT
from .report import Figures
from .rig import Rig
from .storms import RATE, RECOVERY_TARGET, all_stored, statuses, webhook_figures
from .traffic import Answer, Delivery, Load, Rental, send, sms_storm

# The provider-sized catalog: the countries a new account syncs, at 9 rent times each.
FRESH_START_COUNTRIES = 180
SLOW_QUOTES = 70
SLOW_PROVIDER_SECONDS = 3.0
# The quote's action (client.ACTION_NAMES["extension_price"]: the current name, tried first).
QUOTE_ACTION = "continueRentInfo"
QUOTE_TIMEOUT = 120.0
MAX_P99_SECONDS = 2.0
SYNC_CATALOG = "rentals.tasks.sync_catalog"
PRICE_ACTIONS = ("getRentPrices", "getRentServicesAndCountries")


# --- shared with bench/contention.py ------------------------------------------------------------


@dataclass(frozen=True)
class FreshCatalog:
    active_before: list[int]  # provider ids of the countries active before, made active again afterwards
    countries: int
    known_to_the_simulator: int  # of them, how many the simulator answers with prices (else BAD_COUNTRY)

    def __str__(self) -> str:
        priced = f"the simulator prices {self.known_to_the_simulator}"
        if self.known_to_the_simulator < self.countries:
            priced += " of them, the rest answer BAD_COUNTRY"
        return f"{self.countries} active countries x 9 rent times ({priced}), no offers yet"


def catalog_country_ids(stack: Stack, count: int) -> tuple[list[int], int]:
    """``count`` provider country ids, as a provider-sized simulator offers them; and how many it prices."""
    answer = requests.post(f"{stack.simulator_url}/_control/countries", json={"count": count}, timeout=30)
    answer.raise_for_status()
    ids = [int(n) for n in answer.json()["countries"]][:count]
    return ids, len(ids)


def fresh_catalog(stack: Stack, *, countries: int = FRESH_START_COUNTRIES) -> FreshCatalog:
    """A fresh start: ``countries`` active countries (made where missing, offered by the simulator) and
    no offers yet."""
    ids, known = catalog_country_ids(stack, countries)
    active_before = [row[0] for row in stack.sql("SELECT provider_id FROM rentals_country WHERE is_active = %s", True)]
    existing = {row[0] for row in stack.sql("SELECT provider_id FROM rentals_country")}
    missing = [n for n in ids if n not in existing]
    if missing:
        rows = ", ".join(["(%s, %s, %s)"] * len(missing))
        values = [value for n in missing for value in (n, f"Country {n}", True)]
        stack.sql(f"INSERT INTO rentals_country (provider_id, name, is_active) VALUES {rows}", *values)  # noqa: S608
    _activate_only(stack, ids)
    stack.sql("DELETE FROM rentals_offer")
    return FreshCatalog(active_before, len(ids), known)


def _activate_only(stack: Stack, provider_ids: Sequence[int]) -> None:
    stack.sql("UPDATE rentals_country SET is_active = %s", False)
    listed = ", ".join(str(int(n)) for n in provider_ids) or "NULL"
    stack.sql(f"UPDATE rentals_country SET is_active = %s WHERE provider_id IN ({listed})", True)  # noqa: S608


def catalog_sync_stopped(stack: Stack, celery: Any, catalog: FreshCatalog) -> int:
    """End a catalog sync still running (minutes of requests at the account's rate would weigh on
    whatever is measured next): the countries active before, the sync's running tasks terminated and
    its queued ones (a sync in chunks) taken off the background queue. How many tasks it ended."""
    _activate_only(stack, catalog.active_before)
    running = [task["id"] for tasks in (celery.control.inspect(timeout=1).active() or {}).values()
               for task in tasks if "catalog" in task.get("name", "")]  # fmt: skip
    if running:
        celery.control.revoke(running, terminate=True)
    return len(running) + _unqueued(stack, "background", lambda task: "catalog" in task)


def _unqueued(stack: Stack, queue: str, drop: Callable[[str], bool]) -> int:
    """Take the messages of tasks ``drop`` names off ``queue`` (kombu's Redis list); how many."""
    import redis

    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    dropped = 0
    for raw in client.lrange(queue, 0, -1):
        if drop(json.loads(raw).get("headers", {}).get("task", "")):
            dropped += client.lrem(queue, 1, raw)
    return dropped


def celery_of(stack: Stack) -> Any:
    """A Celery client on the stack's Redis, to send tasks by name and to control the workers."""
    from celery import Celery

    from rentals import queues

    client = Celery("faults", broker=stack.env["REDIS_URL"])
    # Sent by name, a task goes to the queue the app routes it to.
    client.conf.task_default_queue, client.conf.task_routes = queues.BACKGROUND_QUEUE, queues.TASK_ROUTES
    return client


def catalog_sync_started(celery: Any) -> None:
    """As a new account or a worker start asks for it; the background queue, as CELERY_TASK_ROUTES routes it."""
    celery.send_task(SYNC_CATALOG, queue="background")


def slow_provider_for_quotes(stack: Stack, *, count: int = SLOW_QUOTES, seconds: float = SLOW_PROVIDER_SECONDS) -> None:
    """The simulator answers the next ``count`` quotes ``seconds`` late (each forced reply is used once)."""
    for _ in range(count):
        response = requests.post(f"{stack.simulator_url}/_control/force",
                                 json={"action": QUOTE_ACTION, "delay": seconds}, timeout=10)  # fmt: skip
        response.raise_for_status()


def slow_answers_used_up(stack: Stack, *, since: float, count: int = SLOW_QUOTES) -> int:
    """Use up the slow answers no quote took (a quote refused before it reached the provider leaves
    one), so no later request meets them; how many were left."""
    received = requests.get(f"{stack.simulator_url}/_control/requests", timeout=30).json()
    left = max(0, count - sum(1 for r in received if r.get("action") == QUOTE_ACTION and r["at"] >= since))
    query = {"api_key": stack.env["SMSONLINE_API_KEY"], "action": QUOTE_ACTION, "id": "0", "hours": "24"}

    def ask(_: int) -> None:
        requests.get(f"{stack.simulator_url}/stubs/handler_api.php", params=query, timeout=30)

    with ThreadPoolExecutor(max(1, left)) as pool:
        list(pool.map(ask, range(left)))
    return left


def api_token_of_boss(rig: Rig) -> str:
    """A new API token of the stack's superuser, stored as the admin stores one (its hash)."""
    plain = "rdk_" + secrets.token_urlsafe(32)
    key_hash = hashlib.sha256(plain.encode()).hexdigest()
    rig.sql("INSERT INTO rentals_apitoken (user_id, name, prefix, key_hash, created_at) "
            "VALUES ((SELECT id FROM auth_user WHERE username = %s), %s, %s, %s, %s)",
            "boss", "faults S8", plain[:12], key_hash, rig.moment(time.time()))  # fmt: skip
    return plain


# --- S7 ------------------------------------------------------------------------------------------


def catalog_sync_on_a_fresh_start(rig: Rig, rentals: Sequence[Rental], *, seconds: int) -> Figures:
    catalog = fresh_catalog(rig.stack)
    celery = celery_of(rig.stack)
    started = time.time()
    catalog_sync_started(celery)
    deliveries = sms_storm(rentals, count=seconds * RATE, duplicates=0, tag="S7")
    answers = send(rig.stack, deliveries, per_second=RATE).wait()
    asked = [r for r in rig.simulator("requests") if r.get("action") in PRICE_ACTIONS and r["at"] >= started]
    still_syncing = not rig.ran(SYNC_CATALOG)
    wait_until(lambda: all_stored(rig, deliveries, "S7"), seconds=RECOVERY_TARGET, every=1)
    ended = catalog_sync_stopped(rig.stack, celery, catalog)
    figures = contention_figures("S7 catalog sync on a fresh start", rig, deliveries, answers, tag="S7")
    figures.notes.insert(0, f"{len(deliveries)} webhooks at {RATE}/s while the catalog sync of a fresh start "
                         f"ran: {catalog}; {len(asked)} price requests meanwhile; "
                         + ("still syncing at the end, then stopped" if still_syncing else "the sync ended")
                         + f" ({ended} task(s) ended)")  # fmt: skip
    return figures


# --- S8 ------------------------------------------------------------------------------------------


def slow_quotes(rig: Rig, rentals: Sequence[Rental], *, seconds: int) -> Figures:
    token = api_token_of_boss(rig)
    since = time.time()
    slow_provider_for_quotes(rig.stack)
    deliveries = sms_storm(rentals, count=seconds * RATE, duplicates=0, tag="S8")
    webhooks = send(rig.stack, deliveries, per_second=RATE)
    webhooks.sleep_until(2)
    # All at once: people opening the extend form, or a script asking for every rental's price.
    quotes = Load([quote_call(rig.stack, token, rentals[n % len(rentals)]) for n in range(SLOW_QUOTES)],
                  per_second=1000).start()  # fmt: skip
    answers, quote_answers = webhooks.wait(), quotes.wait()
    wait_until(lambda: all_stored(rig, deliveries, "S8"), seconds=RECOVERY_TARGET, every=1)
    left = slow_answers_used_up(rig.stack, since=since)
    figures = contention_figures("S8 70 quotes on a slow provider", rig, deliveries, answers, tag="S8")
    figures.notes.insert(0, f"{len(deliveries)} webhooks at {RATE}/s; 2 s in, {SLOW_QUOTES} extension quotes at once "
                         f"through the API, SMS.online answering each {SLOW_PROVIDER_SECONDS:.0f} s late: answered "
                         f"{statuses(quote_answers)} (502: no price in time, the stack's read timeout being "
                         f"{READ_TIMEOUT} s), the last after {max(a.seconds for a in quote_answers):.0f} s; "
                         f"{left} never reached SMS.online")  # fmt: skip
    return figures


def quote_call(stack: Stack, token: str, rental: Rental) -> Callable[[], requests.Response]:
    url = f"{stack.url}/api/rentals/{rental.id}/extension-price?hours=24"

    def call() -> requests.Response:
        with stack.session() as session:
            return session.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=QUOTE_TIMEOUT)

    return call


# --- shared by S7 and S8 -------------------------------------------------------------------------------


def contention_figures(
    name: str, rig: Rig, deliveries: Sequence[Delivery], answers: list[Answer], *, tag: str
) -> Figures:
    figures = webhook_figures(name, rig, deliveries, answers, tag=tag)
    refused = [a for a in answers if a.status != 200]
    p99 = screen_p99(rig, deliveries, answers, tag=tag)
    shown = "some never" if p99 == float("inf") else f"p99 {p99:.2f} s"
    figures.notes += [f"answered other than 200: {len(refused)}" + (f" ({statuses(refused)})" if refused else ""),
                      f"webhook to screen (sent until its SMS row was made) {shown}"]  # fmt: skip
    figures.expect_none("lost", "duplicates", "server_errors", "no_answer")
    figures.expect("every webhook answered 200", not refused)
    figures.expect(f"webhook to screen p99 under {MAX_P99_SECONDS:.0f} s", p99 < MAX_P99_SECONDS)
    return figures


def screen_p99(rig: Rig, deliveries: Sequence[Delivery], answers: list[Answer], *, tag: str) -> float:
    """The 99th percentile, over the SMS sent, of the seconds from its first POST to its row (an SMS
    never stored counts as never shown)."""
    sent: dict[str, float] = {}
    for delivery, answer in zip(deliveries, answers, strict=True):
        sent.setdefault(delivery.sms.text, answer.started)
    made = dict(rig.sql("SELECT text, min(created_at) FROM rentals_smsmessage WHERE text LIKE %s GROUP BY text",
                        f"{tag} %"))  # fmt: skip
    seconds = sorted(_epoch(made[text]) - at if text in made else float("inf") for text, at in sent.items())
    return seconds[min(len(seconds) - 1, max(0, round(0.99 * len(seconds)) - 1))] if seconds else float("inf")


def _epoch(moment: datetime | str) -> float:
    """A stored datetime as Unix seconds (SQLite gives naive UTC text)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace(" ", "T") + ("" if "+" in moment else "+00:00"))
    return moment.timestamp()
