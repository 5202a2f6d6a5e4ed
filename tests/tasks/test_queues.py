"""Work by urgency: what a person waiting for a code feels runs on the urgent queue, with a worker of its
own; the provider's long jobs run on the background queue and never take an urgent worker's slot."""

import json
import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from rentals import services
from rentals.models import ProviderAccount, Rental, SmsMessage
from rentals.queues import BACKGROUND_QUEUE, URGENT_QUEUE
from rentals.selectors import DuePolls
from rentals.services.polling import PollLease

from ..conftest import start_celery, task_sender, wait_until
from ..factories import rent_number

pytestmark = pytest.mark.django_db(transaction=True)


def make_idle(rental: Rental) -> None:
    """Rented hours ago and had its SMS: no code is awaited on it any more."""
    Rental.objects.filter(pk=rental.pk).update(
        created_at=timezone.now() - timedelta(hours=3), last_sms_at=timezone.now()
    )


def send_by_name(redis_url: str, name: str, args: list | None = None) -> None:
    """As beat or the web app sends a task: by name, routed by the app's settings."""
    sender = task_sender(redis_url)
    sender.send_task(name, args=args or [])
    sender.close()


@pytest.fixture
def empty_queues(redis_url):
    queues = redis.Redis.from_url(redis_url)
    queues.delete(BACKGROUND_QUEUE, URGENT_QUEUE)
    return queues


@pytest.fixture
def urgent_worker(redis_url, empty_queues, tmp_path):
    """A worker that consumes the urgent queue alone, as rentdesk-worker-urgent does; its log."""
    log = tmp_path / "urgent.log"
    worker = start_celery(["worker", "--queues", "urgent", "--concurrency", "2"], redis_url=redis_url,
                          outbox=tmp_path / "outbox", log=log)  # fmt: skip
    assert wait_until(lambda: " ready." in log.read_text(), seconds=60), log.read_text()[-3000:]
    yield log
    worker.terminate()
    worker.wait(timeout=30)


def test_a_webhook_sms_is_stored_by_the_urgent_worker_while_the_catalog_sync_waits_for_its_own(
    simulator, account, catalog, redis_url, empty_queues, urgent_worker
):
    rental = rent_number(account, catalog, webhook=True).rental
    send_by_name(redis_url, "rentals.tasks.sync_catalog")  # a catalog sync, as a new account asks for
    body = json.dumps({"rentId": rental.provider_rent_id, "sms": {"phoneFrom": "Bank", "text": "Code 246810"}})
    delivery_id = services.webhook_store(
        token=rental.webhook_token, body=body.encode(), content_type="application/json"
    )
    send_by_name(redis_url, "rentals.tasks.process_webhooks", [delivery_id])
    assert wait_until(lambda: SmsMessage.objects.filter(rental=rental, code="246810").exists(), seconds=30), (
        urgent_worker.read_text()[-3000:]
    )
    # The sync is left for the background worker: the urgent one never took it.
    assert "Task rentals.tasks.sync_catalog[" not in urgent_worker.read_text()
    assert empty_queues.llen(BACKGROUND_QUEUE) == 1
    assert not simulator.requests("getRentPrices")


def test_the_polling_cycle_polls_rentals_awaiting_a_code_on_the_urgent_queue_and_leaves_the_rest(
    simulator, account, catalog, redis_url, empty_queues, urgent_worker
):
    awaiting, idle = (
        rent_number(account, catalog, webhook=True).rental,
        rent_number(account, catalog, webhook=True).rental,
    )
    make_idle(idle)
    send_by_name(redis_url, "rentals.tasks.poll_sms")
    assert wait_until(lambda: simulator.requests("getRentStatus"), seconds=30), urgent_worker.read_text()[-3000:]
    finished = "Task rentals.tasks.poll_awaiting_sms["
    assert wait_until(lambda: any(finished in line and " succeeded in " in line
                                  for line in urgent_worker.read_text().splitlines()), seconds=30)  # fmt: skip
    polled = {request["id"] for request in simulator.requests("getRentStatus")}
    assert polled == {awaiting.provider_rent_id}
    # The idle rental's poll waits on the background queue, for the background worker.
    assert empty_queues.llen(BACKGROUND_QUEUE) == 1
    assert "Task rentals.tasks.poll_account_sms[" not in urgent_worker.read_text()


def test_a_poll_of_rentals_awaiting_a_code_goes_on_while_the_idle_rentals_poll_holds_the_account(
    simulator, account, catalog
):
    awaiting = rent_number(account, catalog, webhook=True).rental
    idle_poll = PollLease.take(account.pk)  # the background poll, for its 15-second cycle
    assert idle_poll is not None
    services.account_poll(account_id=account.pk, rental_ids=[awaiting.pk], cycle_started=timezone.now(),
                          awaiting=True)  # fmt: skip
    assert [request["id"] for request in simulator.requests("getRentStatus")] == [awaiting.provider_rent_id]


def test_a_poll_of_rentals_awaiting_a_code_does_not_wait_for_another_that_holds_their_lease(
    simulator, account, catalog
):
    """It would wait in an urgent worker's slot: its rentals are due again at the next cycle instead."""
    awaiting = rent_number(account, catalog, webhook=True).rental
    assert PollLease.take(account.pk, awaiting=True) is not None
    polled = services.account_poll(account_id=account.pk, rental_ids=[awaiting.pk], cycle_started=timezone.now(),
                                   awaiting=True)  # fmt: skip
    assert polled == 0 and not simulator.requests("getRentStatus")
    assert Rental.objects.get(pk=awaiting.pk).last_polled_at is None


def test_the_urgent_poll_takes_a_few_seconds_of_requests_and_the_background_poll_the_rest(settings):
    settings.SMSONLINE_POLL_RATE = 2  # 30 requests in a 15-second cycle; the urgent poll takes 2 s of them
    due = DuePolls(awaiting=list(range(1, 7)), idle=list(range(100, 140)))
    urgent, rest = services.polls_split(due)
    assert urgent == [1, 2, 3, 4]
    assert rest[:2] == [5, 6]  # awaiting rentals the urgent poll could not take go first in the other
    assert len(urgent) + len(rest) == 30


def test_only_a_background_worker_that_starts_asks_for_stale_provider_data(redis_url, empty_queues, tmp_path):
    """Both workers start together on a deploy: the catalog sync and balance checks are asked for once,
    by the worker whose work they are."""
    logs = {queue: tmp_path / f"{queue}.log" for queue in ("urgent", "background")}
    workers = [
        start_celery(["worker", "--queues", queue, "--concurrency", "1"], redis_url=redis_url, outbox=tmp_path,
                     log=log, env={"RENTDESK_REFRESH_ON_WORKER_START": "true"})
        for queue, log in logs.items()
    ]  # fmt: skip
    try:
        assert wait_until(lambda: all(" ready." in log.read_text() for log in logs.values()), seconds=60)
        assert wait_until(lambda: asked_for_refresh(logs["background"]) >= 1, seconds=30)
        time.sleep(1)  # a second request, if the urgent worker sent one, would be taken by now
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
    assert asked_for_refresh(logs["background"]) == 1
    assert asked_for_refresh(logs["urgent"]) == 0


def asked_for_refresh(log) -> int:
    lines = log.read_text().splitlines()
    return sum(
        "Task rentals.tasks.refresh_stale_provider_data[" in line and line.endswith(" received") for line in lines
    )


def test_a_poll_of_rentals_awaiting_a_code_never_waits_long_for_the_accounts_pace(simulator, account, catalog):
    """Requests booked further ahead (web quotes, another poll) would have it sleep in an urgent slot:
    it stops instead, and its rentals are due again at the next cycle."""
    awaiting = rent_number(account, catalog, webhook=True).rental
    ProviderAccount.objects.filter(pk=account.pk).update(next_request_at=timezone.now() + timedelta(seconds=30))
    polled = services.account_poll(account_id=account.pk, rental_ids=[awaiting.pk], cycle_started=timezone.now(),
                                   awaiting=True)  # fmt: skip
    assert polled == 0 and not simulator.requests("getRentStatus")
    # Its moments were left to those who booked them, the account is free for the next poll, and the
    # rental is not counted as polled: the account's other poll, or the next cycle, takes it first.
    assert ProviderAccount.objects.get(pk=account.pk).awaiting_polling_until is None
    assert Rental.objects.get(pk=awaiting.pk).last_polled_at is None
