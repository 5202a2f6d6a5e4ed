"""Retention: webhook deliveries, provider errors and SMS texts past the team's settings, removed in batches.

Each kind is kept RENTDESK_KEEP_<KIND>_DAYS (None: forever). What something still needs is never removed:
a delivery not yet made into an SMS, whatever its age (its SMS would be lost); an error event of a rent
attempt whose outcome is still open (pending or unknown: reconciliation and the person deciding whether
they were charged read it). SMS rows stay: their dedupe key keeps a late webhook or poll of the same SMS
from making it again, and the history of a rental keeps its shape; only their text and code go.

Batches of BATCH_ROWS rows, each chosen by its age index and changed by primary key in its own short
transaction, with a pause between them for the webhooks and workers that share the database; a run stops
at its time budget and says so, and the next run goes on where it stopped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from ..models import AttemptState, ErrorEvent, Rental, SmsMessage, WebhookDelivery
from ..wording.formats import team_language

logger = logging.getLogger(__name__)

BATCH_ROWS = 1000
# SQLite has one writer at a time: a webhook's INSERT waits for the batch's commit. Smaller batches there
# keep that wait short (bench/retention.py: a webhook's p99 at 50/s while 1M rows are purged).
SQLITE_BATCH_ROWS = 250
# Between two batches, at least this and at least as long as the batch took: webhooks and workers
# sharing the database get it at least half the time, however slow its disk.
BATCH_PAUSE_SECONDS = 0.05
OPEN_ATTEMPT_STATES = [AttemptState.PENDING, AttemptState.UNKNOWN]


@dataclass
class Purged:
    """What a purge removed (or, in a dry run, would remove), by kind; ``finished``: nothing is left."""

    counts: dict[str, int] = field(default_factory=dict)
    finished: bool = True

    def __str__(self) -> str:
        return ", ".join(f"{kind}: {count}" for kind, count in self.counts.items()) or "nothing is set to be purged"


def deliveries_to_purge(*, before: datetime) -> QuerySet[WebhookDelivery]:
    """Processed before ``before``; a delivery not processed has a null processed_at and is never here."""
    return WebhookDelivery.objects.filter(processed_at__lt=before)


def provider_errors_to_purge(*, before: datetime) -> QuerySet[ErrorEvent]:
    return ErrorEvent.objects.filter(created_at__lt=before).exclude(attempt__state__in=OPEN_ATTEMPT_STATES)


def sms_texts_to_remove(*, before: datetime) -> QuerySet[SmsMessage]:
    return SmsMessage.objects.filter(received_at__lt=before, text_removed_at__isnull=True)


def last_sms_texts_to_remove(*, before: datetime, note: str) -> QuerySet[Rental]:
    """Rentals whose newest SMS (shown in the inventory) is older than ``before`` and still has its text."""
    return Rental.objects.filter(last_sms_at__lt=before).exclude(last_sms_text="").exclude(last_sms_text=note)


def sms_text_note(days: int) -> str:
    """What an SMS whose text was removed reads, in the team's language."""
    with team_language():
        return _("(text removed after %(days)s days)") % {"days": days}


@dataclass(frozen=True)
class Kind:
    """One kind of record: which rows are due, and what is done to a batch of them (by primary key)."""

    name: str
    days: int | None
    due: Callable[[datetime], QuerySet]
    age_field: str
    act: Callable[[QuerySet, datetime], int]


def _delete(rows: QuerySet, now: datetime) -> int:
    return rows.delete()[0]


def _remove_text(note: str) -> Callable[[QuerySet, datetime], int]:
    return lambda rows, now: rows.update(text=note, code="", text_removed_at=now)


def _remove_last_text(note: str) -> Callable[[QuerySet, datetime], int]:
    return lambda rows, now: rows.update(last_sms_text=note, last_sms_code="")


def retention_kinds() -> list[Kind]:
    """Every kind of record the settings keep for a time, in the order a run purges them."""
    sms_days = settings.RENTDESK_KEEP_SMS_TEXT_DAYS
    note = sms_text_note(sms_days or 0)
    return [
        Kind("webhook deliveries", settings.RENTDESK_KEEP_WEBHOOK_DELIVERIES_DAYS,
             lambda before: deliveries_to_purge(before=before), "processed_at", _delete),
        Kind("provider errors", settings.RENTDESK_KEEP_PROVIDER_ERRORS_DAYS,
             lambda before: provider_errors_to_purge(before=before), "created_at", _delete),
        Kind("SMS texts", sms_days, lambda before: sms_texts_to_remove(before=before), "received_at",
             _remove_text(note)),
        Kind("rentals' last SMS texts", sms_days, lambda before: last_sms_texts_to_remove(before=before, note=note),
             "last_sms_at", _remove_last_text(note)),
    ]  # fmt: skip


def records_purge(
    *, now: datetime, budget_seconds: float | None, dry_run: bool = False,
    batch_rows: int | None = None, pause_seconds: float = BATCH_PAUSE_SECONDS,
) -> Purged:  # fmt: skip
    """Remove what the retention settings no longer keep (see the module's docstring); ``dry_run``: count it
    and change nothing. A run stops after ``budget_seconds`` (None: once nothing is left), and says so."""
    batch_rows = batch_rows or (SQLITE_BATCH_ROWS if connection.vendor == "sqlite" else BATCH_ROWS)
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    purged = Purged()
    for kind in retention_kinds():
        if kind.days is None:
            continue
        due = kind.due(now - timedelta(days=kind.days))
        if dry_run:
            purged.counts[kind.name] = due.count()
            continue
        done, finished = _in_batches(kind, due, now=now, deadline=deadline, batch_rows=batch_rows,
                                     pause_seconds=pause_seconds)  # fmt: skip
        purged.counts[kind.name] = done
        if not finished:
            purged.finished = False
            break
    if not dry_run:
        logger.info("purge of old records: %s%s", purged, "" if purged.finished else " (more left for the next run)")
    return purged


def _in_batches(
    kind: Kind, due: QuerySet, *, now: datetime, deadline: float | None, batch_rows: int, pause_seconds: float
) -> tuple[int, bool]:
    """Act on ``due`` a batch at a time, oldest first; how many rows, and whether none is left."""
    done = 0
    while True:
        started = time.monotonic()
        with transaction.atomic():
            ids = list(due.order_by(kind.age_field).values_list("pk", flat=True)[:batch_rows])
            # The condition again: a row changed since it was chosen is left as it now is.
            done += kind.act(due.filter(pk__in=ids), now) if ids else 0
        if len(ids) < batch_rows:
            return done, True
        if deadline is not None and time.monotonic() >= deadline:
            return done, False
        time.sleep(max(pause_seconds, time.monotonic() - started))
