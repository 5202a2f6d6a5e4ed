"""SMS.online's webhook deliveries: checked and stored before the 200, then made SMS by processing runs.

A run takes the delivery that queued it, then every other delivery stored and not processed yet. A
delivery that finds a run queued and not yet started queues nothing (followups.webhooks_process_soon):
under a burst, a handful of runs rather than a task per SMS, since queueing a Celery task costs the
webhook as much as storing the delivery (bench/webhook_ingest.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .. import metrics, selectors
from ..models import RentalExtension, SmsMessage, SmsSource, WebhookDelivery
from ..provider.parsing import UnreadableWebhook, parse_webhook
from ..raw_sql import delivery_processed, delivery_stored_for_current_rent, delivery_to_process
from .followups import claimed_for_requeue, webhooks_process_soon, webhooks_run_started
from .sms import provider_tz, sms_record

logger = logging.getLogger(__name__)

# A run processes at most this many deliveries, then queues the next run: other tasks get their turn.
RUN_AT_MOST = 500


class UnknownWebhookToken(Exception):
    """No rental has this webhook token."""


def webhook_store(
    *, token: str, body: bytes, content_type: str, received_at: datetime | None = None, briefly: bool = False
) -> int:
    """Check and keep a webhook delivery; its id. The same body twice is kept once. ``received_at``:
    when it arrived, if not now (a delivery kept in Redis while the database was away). ``briefly``:
    wait for a locked SQLite file only WEBHOOK_LOCK_WAIT (the view then keeps it in Redis).

    Raises ``UnknownWebhookToken`` (answer 404) or ``UnreadableWebhook`` (answer 400). Database
    errors propagate: the view keeps the delivery in Redis, or answers 503 when nothing can keep it.
    """
    if not token:
        raise UnknownWebhookToken
    try:
        delivered = parse_webhook(body, content_type=content_type, provider_tz=provider_tz())
    except UnreadableWebhook:
        if selectors.rental_for_webhook(token=token) is None:
            raise UnknownWebhookToken from None
        raise
    # The bytes as they arrived (a NUL and all): the row keeps them, not a decoding of them.
    row = {"body_hash": hashlib.sha256(body).hexdigest(), "body": body, "content_type": content_type[:100]}
    found = {"token": token, "rent_id": delivered.rent_id, "row": row, "received_at": received_at}
    with _lock_waited_briefly() if briefly else contextlib.nullcontext():
        stored = _store_for_current_rent(**found)
        return stored if stored is not None else _store_checked(**found)


# A SQLite file held by another writer (a long transaction, a restore) makes a writer wait for its lock,
# up to 20 s (config/settings/readers.py). A webhook waits this long only, then is kept in Redis and
# answered: its code reaches the screen within seconds of the lock's release either way, rather than
# after the whole wait, and SMS.online's 10-second timeout is never near. PostgreSQL fails at once.
WEBHOOK_LOCK_WAIT_MS = 1000


@contextlib.contextmanager
def _lock_waited_briefly() -> Iterator[None]:
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        (usual,) = cursor.fetchone()
        cursor.execute(f"PRAGMA busy_timeout = {WEBHOOK_LOCK_WAIT_MS}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {int(usual)}")


def _store_for_current_rent(
    *, token: str, rent_id: str, row: dict[str, object], received_at: datetime | None
) -> int | None:
    """The common case in one statement: the row for the rental of ``token`` when ``rent_id`` is its current
    rent. None when nothing was stored (an unknown token, an earlier rent id, the same body again): the
    checks then say which.

    Every SMS by webhook comes here, in bursts: one round trip, and a fraction of what the ORM spends
    building the two queries it would take (bench/webhook_ingest.py measures the webhook).
    """
    try:
        with _savepoint_if_in_transaction():
            return delivery_stored_for_current_rent(
                token=token, rent_id=rent_id, row=row, now=timezone.now(), received_at=received_at
            )
    except IntegrityError:
        return None  # the same body again: _store_checked finds the first one


def _store_checked(*, token: str, rent_id: str, row: dict[str, object], received_at: datetime | None) -> int:
    found = selectors.rental_for_webhook(token=token)
    if found is None:
        raise UnknownWebhookToken
    rental_id, current_rent_id = found
    # An earlier id is for an SMS sent before an extension re-ordered the rent.
    if rent_id != current_rent_id and rent_id not in _earlier_rent_ids(rental_id):
        raise UnreadableWebhook("rentId does not belong to this rental")
    try:
        with _savepoint_if_in_transaction():
            delivery_id = WebhookDelivery.objects.create(rental_id=rental_id, stored_at=timezone.now(), **row).pk
    except IntegrityError:  # the same body again: the first one's row, and the time it arrived
        return WebhookDelivery.objects.get(rental_id=rental_id, body_hash=row["body_hash"]).pk
    if received_at is not None:  # auto_now_add wrote the time now; a kept delivery arrived earlier
        WebhookDelivery.objects.filter(pk=delivery_id).update(received_at=received_at)
    return delivery_id


def _earlier_rent_ids(rental_id: int) -> set[str]:
    """Every provider id the rental had before an extension re-ordered it."""
    earlier = RentalExtension.objects.filter(rental_id=rental_id).values_list("old_rent_id", "new_rent_id")
    return {rent_id for pair in earlier for rent_id in pair if rent_id}


def _savepoint_if_in_transaction() -> contextlib.AbstractContextManager[object]:
    """A failed INSERT must not break an enclosing transaction. With none, autocommit keeps it alone
    already, without the BEGIN and COMMIT that would triple the webhook's round trips."""
    return transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()


def webhooks_process(*, first_id: int | None = None) -> int:
    """One processing run: the delivery ``first_id`` at once, then every delivery stored and not yet
    processed, oldest first. Returns how many it took."""
    if first_id is not None:
        webhook_process(delivery_id=first_id)
    # From here a delivery stored later queues its own run: this one may have read the list before it.
    webhooks_run_started()
    pending = WebhookDelivery.objects.filter(processed_at__isnull=True).order_by("received_at")
    delivery_ids = list(pending.values_list("pk", flat=True)[:RUN_AT_MOST])
    for delivery_id in delivery_ids:
        webhook_process(delivery_id=delivery_id)
    if len(delivery_ids) == RUN_AT_MOST:
        webhooks_process_soon()
    return len(delivery_ids) + (first_id is not None)


def webhook_process(*, delivery_id: int) -> SmsMessage | None:
    """Turn a stored delivery into its SMS row. Idempotent: a second run finds the row there."""
    delivery = delivery_to_process(delivery_id)
    if delivery is None:
        logger.debug("webhook delivery %s: processed already, or gone with its rental", delivery_id)
        return None
    try:
        delivered = parse_webhook(bytes(delivery.body), content_type=delivery.content_type, provider_tz=provider_tz())
    except UnreadableWebhook as problem:
        outcome, message = f"unreadable: {problem}", None
    else:
        message = sms_record(rental=delivery.rental, sms=delivered.sms, source=SmsSource.WEBHOOK)
        outcome = "recorded" if message else "already recorded"
        if message is not None:
            metrics.webhook_sms_made(
                received_at=delivery.received_at, stored_at=delivery.stored_at, made_at=message.created_at
            )
    delivery_processed(delivery_id=delivery_id, outcome=outcome, now=timezone.now())
    return message


# A delivery is processed within milliseconds. Past this, its processing was lost: the broker was
# down or restarted empty, or the worker holding the run died (Redis hands a dead worker's tasks to
# another only after the visibility timeout, an hour). With poll_sms every 15 s, such an SMS is stored
# within 45 s; a delivery merely waiting in a long queue is queued twice, and its second task finds
# it processed and does nothing.
REQUEUE_AFTER = timedelta(seconds=30)


def webhook_ids_to_requeue(*, now: datetime) -> list[int]:
    """Deliveries whose processing has not run for a while (see REQUEUE_AFTER): claimed for one more
    queueing each, so a backlog is never queued again every cycle."""
    stale = WebhookDelivery.objects.filter(processed_at__isnull=True, enqueued_at__lt=now - REQUEUE_AFTER)
    return claimed_for_requeue(stale, oldest_first_by="received_at", stamp={"enqueued_at": now})
