"""Webhook deliveries kept in Redis while the database cannot store them, and stored in it once it can.

SMS.online sends each SMS once and never retries: a webhook answered 503 while the database restarts
is an SMS that waits for polling. So a delivery the database cannot store is checked as far as it can
be without it (its body must be an SMS notification), kept in the broker's Redis and answered 200. A
task (rentals.tasks.store_kept_webhooks) stores each kept delivery through ``webhook_store``, so the
token, the rentId and the dedupe are checked as for any other, then processes it.

Stored once: an entry leaves Redis only after its row is committed, and only the entry that was
stored (removed by its exact value). A run that dies in between leaves it kept, and the next run's
insert meets the (rental, body_hash) constraint and takes the row already there; two runs at once
store the same entries, and the second insert of each likewise. Nothing kept is lost or stored twice.

The token cannot be checked while the database is away, so anyone could have Redis keep bodies that
read as SMS notifications: what is kept is bounded (RENTDESK_WEBHOOK_SPOOL_ENTRIES and _MEGABYTES;
past them a webhook is answered 503), and an entry whose token no rental has is dropped when moved in.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from datetime import datetime
from functools import partial

import redis
from django.conf import settings
from django.db import transaction

from ..health import WEBHOOKS_DROPPED_KEY, WEBHOOKS_KEPT_BYTES_KEY, WEBHOOKS_KEPT_KEY
from ..provider.parsing import UnreadableWebhook, parse_webhook
from .followups import KEPT_WEBHOOKS_STORE_TASK, broker_client, task_send
from .sms import provider_tz
from .webhooks import RUN_AT_MOST, UnknownWebhookToken, webhook_store, webhooks_process

logger = logging.getLogger(__name__)

KEPT = WEBHOOKS_KEPT_KEY  # a list of entries (JSON), oldest first
KEPT_BYTES = WEBHOOKS_KEPT_BYTES_KEY
DROPPED = WEBHOOKS_DROPPED_KEY  # entries dropped when moved in (no rental has their token...)

# One script, so two web processes keeping at once never pass the bound together.
_KEEP = """
local entries, size = redis.call('LLEN', KEYS[1]), tonumber(redis.call('GET', KEYS[2]) or '0')
if entries >= tonumber(ARGV[2]) or size + string.len(ARGV[1]) > tonumber(ARGV[3]) then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('INCRBY', KEYS[2], string.len(ARGV[1]))
return 1
"""
# The run that removes an entry counts its size off; an empty list also clears a count gone astray.
_REMOVE = """
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
if removed > 0 then redis.call('DECRBY', KEYS[2], string.len(ARGV[1])) end
if redis.call('LLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) end
return removed
"""

# Set once this process kept a delivery, until it queues the run that stores them: a webhook stored
# fine asks this of every delivery, and it costs nothing until the database was away.
_kept_here = threading.Event()


def webhook_keep(*, token: str, body: bytes, content_type: str, received_at: datetime, why: str) -> bool:
    """Keep a delivery the database could not store (``why``: the error's name), to be stored once it
    can; whether it was kept. False when nothing can keep it: the broker is not Redis, Redis does not
    answer, or the bound is reached.

    Its body is read first, as the store reads it: one that is not an SMS notification raises
    ``UnreadableWebhook`` (answer 400) and is never kept. The token is checked when it is moved in.
    """
    parse_webhook(body, content_type=content_type, provider_tz=provider_tz())
    client = broker_client()
    if client is None:
        return False
    entry = json.dumps({"token": token, "body": base64.b64encode(body).decode(), "content_type": content_type,
                        "received_at": received_at.isoformat()})  # fmt: skip
    most_bytes = settings.RENTDESK_WEBHOOK_SPOOL_MEGABYTES * 1024 * 1024
    try:
        kept = client.eval(_KEEP, 2, KEPT, KEPT_BYTES, entry, settings.RENTDESK_WEBHOOK_SPOOL_ENTRIES, most_bytes)
    except redis.RedisError:
        return False
    if not kept:
        return False
    if not _kept_here.is_set():
        logger.warning("webhook deliveries cannot be stored (%s): keeping them in Redis until the database "
                       "stores them again", why)  # fmt: skip
        _kept_here.set()
    return True


def kept_webhooks_store_soon(*, kept_here_only: bool = False) -> bool:
    """Queue a run that stores the kept deliveries, when Redis holds some; whether one was queued.
    ``kept_here_only``: only when this process kept one since it last asked (a webhook stored fine
    asks, so the first after the database is back moves in what was kept)."""
    if kept_here_only:
        if not _kept_here.is_set():
            return False
        _kept_here.clear()
        logger.info("webhook deliveries are stored again; the kept ones will be moved in")
    client = broker_client()
    try:
        if client is None or not client.exists(KEPT):
            return False
    except redis.RedisError:
        return False  # the broker is away: nothing could be queued, and the cycle of poll_sms asks again
    task_send(KEPT_WEBHOOKS_STORE_TASK)
    return True


def kept_webhooks_store(*, at_most: int = RUN_AT_MOST) -> int:
    """Store the kept deliveries (at most ``at_most``, oldest first), each as received when it was kept,
    then process every delivery waiting; how many were stored. A database error propagates and leaves
    the rest kept; a run that took ``at_most`` queues the next."""
    client = broker_client()
    if client is None:
        return 0
    entries = client.lrange(KEPT, 0, at_most - 1)
    stored = 0
    for raw in entries:
        stored += _stored(raw) is not None
        # Only once its row is committed (at once here, in autocommit; after the commit in a transaction).
        transaction.on_commit(partial(client.eval, _REMOVE, 2, KEPT, KEPT_BYTES, raw))
    if stored:
        # A run takes every delivery not processed yet: these, and those whose run the outage cut short.
        webhooks_process()
    if len(entries) == at_most:
        kept_webhooks_store_soon()
    return stored


def _stored(raw: bytes) -> int | None:
    """The kept entry stored: its delivery's id; None when it is dropped (logged, and counted in Redis)."""
    try:
        entry = json.loads(raw)
        arrived = {"token": str(entry["token"]), "body": base64.b64decode(entry["body"], validate=True),
                   "content_type": str(entry["content_type"]),
                   "received_at": datetime.fromisoformat(entry["received_at"])}  # fmt: skip
    except (ValueError, KeyError, TypeError):
        return _dropped("it is not an entry Rentdesk keeps")
    try:
        return webhook_store(**arrived)
    except UnknownWebhookToken:
        return _dropped("no rental has its webhook token")  # the token itself is a secret: never logged
    except UnreadableWebhook as problem:
        return _dropped(str(problem))


def _dropped(reason: str) -> None:
    logger.warning("a webhook delivery kept while the database was away was dropped: %s", reason)
    client = broker_client()
    if client is not None:
        client.incr(DROPPED)
