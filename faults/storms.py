"""Webhook storms with a fault in the middle: a worker killed (S1), Redis restarted (S2), the
database gone for a while (S3), the webs and the workers restarted one by one (S6). Each webhook is
sent once, as SMS.online sends it: it never retries one that was not answered 200.

Each SMS text starts with its scenario's tag, so what was stored is counted per scenario. Stored
means an SmsMessage row: received, kept and processed, as staff see it.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import redis
import requests

from harness.databases import unavailable_for
from harness.servers import wait_until
from rentals.health import WEBHOOKS_KEPT_KEY

from .report import Figures
from .rig import Rig
from .traffic import Answer, Delivery, Load, Rental, send, sms_storm

RATE = 50  # webhooks per second (the storm)
# A killed worker's tasks, a lost queue, a failed task: all are done again within this.
RECOVERY_TARGET = 120.0
DUPLICATES = 0.2
REDIS_DOWN_SECONDS = 5.0
DATABASE_DOWN_SECONDS = 5.0
# Of the SMS made from webhooks, the share /metrics must have timed (its counts are best effort).
METRICS_TIMED_SHARE = 0.9
# How long a process leaves Redis alone after it could not count there (rentals/metrics.py's
# QUIET_AFTER_FAILURE; that module needs Django, this suite does not load it).
METRICS_QUIET_SECONDS = 10.0
# A webhook queues a processing run; polling queues a single delivery whose run never came.
PROCESSING_TASKS = ("rentals.tasks.process_webhooks", "rentals.tasks.process_webhook")
# The urgent worker's polls: those of rentals awaiting a code.
POLL_ACCOUNT = "rentals.tasks.poll_awaiting_sms"


# --- S1 ----------------------------------------------------------------------------------------


def webhook_storm_with_a_worker_killed(rig: Rig, rentals: Sequence[Rental], *, count: int) -> Figures:
    deliveries = sms_storm(rentals, count=count, duplicates=DUPLICATES, tag="S1")
    load = send(rig.stack, deliveries, per_second=RATE)
    load.sleep_until(load.seconds / 4)
    held, killed_at = kill_the_worker_holding(rig, PROCESSING_TASKS)
    waiting = unprocessed_deliveries(rig)  # the killed worker's tasks and those queued behind them
    came_back = wait_until(lambda: not unprocessed_deliveries(rig, among=waiting), seconds=RECOVERY_TARGET * 2)
    recoveries = [time.time() - killed_at if came_back else None]
    answers = load.wait()
    wait_until(lambda: all_stored(rig, deliveries, "S1"), seconds=RECOVERY_TARGET, every=1)
    figures = webhook_figures("S1 webhook storm, worker SIGKILLed", rig, deliveries, answers, tag="S1")
    held_waiting = [args[0] for task, args in held if task in PROCESSING_TASKS and args and args[0] in waiting]
    figures.notes += [
        f"{len({d.sms.text for d in deliveries})} SMS in {len(deliveries)} POSTs at {RATE}/s, {DUPLICATES:.0%} of "
        "them a repeat (the same body, or the same SMS form-encoded)",
        f"the worker and its pool SIGKILLed {load.seconds / 4:.0f} s in, holding {describe(held)}",
        f"recovery: from the kill until the {len(waiting)} "
        + ("delivery then unprocessed was" if len(waiting) == 1 else "deliveries then unprocessed were")
        + f" processed ({len(held_waiting)} of them held by the killed worker)",
    ]
    if any(task == POLL_ACCOUNT for task, _ in held):
        # It held its account's polling lease: polling resumes once the lease lapses.
        recoveries.append(first_poll_after(rig, killed_at))
        polled = "never" if recoveries[-1] is None else f"{recoveries[-1]:.0f} s after the kill"
        figures.notes.append(f"it was polling: polling again {polled}")
    figures.recovery = None if None in recoveries else max(recoveries)
    figures.expect_none("lost", "duplicates", "server_errors", "no_answer")
    figures.expect_recovery_under(RECOVERY_TARGET)
    figures.expect("the worker started again", bool(rig.restarted(killed_at)))
    return figures


def kill_the_worker_holding(
    rig: Rig, tasks: Sequence[str], *, within: float = 10.0
) -> tuple[list[tuple[str, list]], float]:
    """SIGKILL the worker and its pool at a moment it holds one of ``tasks`` (waiting up to ``within``
    for one); the tasks it held, as left unacknowledged in Redis, and the time of the kill."""
    deadline = time.monotonic() + within
    while not any(name in tasks for name, _ in rig.held_tasks()) and time.monotonic() < deadline:
        time.sleep(0.005)
    # Taken before the signal: the supervisor may see the worker gone before this thread runs again.
    killed_at = time.time()
    rig.signal("worker-urgent", signal.SIGKILL, group=True)
    return rig.held_tasks(), killed_at


def describe(held: list[tuple[str, list]]) -> str:
    if not held:
        return "no task"
    names = sorted({task.rsplit(".", 1)[-1] for task, _ in held})
    return f"{len(held)} unacknowledged task(s) ({', '.join(names)})"


def first_poll_after(rig: Rig, moment: float, *, within: float = RECOVERY_TARGET * 2) -> float | None:
    found = wait_until(lambda: rig.provider_requests("getRentStatus", since=moment), seconds=within, every=1)
    return rig.provider_requests("getRentStatus", since=moment)[0]["at"] - moment if found else None


# --- S2 ----------------------------------------------------------------------------------------


def redis_restart(rig: Rig, rentals: Sequence[Rental], *, count: int) -> Figures:
    deliveries = sms_storm(rentals, count=count, duplicates=0, tag="S2")
    load = send(rig.stack, deliveries, per_second=RATE)
    load.sleep_until(load.seconds / 4)
    rig.stack.stop_redis()  # in memory only, as scripts/redis_server.py runs it: its queue is gone
    time.sleep(REDIS_DOWN_SECONDS)
    rig.stack.start_redis()
    up_at = time.time()
    consumed = wait_until(lambda: processed_received_since(rig, up_at), seconds=RECOVERY_TARGET, every=0.5)
    consumed_after = time.time() - up_at if consumed else None
    answers = load.wait()
    stored = wait_until(lambda: all_stored(rig, deliveries, "S2"), seconds=RECOVERY_TARGET * 2, every=1)
    stored_after = time.time() - up_at
    figures = webhook_figures("S2 Redis restarted", rig, deliveries, answers, tag="S2")
    figures.recovery = consumed_after
    figures.notes += [
        f"{len(deliveries)} SMS at {RATE}/s; Redis (no persistence: its queue is lost) stopped "
        f"{load.seconds / 4:.0f} s in, started again {REDIS_DOWN_SECONDS:.0f} s later",
        "recovery: from Redis back until the worker processed a webhook received after it",
        f"every SMS stored {stored_after:.0f} s after Redis was back" if stored else "not every SMS was stored",
    ]
    figures.expect_none("lost", "duplicates", "server_errors", "no_answer")
    figures.expect("worker consumes again within 60 s", consumed_after is not None and consumed_after < 60)
    return figures


def processed_received_since(rig: Rig, moment: float) -> bool:
    query = "SELECT count(*) FROM rentals_webhookdelivery WHERE received_at > %s AND processed_at IS NOT NULL"
    return rig.value(query, rig.moment(moment)) > 0


# --- S3 ----------------------------------------------------------------------------------------


def database_outage(rig: Rig, rentals: Sequence[Rental], *, count: int) -> Figures:
    """Each webhook sent once, as SMS.online sends them (it never retries a refused one): every one
    must be answered 200 and reach the database, kept in Redis while the database is away."""
    deliveries = sms_storm(rentals, count=count, duplicates=0, tag="S3")
    # A process that could not count in Redis (S2 restarts it) leaves Redis alone for a while, and loses
    # those counts by design: S3 reads /metrics once every process counts again.
    time.sleep(METRICS_QUIET_SECONDS)
    timed_before = stored_late_by_metrics(rig)
    load = send(rig.stack, deliveries, per_second=RATE)
    load.sleep_until(load.seconds / 3)
    kept: list[int] = []
    probed: dict[str, int] = {}

    def while_away() -> None:
        kept.append(kept_now(rig))
        probed.update({path: rig.probe(path) for path in ("/livez", "/readyz", "/healthz", "/metrics")})

    how = database_unavailable(rig, seconds=DATABASE_DOWN_SECONDS, before_back=while_away)
    back_at = time.time()
    answers = load.wait()
    stored = wait_until(lambda: all_stored(rig, deliveries, "S3"), seconds=RECOVERY_TARGET * 2, every=1)
    timed = tuple(after - before for after, before in zip(stored_late_by_metrics(rig), timed_before, strict=True))
    figures = webhook_figures("S3 database down 5 s", rig, deliveries, answers, tag="S3")
    figures.recovery = time.time() - back_at if stored else None
    acknowledged = {d.body_hash for d, a in zip(deliveries, answers, strict=True) if a.status == 200}
    in_database = {row[0] for row in rig.sql("SELECT body_hash FROM rentals_webhookdelivery")}
    refused = [a for a in answers if a.status != 200]
    figures.notes += [
        f"{len(deliveries)} SMS at {RATE}/s, each sent once; {how}",
        f"answered 200: {len(acknowledged)}" + (f", else {statuses(refused)}" if refused else "")
        + f"; kept in Redis when the database came back: {kept[0] if kept else '?'}; deliveries in the database: "
        f"{len(acknowledged & in_database)} of {len(deliveries)}",
        "with the database away: " + ", ".join(f"{path} {status}" for path, status in probed.items())
        + f"; /metrics timed {timed[0]:.0f} of the {made_from_webhooks(rig)} SMS made from webhooks (the rest were "
        f"stored by polling first), {timed[1]:.0f} of them stored more than 1 s after they arrived (the database "
        f"says {stored_late_by_database(rig, deliveries)} of all the scenario's deliveries)",
        "recovery: from the database back until every SMS was stored",
    ]  # fmt: skip
    figures.expect("every webhook answered 200", not refused)
    # A load balancer keeps the web in (/readyz), monitoring sees the outage (/healthz), and /metrics
    # still answers; each kept webhook is counted as stored late.
    # A SQLite file held by another connection still answers reads: /healthz sees nothing wrong there.
    health = 503 if rig.stack.postgres_server else 200
    figures.expect(f"/livez, /readyz and /metrics 200 and /healthz {health} while the database was away",
                   probed == {"/livez": 200, "/readyz": 200, "/healthz": health, "/metrics": 200})  # fmt: skip
    # An SMS polling stored first is not timed from its webhook (it was on screen before). Counting is best
    # effort (a Redis too slow to answer loses a count, never an SMS): most are timed, none twice.
    made = made_from_webhooks(rig)
    figures.expect(f"/metrics timed at least {METRICS_TIMED_SHARE:.0%} of the SMS made from webhooks, none twice, "
                   "and no more stored late than the database says",
                   METRICS_TIMED_SHARE * made <= timed[0] <= made
                   and 0 < timed[1] <= stored_late_by_database(rig, deliveries))  # fmt: skip
    figures.expect("every delivery in the database", not {d.body_hash for d in deliveries} - in_database)
    figures.expect_none("lost", "duplicates", "server_errors", "no_answer")
    figures.expect_recovery_under(RECOVERY_TARGET)
    return figures


def stored_late_by_metrics(rig: Rig) -> tuple[float, float]:
    """How many webhooks /metrics has timed from arrival to stored, and how many of them took over 1 s."""
    count = rig.metric("rentdesk_webhook_stored_seconds_count")
    return count, count - rig.metric("rentdesk_webhook_stored_seconds_bucket", le="1.0")


def made_from_webhooks(rig: Rig, tag: str = "S3") -> int:
    """How many of the scenario's SMS rows were made from a webhook delivery (not from polling)."""
    query = "SELECT count(*) FROM rentals_smsmessage WHERE text LIKE %s AND source = %s"
    return rig.value(query, f"{tag} %", "webhook")


def stored_late_by_database(rig: Rig, deliveries: Sequence[Delivery]) -> int:
    """How many of ``deliveries`` the database stored more than 1 s after they arrived."""
    ours = {delivery.body_hash for delivery in deliveries}
    rows = rig.sql("SELECT body_hash, received_at, stored_at FROM rentals_webhookdelivery")
    return sum(1 for body_hash, received, stored in rows
               if body_hash in ours and (_moment(stored) - _moment(received)).total_seconds() > 1)  # fmt: skip


def _moment(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)  # SQLite's text


def kept_now(rig: Rig) -> int:
    """How many webhook deliveries Redis keeps for the database (rentals/health.py reads the same)."""
    try:
        return rig.redis().llen(WEBHOOKS_KEPT_KEY)
    except redis.RedisError:
        return -1


def database_unavailable(rig: Rig, *, seconds: float, before_back: Callable[[], None] = lambda: None) -> str:
    """Make the database refuse everyone for ``seconds`` (``before_back`` runs at their end, the
    database still away); says how."""
    return unavailable_for(rig.stack.database_url, seconds=seconds, before_back=before_back)


def statuses(answers: list[Answer]) -> str:
    counted: dict[str, int] = {}
    for answer in answers:
        key = str(answer.status) if answer.status else answer.error
        counted[key] = counted.get(key, 0) + 1
    return ", ".join(f"{key}: {n}" for key, n in sorted(counted.items())) or "nothing else"


# --- S6 ----------------------------------------------------------------------------------------


def rolling_restart(rig: Rig, rentals: Sequence[Rental], *, seconds: int) -> Figures:
    deliveries = sms_storm(rentals, count=seconds * RATE // 2, duplicates=0, tag="S6")
    admin = rig.stack.logged_in()
    pages = [page_call(rig, admin.cookies.get_dict()) for _ in range(seconds * 4)]
    webhooks = send(rig.stack, deliveries, per_second=RATE / 2)
    browsing = Load(pages, per_second=4).start()
    webs = rig.stack.web_names
    webhooks.sleep_until(seconds / 6)
    web_stops = [roll_web(rig, webs[0])]
    stopping = [roll_worker(rig, f"worker-{queue}", f"worker-{queue}-2") for queue in ("urgent", "background")]
    webhooks.sleep_until(seconds / 2)
    web_stops.append(roll_web(rig, webs[-1]))
    stopping += [roll_worker(rig, f"worker-{queue}-2", f"worker-{queue}") for queue in ("urgent", "background")]
    figures, failed = webhooks_and_pages_figures("S6 rolling restart", rig, deliveries, webhooks, browsing)
    figures.notes += [
        f"{len(deliveries)} webhooks at {RATE // 2}/s and {len(pages)} admin pages at 4/s for {seconds} s; "
        + _webs_rolled(webs, web_stops)
        + "; each worker replaced by a new one, the old one stopped with SIGTERM",
        f"failed requests: {len(failed)}" + (f" ({statuses(failed)})" if failed else ""),
        # A warm stop waits for the old worker's running tasks: a slow one makes a deploy slow.
        "the old workers took " + " and ".join(str(stop) for stop in stopping) + " to stop",
        "recovery: from the end of the load until every SMS was stored",
    ]
    figures.expect_none("lost", "duplicates", "server_errors", "no_answer")
    figures.expect("0 failed requests", not failed)
    figures.expect(f"each old worker stopped within {WORKER_STOP_TARGET:.0f} s",
                   all(stop.seconds <= WORKER_STOP_TARGET for stop in stopping))  # fmt: skip
    return figures


def roll_web(rig: Rig, name: str) -> float | None:
    """Restart web ``name`` as `systemctl restart` does (SIGTERM: requests in flight finish; then start it
    again), while nginx passes requests to the other web; how long it was away. With one web (no nginx
    in front to pass them on), gunicorn is reloaded instead (SIGHUP: new workers, the old ones finish)."""
    if len(rig.stack.web_names) == 1:
        rig.signal(name, signal.SIGHUP)
        return None
    started = time.monotonic()
    rig.stop(name, timeout=120)
    rig.start(name)
    assert wait_until(lambda: rig.stack.listens(name), seconds=60, every=0.1), rig.stack.log(name)[-2000:]
    return time.monotonic() - started


def _webs_rolled(webs: list[str], away: list[float | None]) -> str:
    if len(webs) == 1:
        return "gunicorn reloaded (SIGHUP) twice (one web: no nginx in front)"
    return (
        f"{len(webs)} webs behind nginx, each restarted in turn (away "
        + " and ".join(f"{seconds:.1f} s" for seconds in away if seconds is not None)
        + ")"
    )


def webhooks_and_pages_figures(
    name: str, rig: Rig, deliveries: Sequence[Delivery], webhooks: Load, browsing: Load
) -> tuple[Figures, list[Answer]]:
    """Once both loads are answered and every SMS is stored (or RECOVERY_TARGET passed): the figures of a
    scenario that sends webhooks and admin pages through a deploy, and the requests that failed."""
    answers, page_answers = webhooks.wait(), browsing.wait()
    ended = time.time()
    tag = name.split()[0]
    stored = wait_until(lambda: all_stored(rig, deliveries, tag), seconds=RECOVERY_TARGET, every=1)
    figures = webhook_figures(name, rig, deliveries, answers + page_answers, tag=tag)
    figures.sent = f"{len(deliveries)} + {len(browsing.calls)} pages"
    figures.recovery = time.time() - ended if stored else None
    return figures, [answer for answer in answers + page_answers if not answer.ok]


# A deploy replaces each worker within this: its running tasks finish first (a poll cycle is 15 s),
# and a task must not wait on the provider's rate for minutes while rentals awaiting a code take it all.
WORKER_STOP_TARGET = 90.0


@dataclass(frozen=True)
class WorkerStop:
    seconds: float
    running: list[str]  # the tasks the old worker had received and not finished when told to stop

    def __str__(self) -> str:
        held = Counter(task.rsplit(".", 1)[-1] for task in self.running)
        running = ", ".join(f"{task} x{n}" if n > 1 else task for task, n in sorted(held.items()))
        return f"{self.seconds:.0f} s" + (f" (running {running})" if running else "")


def roll_worker(rig: Rig, old: str, new: str) -> WorkerStop:
    """Start ``new``, and once it consumes, stop ``old`` warmly: its running tasks finish first. How
    long ``old`` took to stop, and what it was running."""
    logged = rig.log_size(new)
    rig.start(new)
    rig.wait_for_log(new, " ready.", after=logged)
    running = rig.unfinished_tasks(old)
    started = time.monotonic()
    rig.stop(old)
    return WorkerStop(time.monotonic() - started, running)


def page_call(rig: Rig, cookies: dict[str, str]) -> Callable[[], requests.Response]:
    """One look at the inventory by a logged-in person."""
    url = f"{rig.stack.url}/admin/rentals/rental/"

    def call() -> requests.Response:
        with rig.stack.session() as session:
            return session.get(url, cookies=cookies, timeout=60, allow_redirects=False)

    return call


# --- shared --------------------------------------------------------------------------------------


def webhook_figures(name: str, rig: Rig, deliveries: Sequence[Delivery], answers: list[Answer], *, tag: str) -> Figures:
    unique = len({delivery.sms.text for delivery in deliveries})
    rows, distinct = stored_sms(rig, tag)
    return Figures(
        name,
        sent=len(deliveries),
        stored=distinct,
        lost=unique - distinct,
        duplicates=rows - distinct,
        server_errors=sum(1 for a in answers if a.status is not None and a.status >= 500),
        no_answer=sum(1 for a in answers if a.status is None),
    )


def stored_sms(rig: Rig, tag: str) -> tuple[int, int]:
    """SMS rows of the scenario, and how many different SMS they are."""
    query = "SELECT count(*), count(DISTINCT text) FROM rentals_smsmessage WHERE text LIKE %s"
    rows, distinct = rig.sql(query, f"{tag} %")[0]
    return rows, distinct


def all_stored(rig: Rig, deliveries: Sequence[Delivery], tag: str) -> bool:
    return stored_sms(rig, tag)[1] >= len({delivery.sms.text for delivery in deliveries})


def unprocessed_deliveries(rig: Rig, *, among: Sequence[int] | None = None) -> list[int]:
    waiting = [row[0] for row in rig.sql("SELECT id FROM rentals_webhookdelivery WHERE processed_at IS NULL")]
    return waiting if among is None else sorted(set(waiting) & set(among))
