"""What the suite sends: SMS.online's webhooks at a steady rate, as the provider sends them.

The sender is an open loop: request i leaves at i / rate seconds whatever the earlier ones take, as
the provider's webhooks do not wait for each other, so a slow or stalled Rentdesk meets the full
load instead of a politely slowed one.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import requests

from harness.stack import Stack

# SMS.online waits this long for Rentdesk's answer (the simulator's own webhook timeout is 10 s):
# longer here, so a slow answer counts as slow rather than as lost.
ANSWER_TIMEOUT = 60.0
FIRST_SMS_AT = datetime(2030, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Rental:
    id: int
    provider_rent_id: str
    webhook_token: str


@dataclass(frozen=True)
class Sms:
    rental: Rental
    text: str
    at: datetime

    def fields(self) -> dict[str, object]:
        date = self.at.strftime("%Y-%m-%d %H:%M:%S")
        return {
            "rentId": int(self.rental.provider_rent_id),
            "sms": {"phoneFrom": "Bank", "text": self.text, "date": date},
        }


@dataclass(frozen=True)
class Delivery:
    """One POST: an SMS in one of the two wire forms the family uses."""

    sms: Sms
    body: bytes
    content_type: str

    @property
    def body_hash(self) -> str:  # as Rentdesk keys a delivery (WebhookDelivery.body_hash)
        return hashlib.sha256(self.body).hexdigest()


def as_json(sms: Sms) -> Delivery:
    return Delivery(sms, json.dumps(sms.fields()).encode(), "application/json")


def as_form(sms: Sms) -> Delivery:
    fields = sms.fields()
    sms_fields = {f"sms[{name}]": value for name, value in fields["sms"].items()}  # type: ignore[union-attr]
    return Delivery(
        sms, urlencode({"rentId": fields["rentId"], **sms_fields}).encode(), "application/x-www-form-urlencoded"
    )


def sms_storm(rentals: Sequence[Rental], *, count: int, duplicates: float, tag: str, seed: int = 14) -> list[Delivery]:
    """``count`` deliveries, ``duplicates`` of them an SMS sent before: half the same body again (a
    provider's retry), half the same SMS form-encoded (it reached Rentdesk another way). Every SMS
    text starts with ``tag`` and is unique, so what was stored can be counted per scenario."""
    rng = random.Random(seed)
    repeats = round(count * duplicates)
    originals = [
        as_json(Sms(rentals[n % len(rentals)], f"{tag} {n:05d}: code {rng.randrange(100000, 1000000)}",
                    FIRST_SMS_AT + timedelta(seconds=n)))
        for n in range(count - repeats)
    ]  # fmt: skip
    deliveries = list(originals)
    for n in range(repeats):
        # Each repeat goes somewhere after its original: a repeat never arrives first.
        original = rng.randrange(len(originals))
        again = originals[original] if n % 2 == 0 else as_form(originals[original].sms)
        deliveries.insert(rng.randrange(deliveries.index(originals[original]) + 1, len(deliveries) + 1), again)
    return deliveries


@dataclass
class Answer:
    status: int | None  # None: no HTTP answer (refused, reset, timed out)
    error: str
    started: float  # time.time()
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 400


def timed(call: Callable[[], requests.Response]) -> Answer:
    started, clock = time.time(), time.monotonic()
    try:
        status, error = call().status_code, ""
    except requests.RequestException as problem:
        status, error = None, type(problem).__name__
    return Answer(status, error, started, time.monotonic() - clock)


class Load:
    """Calls sent at ``per_second`` in the background; ``wait()`` gives their answers, in order."""

    def __init__(self, calls: Sequence[Callable[[], requests.Response]], *, per_second: float) -> None:
        self.calls, self.per_second = calls, per_second
        self.answers: list[Answer] = []
        self.started = 0.0
        self._thread = threading.Thread(target=self._send, name="load", daemon=True)

    @property
    def seconds(self) -> float:
        return len(self.calls) / self.per_second

    def start(self) -> Load:
        self.started = time.monotonic()
        self._thread.start()
        return self

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def sleep_until(self, second: float) -> None:
        """Wait until ``second`` seconds into the load."""
        time.sleep(max(0.0, second - self.elapsed()))

    def wait(self) -> list[Answer]:
        self._thread.join()
        return self.answers

    def _send(self) -> None:
        # Enough threads that slow answers never hold the next request back.
        with ThreadPoolExecutor(max_workers=256) as pool:
            futures = []
            for n, call in enumerate(self.calls):
                self.sleep_until(n / self.per_second)
                futures.append(pool.submit(timed, call))
            self.answers = [future.result() for future in futures]


def webhook_call(stack: Stack, delivery: Delivery) -> Callable[[], requests.Response]:
    """One POST to the rental's webhook URL, on a new connection, as the provider sends it."""
    url = f"{stack.url}/hooks/sms/{delivery.sms.rental.webhook_token}/"

    def call() -> requests.Response:
        with stack.session() as session:
            headers = {"Content-Type": delivery.content_type}
            return session.post(url, data=delivery.body, headers=headers, timeout=ANSWER_TIMEOUT)

    return call


def send(stack: Stack, deliveries: Sequence[Delivery], *, per_second: float) -> Load:
    return Load([webhook_call(stack, delivery) for delivery in deliveries], per_second=per_second).start()
