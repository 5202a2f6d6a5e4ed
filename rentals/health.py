"""Is Rentdesk able to work: the database answers, the broker answers, and a beat ticked recently.

One report for /healthz (load balancers, monitoring) and the admin dashboard (people). It holds
facts only, never a URL, host name or message from a library (those can carry passwords); the
view and the template put them into words.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import DatabaseError, connection

# The beat lock (see rentals/beat.py): held by the one beat that sends tasks, renewed on each tick.
BEAT_LOCK_KEY = "rentdesk:beat"
BEAT_LOCK_SECONDS = 30


def broker_redis() -> redis.Redis:
    """The broker's Redis, with short timeouts: a health check must answer even when Redis does not."""
    return redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=2, socket_timeout=2)


@dataclass(frozen=True)
class BeatLock:
    holder: str  # "host:pid" of the beat sending tasks
    seconds_since_tick: float


def beat_lock_read(client: redis.Redis) -> BeatLock | None:
    """Who holds the lock and how long ago it was renewed; None when no beat ticked recently."""
    with client.pipeline(transaction=True) as pipe:
        holder, milliseconds_left = pipe.get(BEAT_LOCK_KEY).pttl(BEAT_LOCK_KEY).execute()
    if holder is None or milliseconds_left <= 0:
        return None
    return BeatLock(holder.decode(), max(0.0, BEAT_LOCK_SECONDS - milliseconds_left / 1000))


# Webhook deliveries kept while the database could not store them (services/kept_webhooks.py): a list
# of entries, oldest first, and how many kept ones were dropped on moving in.
WEBHOOKS_KEPT_KEY = "rentdesk:webhooks-kept"
WEBHOOKS_KEPT_BYTES_KEY = "rentdesk:webhooks-kept:bytes"  # the entries' size together, which the bound checks
WEBHOOKS_DROPPED_KEY = "rentdesk:webhooks-kept:dropped"


def kept_webhooks_count(client: redis.Redis) -> tuple[int, int]:
    """How many deliveries Redis keeps now, and how many kept ones were dropped since Redis started."""
    with client.pipeline(transaction=False) as pipe:
        kept, dropped = pipe.llen(WEBHOOKS_KEPT_KEY).get(WEBHOOKS_DROPPED_KEY).execute()
    return kept, int(dropped or 0)


# What a part that is not fine has: it does not answer, or (beat) it has not ticked lately, or it
# cannot be checked because what it is checked through (the broker) does not answer.
UNREACHABLE = "unreachable"
NO_RECENT_TICK = "no_recent_tick"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class PartHealth:
    name: str  # "database", "broker", "beat"
    problem: str = ""  # empty when fine, else one of the constants above

    @property
    def ok(self) -> bool:
        return not self.problem


@dataclass(frozen=True)
class SystemHealth:
    parts: list[PartHealth]
    beat: BeatLock | None  # who runs beat and when it last ticked, when one did recently
    # Webhook deliveries kept in Redis while the database could not store them, waiting to be stored;
    # and kept ones dropped on moving in (no rental had their token) since Redis started. None: unknown.
    webhooks_kept: int | None = None
    webhooks_dropped: int | None = None

    @property
    def ok(self) -> bool:
        return all(part.ok for part in self.parts)

    @property
    def down(self) -> list[str]:
        return [part.name for part in self.parts if not part.ok]


def system_health() -> SystemHealth:
    database = PartHealth("database", "" if _database_answers() else UNREACHABLE)
    try:
        client = broker_redis()
        beat = beat_lock_read(client)
        kept, dropped = kept_webhooks_count(client)
    except (redis.RedisError, ValueError):  # ValueError: a broker URL that is not Redis's
        return SystemHealth([database, PartHealth("broker", UNREACHABLE), PartHealth("beat", UNKNOWN)], None)
    beat_part = PartHealth("beat", "" if beat else NO_RECENT_TICK)
    return SystemHealth([database, PartHealth("broker"), beat_part], beat, kept, dropped)


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        return False


@dataclass(frozen=True)
class WebReadiness:
    """Whether this web process can take a webhook now: store it in the database, or keep it in Redis
    until the database is back (services/kept_webhooks.py). What a load balancer asks (/readyz): a web
    that can do neither would answer SMS.online 503, and the SMS would wait for polling."""

    database: bool
    webhook_spool: bool

    @property
    def ready(self) -> bool:
        return self.database or self.webhook_spool


def web_readiness() -> WebReadiness:
    return WebReadiness(database=_database_answers(), webhook_spool=_webhook_spool_has_room())


def _webhook_spool_has_room() -> bool:
    try:
        with broker_redis().pipeline(transaction=False) as pipe:
            entries, size = pipe.llen(WEBHOOKS_KEPT_KEY).get(WEBHOOKS_KEPT_BYTES_KEY).execute()
    except (redis.RedisError, ValueError):  # ValueError: a broker URL that is not Redis's
        return False
    most_bytes = settings.RENTDESK_WEBHOOK_SPOOL_MEGABYTES * 1024 * 1024
    return entries < settings.RENTDESK_WEBHOOK_SPOOL_ENTRIES and int(size or 0) < most_bytes
