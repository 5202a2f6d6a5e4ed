"""Work queued for later: checks after an unknown outcome, fresh provider data when it is missing, the
processing of stored webhook deliveries, and claiming rows whose task was lost for one more queueing.

The one module of the services that queues Celery tasks, each by its name (``task_queue``, ``task_send``):
rentals/tasks.py imports the services, so the services never import it (the layers contract in
pyproject.toml). The names are rentals/tasks.py's; rentals/queues.py routes them.
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import datetime, timedelta
from functools import lru_cache, partial

import redis
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from ..models import CatalogSync, ProviderAccount

logger = logging.getLogger(__name__)

# The tasks the services queue (rentals/tasks.py).
BALANCE_CHECK_TASK = "rentals.tasks.check_account_balance"
BUDGETS_CHECK_TASK = "rentals.tasks.check_budgets"
CATALOG_SYNC_TASK = "rentals.tasks.sync_catalog"
KEPT_WEBHOOKS_STORE_TASK = "rentals.tasks.store_kept_webhooks"
RECONCILE_TASK = "rentals.tasks.reconcile_account"
SMS_FORWARD_TASK = "rentals.tasks.forward_sms"
WEBHOOKS_PROCESS_TASK = "rentals.tasks.process_webhooks"


def task_queue(name: str, *args: object, countdown: int | None = None) -> None:
    """Queue the task ``name`` as its own ``delay`` would: where this process has it registered, through its
    ``apply_async`` (its options; run at once under ``task_always_eager``), else sent by name. Raises what
    sending raises. ``ignore_result`` as a task's own default, so the message is the same either way."""
    ignore_result = current_app.conf.task_ignore_result
    current_app.signature(name, args=args).apply_async(countdown=countdown, ignore_result=ignore_result)


def task_queue_on_commit(name: str, *args: object) -> None:
    """``task_queue`` once the current transaction commits (at once outside one), as ``delay_on_commit``."""
    transaction.on_commit(partial(task_queue, name, *args))


def task_send(name: str, *args: object, countdown: int | None = None) -> None:
    """Send the task ``name`` to the broker, never run here, even under ``task_always_eager``."""
    current_app.send_task(name, args, countdown=countdown)


# Long enough for the provider's list to show the rent, short against the 20-minute refund window.
RECONCILE_AFTER_UNKNOWN_SECONDS = 10


def reconcile_soon(account: ProviderAccount) -> None:
    """An unknown outcome is checked against the provider's rent list right away, inside the refund window."""
    try:
        task_queue(RECONCILE_TASK, account.pk, countdown=RECONCILE_AFTER_UNKNOWN_SECONDS)
    except Exception:
        # The scheduled reconciliation catches up within minutes; the attempt is recorded either way.
        logger.warning("could not queue reconciliation of account %s after an unknown outcome", account.pk)


# Older than these, what the provider said is refreshed when a worker starts (the schedules' periods).
CATALOG_FRESH_FOR = timedelta(hours=6)
BALANCE_FRESH_FOR = timedelta(minutes=15)


def provider_data_refresh_soon(account: ProviderAccount) -> None:
    """A new account or a new key: its balance and the catalog are read now, not at the next schedule,
    so the rent form shows prices and stock at once. Queued once the change is committed."""

    def enqueue() -> None:
        try:
            task_queue(BALANCE_CHECK_TASK, account.pk)
            task_queue(CATALOG_SYNC_TASK)
        except Exception as error:
            # The schedules catch up; saving the account must not fail because the broker is away.
            logger.warning(
                "could not queue the first balance check and catalog sync of account %s (%s): a worker that "
                "starts, or the schedule, reads them",
                account.pk, type(error).__name__,
            )  # fmt: skip

    transaction.on_commit(enqueue)


# A balance check queued after money moved waits this long, so that a burst of rents (a script renting
# ten numbers) is read by one check, after the last of them.
BALANCE_CHECK_AFTER_SPENDING_SECONDS = 5
# Set while such a check is queued and has not started; one lost on its way (a broker restart) keeps
# the next rents from queueing one no longer than this.
BALANCE_CHECK_QUEUED = "rentdesk:balance-check-queued:{account_id}"
BALANCE_CHECK_QUEUED_SECONDS = 60


# A check this process queued cannot start before its countdown has run (less this margin, for the
# clocks of the hosts it may run on): until then, it reads whatever later rents of this process moved.
BALANCE_CHECK_CLOCK_MARGIN_SECONDS = 1
_balance_checks_waiting: dict[int, float] = {}  # account id -> until when the one queued here waits


def balance_check_soon(account: ProviderAccount) -> None:
    """Money moved on this account (a rent, an extension, a refund): its balance is read again in a few
    seconds rather than at the next scheduled check, unless a check is queued and has not started (it
    reads what this moved too). Never raises: the rent is recorded either way, and the schedule catches up.

    A check this process queued moments ago is known to wait still without asking anyone: a burst of
    rents costs neither the flag's round trip to Redis nor a message after the first."""
    if time.monotonic() < _balance_checks_waiting.get(account.pk, 0.0):
        return
    flags = _queue_flags(settings.CELERY_BROKER_URL)
    flag = BALANCE_CHECK_QUEUED.format(account_id=account.pk)
    try:
        if flags is not None and not flags.set(flag, 1, nx=True, ex=BALANCE_CHECK_QUEUED_SECONDS):
            return
        queued_at = time.monotonic()
        task_send(BALANCE_CHECK_TASK, account.pk, countdown=BALANCE_CHECK_AFTER_SPENDING_SECONDS)
        waits = BALANCE_CHECK_AFTER_SPENDING_SECONDS - BALANCE_CHECK_CLOCK_MARGIN_SECONDS
        _balance_checks_waiting[account.pk] = queued_at + waits
    except Exception as error:
        logger.warning(
            "could not queue a balance check of account %s after spending (%s): the schedule reads it",
            account.pk, type(error).__name__,
        )  # fmt: skip
        if flags is not None:
            with contextlib.suppress(redis.RedisError):  # nothing was queued: the next spending queues one
                flags.delete(flag)


def balance_check_started(account_id: int) -> None:
    """A balance check has started: money moved from now on may come after its reading, and queues
    another check."""
    _balance_checks_waiting.pop(account_id, None)  # one run at once, as a test or a command runs it
    flags = _queue_flags(settings.CELERY_BROKER_URL)
    if flags is not None:
        with contextlib.suppress(redis.RedisError):  # the flag expires by itself
            flags.delete(BALANCE_CHECK_QUEUED.format(account_id=account_id))


def stale_provider_data(*, now: datetime) -> tuple[bool, list[int]]:
    """Whether the catalog needs reading (no pass finished lately: a pass cut off is stale until the
    next sync completes it), and which accounts' balances do (never read, or long ago)."""
    catalog_stale = not CatalogSync.objects.filter(last_pass_finished_at__gte=now - CATALOG_FRESH_FOR).exists()
    accounts = ProviderAccount.objects.exclude(balance_checked_at__gte=now - BALANCE_FRESH_FOR)
    return catalog_stale, list(accounts.order_by("pk").values_list("pk", flat=True))


# Set while a webhook processing run is queued and has not started (its first delivery's id).
WEBHOOK_RUN_QUEUED = "rentdesk:webhook-run-queued"
# A run lost on its way (a broker restart) keeps the next deliveries from queueing one no longer than this.
WEBHOOK_RUN_QUEUED_SECONDS = 10


def webhooks_process_soon(*, first_id: int | None = None) -> None:
    """Have stored webhook deliveries processed: queue a run, unless one is queued and has not started
    (it takes every delivery stored until it starts). Raises when the broker cannot be reached."""
    flags = _queue_flags(settings.CELERY_BROKER_URL)
    if flags is not None and not flags.set(WEBHOOK_RUN_QUEUED, first_id or 0, nx=True, ex=WEBHOOK_RUN_QUEUED_SECONDS):
        return
    try:
        task_queue(WEBHOOKS_PROCESS_TASK, first_id)
    except Exception:
        if flags is not None:
            with contextlib.suppress(redis.RedisError):  # nothing was queued: the next delivery queues a run
                flags.delete(WEBHOOK_RUN_QUEUED)
        raise


def webhooks_run_started() -> None:
    """A run has started: deliveries stored from now on may come after it read the pending ones, and
    queue another run."""
    flags = _queue_flags(settings.CELERY_BROKER_URL)
    if flags is not None:
        with contextlib.suppress(redis.RedisError):  # the flag expires by itself
            flags.delete(WEBHOOK_RUN_QUEUED)


def broker_client() -> redis.Redis | None:
    """The broker's Redis (short timeouts: a webhook waits on it); None for a broker that is not Redis."""
    return _queue_flags(settings.CELERY_BROKER_URL)


@lru_cache(maxsize=2)
def _queue_flags(broker_url: str) -> redis.Redis | None:
    """The broker's Redis, where the flag sits beside the queue it is about; None for a broker that is
    not Redis (the test settings' in-memory one), where every delivery queues its own run."""
    if not broker_url.startswith(("redis://", "rediss://", "unix://")):
        return None
    return redis.Redis.from_url(broker_url, socket_connect_timeout=2, socket_timeout=2)


def claimed_for_requeue(stale: QuerySet, *, oldest_first_by: str, stamp: dict[str, object]) -> list[int]:
    """The ids of ``stale``'s rows (at most 500, oldest first), each claimed by an update that checks
    ``stale``'s conditions again and sets ``stamp``, which takes the row out of ``stale`` for a while:
    a backlog is queued once rather than every cycle, and two cycles at once never queue a row twice."""
    claimed = []
    for row_id in stale.order_by(oldest_first_by).values_list("pk", flat=True)[:500]:
        if stale.filter(pk=row_id).update(**stamp):
            claimed.append(row_id)
    return claimed
