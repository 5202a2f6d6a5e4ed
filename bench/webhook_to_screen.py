"""Webhook to screen: from SMS.online's POST to the SMS readable on its rental, beside Celery's floor.

gunicorn and a real Celery worker with the production settings, and Redis. Each sample POSTs one
SMS to gunicorn and ends when the rental's page would show it (``selectors.live_sms_of``, the query
the page refreshes itself with). The POST goes by http.client on one kept-alive connection: the
clock counts from the request leaving, not from a client library assembling it, which took as long
as gunicorn's own part. Between two reads the benchmark sleeps on the rental's arrival channel, as
the API's long poll does (services/arrivals.py), and reads again when an SMS is announced (or after
20 ms without one): a watcher reading in a tight loop would take the CPU the worker needs on a
small machine.
The floor, taken in turn with each sample, is the round trip of an empty task through the same Redis
and worker (bench/floor.py).
Targets: p99 under 1 s, and under 2x the floor's p99.

Run: .venv/bin/python bench/webhook_to_screen.py   (BENCH_DATABASE_URL=postgres://... for PostgreSQL)
"""

from __future__ import annotations

import gc
import http.client
import json
import time
from datetime import UTC, datetime

import redis
from _setup import django_on_scratch_database, finish, make_webhook_rentals, note, percentile, report
from _stack import celery_client, running_stack, wait_for_idle_worker

# The quick run too: a p99 of 100 samples is the luck of one, and 500 take about 10 seconds.
SAMPLES = 500
WARM_UP = 10
RENTALS = 50
MAX_P99_SECONDS = 1.0
MAX_RATIO = 2.0
LOOK_AT_LEAST_EVERY = 0.02  # seconds between two looks at the rental's SMS when none is announced
GIVE_UP_AFTER = 30.0
HEADERS = {"Host": "127.0.0.1", "X-Forwarded-Proto": "https", "Content-Type": "application/json"}


def shown_on_the_rental(rental_id: int, text: str) -> bool:
    from rentals import selectors

    return any(sms.text == text for sms in selectors.live_sms_of(rental_id=rental_id))


def webhook_to_screen(
    connection: http.client.HTTPConnection, announcements: redis.Redis, rental: tuple[int, str, str], text: str
) -> tuple[float, float]:
    """Seconds until the POST was acknowledged, and until the SMS was readable on its rental."""
    from rentals.services.arrivals import arrival_channel

    rental_id, rent_id, token = rental
    sms = {"phoneFrom": "Bank", "text": text, "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")}
    body = json.dumps({"rentId": rent_id, "sms": sms}).encode()
    listener = announcements.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(arrival_channel(rental_id))  # before the POST: no announcement can come unheard
    try:
        listener.get_message(timeout=1)  # the subscription's confirmation, so the next message is an SMS's
        started = time.perf_counter()
        connection.request("POST", f"/hooks/sms/{token}/", body=body, headers=HEADERS)
        answer = connection.getresponse()
        answer.read()
        if answer.status != 200:
            raise RuntimeError(f"the webhook answered HTTP {answer.status}")
        acknowledged = time.perf_counter() - started
        # Looking at once would find nothing yet: the worker has only just been handed the SMS.
        listener.get_message(timeout=LOOK_AT_LEAST_EVERY)
        while not shown_on_the_rental(rental_id, text):
            if time.perf_counter() - started > GIVE_UP_AFTER:
                raise TimeoutError(f"{text!r} never reached its rental")
            listener.get_message(timeout=LOOK_AT_LEAST_EVERY)
        return acknowledged, time.perf_counter() - started
    finally:
        listener.close()


def empty_task_round_trip(celery: object) -> float:
    started = time.perf_counter()
    celery.send_task("bench.floor.empty", queue="urgent").get(timeout=GIVE_UP_AFTER)  # type: ignore[attr-defined]
    return time.perf_counter() - started


def main() -> None:
    database_url = django_on_scratch_database()
    with running_stack(database_url, units=["web", "worker-urgent"]) as stack:
        rentals = make_webhook_rentals(RENTALS, prefix="screen")
        celery = celery_client(stack)
        wait_for_idle_worker(celery)  # a worker that starts reads prices and balances first
        web = http.client.HTTPConnection("127.0.0.1", stack.ports["web"], timeout=30)
        announcements = redis.Redis.from_url(stack.env["REDIS_URL"])
        samples: dict[str, list[float]] = {"webhook to screen": [], "empty task round trip": [],
                                           "webhook acknowledged": []}  # fmt: skip
        for n in range(WARM_UP + SAMPLES):
            rental, text = rentals[n % RENTALS], f"Code {n:06d}"
            acknowledged, to_screen = webhook_to_screen(web, announcements, rental, text)
            floor = empty_task_round_trip(celery)
            if n >= WARM_UP:
                samples["webhook to screen"].append(to_screen)
                samples["empty task round trip"].append(floor)
                samples["webhook acknowledged"].append(acknowledged)
        # While Redis is still up: the client stops listening for results, rather than retrying for
        # a minute at exit, once the stack has stopped Redis, to say it no longer waits for them.
        gc.collect()
        celery.backend.result_consumer.stop()
    for name, seconds in samples.items():
        note(name, f"p50 {percentile(seconds, 0.5) * 1000:.1f} ms, p99 {percentile(seconds, 0.99) * 1000:.1f} ms")
    p99, floor_p99 = (percentile(samples[name], 0.99) for name in ("webhook to screen", "empty task round trip"))
    # What any store-then-process path costs at the least: its own POST, then a task's round trip.
    acknowledged, tasks = samples["webhook acknowledged"], samples["empty task round trip"]
    post_and_task = [ack + task for ack, task in zip(acknowledged, tasks, strict=True)]
    note("webhook to screen p99 vs the POST's acknowledgement plus an empty task's round trip",
         f"{p99 / percentile(post_and_task, 0.99):.2f}x")  # fmt: skip
    report(
        f"webhook to screen p99 ({SAMPLES} SMS) vs an empty Celery task's",
        f"{p99 * 1000:.0f} ms, {p99 / floor_p99:.2f}x ({floor_p99 * 1000:.0f} ms)",
        f"< {MAX_P99_SECONDS:.0f} s and < {MAX_RATIO:.0f}x",
        p99 < MAX_P99_SECONDS and p99 / floor_p99 < MAX_RATIO,
    )
    finish()


if __name__ == "__main__":
    main()
