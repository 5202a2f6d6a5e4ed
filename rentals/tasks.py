"""Celery tasks: thin wrappers that take ids, call one service and declare their retry policy.

The task names are a public interface (documented in docs/operating.md, "Scheduled jobs"): beat schedules
and other deployments refer to them, so they are spelled out rather than derived from the module path.
"""

from datetime import datetime
from uuid import UUID

from celery import shared_task
from django.utils import timezone

from . import selectors, services
from .services import ProviderUnreachable
from .telegram.client import bot_enabled, telegram_client


@shared_task(name="rentals.tasks.send_expiry_reminders")
def send_expiry_reminders() -> int:
    return services.reminders_send_due(now=timezone.now())


@shared_task(name="rentals.tasks.expire_rentals")
def expire_rentals() -> int:
    return services.rentals_expire(now=timezone.now())


@shared_task(name="rentals.tasks.resolve_stale_attempts")
def resolve_stale_attempts() -> int:
    return services.attempts_resolve_stale(now=timezone.now())


@shared_task(name="rentals.tasks.check_balances")
def check_balances() -> int:
    """Clear bans whose time has passed, then check every account's balance in its own task."""
    services.accounts_clear_expired_bans(now=timezone.now())
    account_ids = selectors.account_ids_for_health_check()
    for account_id in account_ids:
        check_account_balance.delay_on_commit(account_id)
    return len(account_ids)


# getBalance spends nothing, so retrying it is safe; only a connection that never opened is retried.
@shared_task(
    name="rentals.tasks.check_account_balance",
    autoretry_for=(ProviderUnreachable,),
    retry_backoff=30,
    max_retries=3,
)
def check_account_balance(account_id: int) -> None:
    outcome = services.account_refresh_health(account_id=account_id)
    if isinstance(outcome.error, ProviderUnreachable):
        raise outcome.error  # recorded on the account already; retried


# Chat posts spend nothing and the claim keeps them to one at a time: a chat service that is down is
# tried again later, with the delay the service chooses (it also decides when to give up).
@shared_task(name="rentals.tasks.forward_sms", bind=True, max_retries=None)
def forward_sms(self, sms_id: int) -> str:
    try:
        return services.sms_forward(sms_id=sms_id, now=timezone.now())
    except services.ChatUnavailable as unavailable:
        raise self.retry(countdown=unavailable.retry_in) from None


@shared_task(name="rentals.tasks.check_budgets")
def check_budgets(
    account_id: int | None, person_id: int | None, refused: str | None = None, spent_at: str | None = None
) -> int:
    return services.budgets_alert(
        account_id=account_id, person_id=person_id, now=timezone.now(), refused=refused,
        spent_at=datetime.fromisoformat(spent_at) if spent_at else None,
    )  # fmt: skip


@shared_task(name="rentals.tasks.process_webhook")
def process_webhook(delivery_id: int) -> None:
    services.webhook_process(delivery_id=delivery_id)


@shared_task(name="rentals.tasks.process_webhooks")
def process_webhooks(first_delivery_id: int | None = None) -> int:
    """The delivery that queued the run first, then every other one stored and not processed yet."""
    return services.webhooks_process(first_id=first_delivery_id)


@shared_task(name="rentals.tasks.store_kept_webhooks")
def store_kept_webhooks() -> int:
    """Store the webhook deliveries kept in Redis while the database was away, then process them."""
    return services.kept_webhooks_store()


@shared_task(name="rentals.tasks.poll_sms")
def poll_sms() -> int:
    """Plan this polling cycle: per account with due rentals, one poll of those awaiting a code on the
    urgent queue and one of the rest on the background queue, the most its rate allows (the rest stay due
    for the next cycle); catch up on unprocessed webhooks. Returns the rentals due."""
    services.kept_webhooks_store_soon()  # webhooks kept in Redis while the database was away
    now = timezone.now()
    for delivery_id in services.webhook_ids_to_requeue(now=now):
        process_webhook.delay(delivery_id)
    for sms_id in services.forwards_to_requeue(now=now):
        forward_sms.delay(sms_id)
    due = selectors.rentals_due_for_poll(now=now)
    for account_id, due_polls in due.items():
        awaiting, others = services.polls_split(due_polls)
        if awaiting:
            poll_awaiting_sms.delay(account_id, awaiting, now.isoformat())
        if others:
            poll_account_sms.delay(account_id, others, now.isoformat())
    return sum(len(awaiting) + len(idle) for awaiting, idle in due.values())


# getRentStatus spends nothing; a connection that never opened is simply tried again.
@shared_task(
    name="rentals.tasks.poll_account_sms", autoretry_for=(ProviderUnreachable,), retry_backoff=10, max_retries=2
)
def poll_account_sms(account_id: int, rental_ids: list[int], cycle_started: str) -> int:
    return services.account_poll(
        account_id=account_id, rental_ids=rental_ids, cycle_started=datetime.fromisoformat(cycle_started)
    )


# Rentals awaiting a code, on the urgent queue. Not retried: its rentals are due again at the next cycle.
@shared_task(name="rentals.tasks.poll_awaiting_sms")
def poll_awaiting_sms(account_id: int, rental_ids: list[int], cycle_started: str) -> int:
    return services.account_poll(
        account_id=account_id, rental_ids=rental_ids, cycle_started=datetime.fromisoformat(cycle_started),
        awaiting=True,
    )  # fmt: skip


@shared_task(name="rentals.tasks.reconcile_accounts")
def reconcile_accounts() -> int:
    account_ids = services.account_ids_to_reconcile()
    for account_id in account_ids:
        reconcile_account.delay_on_commit(account_id)
    return len(account_ids)


# getRentList spends nothing: a connection that never opened is tried again.
@shared_task(
    name="rentals.tasks.reconcile_account", autoretry_for=(ProviderUnreachable,), retry_backoff=30, max_retries=3
)
def reconcile_account(account_id: int) -> int:
    return len(services.account_reconcile(account_id=account_id, now=timezone.now()).adopted_rentals)


@shared_task(name="rentals.tasks.sync_catalog")
def sync_catalog() -> str:
    """Go on with the catalog pass under way, or begin one, in short steps; nothing while a sync runs."""
    run = services.catalog_sync_start(now=timezone.now())
    if run is None:
        return "a catalog sync is running: nothing to do"
    sync_catalog_chunk.delay_on_commit(str(run))
    return f"run {run} started"


# A few seconds of getRentPrices, then the next step is queued: no step holds a worker for long.
@shared_task(name="rentals.tasks.sync_catalog_chunk")
def sync_catalog_chunk(run: str) -> int:
    step = services.catalog_sync_chunk(run=UUID(run), now=timezone.now())
    if step.more:
        sync_catalog_chunk.delay_on_commit(run)
    return step.requests


@shared_task(name="rentals.tasks.refresh_stale_provider_data")
def refresh_stale_provider_data() -> int:
    """Sent when a worker starts: a fresh install (or one stopped for a while) gets prices, stock and
    balances in its first minute, not at the next schedule."""
    catalog_stale, account_ids = services.stale_provider_data(now=timezone.now())
    if catalog_stale:
        sync_catalog.delay()
    for account_id in account_ids:
        check_account_balance.delay(account_id)
    return len(account_ids) + catalog_stale


@shared_task(name="rentals.tasks.auto_renew")
def auto_renew() -> int:
    due = services.rentals_due_for_renewal(now=timezone.now())
    for rental_id in due:
        auto_renew_rental.delay_on_commit(rental_id)
    return len(due)


# Spends money: never retried. A second run finds the renewal's row and does nothing.
@shared_task(name="rentals.tasks.auto_renew_rental")
def auto_renew_rental(rental_id: int) -> str:
    """What happened, in a word ("renewed", "refused", ...): the result the worker logs."""
    return str(services.rental_auto_renew(rental_id=rental_id).facts["renewal"])


@shared_task(name="rentals.tasks.telegram_read_updates")
def telegram_read_updates() -> int:
    """Read and answer what people wrote to the bot (a poll of a few seconds at most; one reader at a
    time). After answering some, read again at once: a person in a conversation does not wait for beat."""
    if not bot_enabled():
        return 0
    answered = services.telegram_updates_read(client=telegram_client(), now=timezone.now())
    if answered > 0:
        telegram_read_updates.delay()
    return answered


# An update Telegram POSTed to the webhook; the offset answers it once, however often it came.
@shared_task(name="rentals.tasks.telegram_answer_update")
def telegram_answer_update(update: dict) -> bool:
    if not bot_enabled():
        return False
    return services.telegram_update_answer_once(client=telegram_client(), update=update, now=timezone.now())


# A run that met its time budget leaves the rest to one queued this long after: the backlog of a first
# purge (or a lowered setting) clears in turns overnight, each holding a background worker a minute.
PURGE_AGAIN_AFTER_SECONDS = 5 * 60
PURGE_BUDGET_SECONDS = 60.0  # how long one run holds its worker


@shared_task(name="rentals.tasks.purge_old_records")
def purge_old_records() -> int:
    """Remove the webhook deliveries, provider errors and SMS texts the retention settings no longer keep."""
    purged = services.records_purge(now=timezone.now(), budget_seconds=PURGE_BUDGET_SECONDS)
    if not purged.finished:
        purge_old_records.apply_async(countdown=PURGE_AGAIN_AFTER_SECONDS)
    return sum(purged.counts.values())


@shared_task(name="rentals.tasks.summarise_spend")
def summarise_spend() -> int:
    """Sum the closed months' spend not summed yet or changed since (the costs page and /metrics read them)."""
    return services.spend_months_summarise(now=timezone.now())
