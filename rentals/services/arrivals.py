"""Waiting for the next SMS of a rental (the API's long poll) without holding the database meanwhile.

When an SMS is recorded, a message goes to a Redis channel of its rental. A waiting request reads the
database once, gives its connection back, and sleeps on that channel: it wakes as soon as an SMS is
recorded anywhere (a worker, another web process), and reads the database once more. Every few
seconds it reads anyway, so a message lost on the way (Redis restarting) costs a few seconds, not the
SMS. Without Redis it reads once a second, still without keeping a connection between reads.
"""

from __future__ import annotations

import logging
import time
from functools import cache

import redis
from django.conf import settings
from django.db import connection

from ..models import SmsMessage

logger = logging.getLogger(__name__)

# How often a waiting request reads the database even without news: with Redis, and without it.
RECHECK_WITH_REDIS = 5.0
RECHECK_WITHOUT_REDIS = 1.0


def arrival_channel(rental_id: int) -> str:
    """The Redis channel told of each SMS recorded for the rental, once committed."""
    return f"rentdesk:sms-arrived:{rental_id}"


@cache
def _redis(url: str) -> redis.Redis:
    # Short timeouts: an SMS is recorded whether or not anybody could be told.
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)


def sms_announce(rental_id: int) -> None:
    """Wake the requests waiting for this rental's next SMS (best effort: they also read on their own)."""
    try:
        _redis(settings.REDIS_URL).publish(arrival_channel(rental_id), b"1")
    except redis.RedisError as error:
        logger.debug("SMS arrival of rental %s not announced: %s", rental_id, error)


def sms_next(*, rental_id: int, after_id: int) -> SmsMessage | None:
    """The rental's oldest SMS after ``after_id``: the one a script has not seen yet."""
    return SmsMessage.objects.filter(rental_id=rental_id, pk__gt=after_id).order_by("pk").first()


def sms_wait(*, rental_id: int, after_id: int, timeout: float) -> SmsMessage | None:
    """The rental's next SMS after ``after_id``, waiting up to ``timeout`` seconds for one to arrive."""
    deadline = time.monotonic() + timeout
    listener = _listen(rental_id)
    try:
        while True:
            found = sms_next(rental_id=rental_id, after_id=after_id)
            left = deadline - time.monotonic()
            if found is not None or left <= 0:
                return found
            release_connection()
            if listener is not None:
                _hear(listener, min(left, RECHECK_WITH_REDIS))
            else:
                time.sleep(min(left, RECHECK_WITHOUT_REDIS))
    finally:
        if listener is not None:
            listener.close()


def _listen(rental_id: int) -> redis.client.PubSub | None:
    """Subscribed before the first read, so an SMS recorded in between is not missed."""
    try:
        listener = _redis(settings.REDIS_URL).pubsub(ignore_subscribe_messages=True)
        listener.subscribe(arrival_channel(rental_id))
    except redis.RedisError as error:
        logger.info("waiting for SMS without Redis (%s): reading the database every second", error)
        return None
    return listener


def _hear(listener: redis.client.PubSub, seconds: float) -> None:
    """Until an SMS is announced or ``seconds`` pass."""
    try:
        listener.get_message(timeout=seconds)
    except redis.RedisError:
        time.sleep(min(seconds, RECHECK_WITHOUT_REDIS))


def release_connection() -> None:
    # Between reads the request holds no database connection (a test's transaction is kept, though).
    if not connection.in_atomic_block:
        connection.close()
