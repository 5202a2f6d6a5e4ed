"""Celery beat's scheduler: django-celery-beat's DatabaseScheduler, with one lock for all beats.

The lock is a key in Redis, taken with a lifetime of BEAT_LOCK_SECONDS and renewed on every tick
(the DatabaseScheduler ticks at least every 5 seconds). It does two jobs:

- Exactly one beat sends tasks, however many are started: another beat (a standby on a second
  host, or one started by mistake) sends nothing until the lock is free, then takes over.
- It is the heartbeat /healthz and the dashboard read: the key exists only while some beat ticked
  within BEAT_LOCK_SECONDS. It lives in the broker, which every web process on every host already
  reaches, and Redis counts its lifetime, so no clock is compared between hosts. A timestamp in a
  process's memory or cache would not be seen by the other web processes; a scheduled heartbeat
  task would need a worker too, and would blame beat when a worker stops.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from typing import Any

import redis
from django_celery_beat.schedulers import DatabaseScheduler
from redis.exceptions import LockNotOwnedError

from .health import BEAT_LOCK_KEY, BEAT_LOCK_SECONDS, broker_redis

logger = logging.getLogger(__name__)

# How soon a beat on standby looks at the lock again.
STANDBY_RECHECK_SECONDS = 5.0


class SingleBeatScheduler(DatabaseScheduler):
    """Sends the due tasks only while it holds the beat lock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._identity = f"{socket.gethostname()}:{os.getpid()}"
        self._lock = broker_redis().lock(BEAT_LOCK_KEY, timeout=BEAT_LOCK_SECONDS, thread_local=False)
        self._holding = False
        self._said_state = False
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if not self._hold_lock():
            return STANDBY_RECHECK_SECONDS
        return super().tick(*args, **kwargs)

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._holding:  # a standby takes over at once instead of after the lock's lifetime
                with contextlib.suppress(redis.RedisError):  # lost already, or Redis is gone: it expires
                    self._lock.release()
                self._holding = False

    def _hold_lock(self) -> bool:
        why = "another beat holds it"
        try:
            held = self._renew() or bool(self._lock.acquire(blocking=False, token=self._identity))
        except redis.RedisError as error:
            held, why = False, f"Redis does not answer: {type(error).__name__}"
        if held != self._holding or not self._said_state:  # once per change, not on every tick
            if held:
                logger.info("beat: %s holds the beat lock and sends the scheduled tasks", self._identity)
            else:
                logger.info("beat: %s does not hold the beat lock (%s): it sends nothing", self._identity, why)
            self._said_state = True
        self._holding = held
        return held

    def _renew(self) -> bool:
        if not self._holding:
            return False
        try:
            return self._lock.reacquire()
        except LockNotOwnedError:  # it expired (this process stalled) and may be another beat's now
            return False
