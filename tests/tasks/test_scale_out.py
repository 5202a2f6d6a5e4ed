"""Scale-out: two workers (as on two hosts) on one Redis and one database; two beats, one sends.

Every task reaches a worker at least once, and sometimes twice (a redelivery, two beats, a task
queued again by polling): what matters is that doing the work twice, at the same moment, in two
processes, changes nothing the second time.
"""

import json
from datetime import timedelta

import pytest
import redis
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from rentals import services
from rentals.models import RentalReminder, RentalStatus, SmsMessage, WebhookDelivery
from rentals.queues import BACKGROUND_QUEUE, URGENT_QUEUE

from ..conftest import sent_messages, start_celery, task_sender, wait_until
from ..factories import RentalFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

TIMES_EACH = 6  # each job is queued this many times


def queue(redis_url: str, tasks: list[tuple[str, list]]) -> None:
    """Queue tasks by name on the shared Redis, as beat or the web app does."""
    sender = task_sender(redis_url)
    for name, args in tasks:
        sender.send_task(name, args=args)
    sender.close()


def purge(redis_url: str) -> None:
    """Empty the queues of what earlier tests left in the shared Redis: the counts below are this test's."""
    redis.Redis.from_url(redis_url).delete(BACKGROUND_QUEUE, URGENT_QUEUE)


def tasks_done(log_text: str) -> int:
    return log_text.count(" succeeded in ")


def test_two_workers_running_the_same_jobs_at_once_do_each_thing_once(redis_url, tmp_path):
    owner = UserFactory(username="olena")
    now = timezone.now()
    ending = [
        RentalFactory(end_date=now + timedelta(minutes=50), rented_by=owner, webhook_token=f"token-{n}")
        for n in range(4)
    ]
    ended = [RentalFactory(end_date=now - timedelta(minutes=5)) for _ in range(3)]
    deliveries = [
        services.webhook_store(
            token=ending[0].webhook_token,
            body=json.dumps(
                {"rentId": ending[0].provider_rent_id, "sms": {"phoneFrom": "Bank", "text": f"Code {n}"}}
            ).encode(),
            content_type="application/json",
        )
        for n in range(8)
    ]
    outbox = tmp_path / "outbox"
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    purge(redis_url)
    workers = [
        start_celery(["worker", "--concurrency", "2", "--hostname", f"{name}@%h"], redis_url=redis_url,
                     outbox=outbox, log=log)
        for name, log in zip(["a", "b"], logs, strict=True)
    ]  # fmt: skip
    jobs = [("rentals.tasks.send_expiry_reminders", []), ("rentals.tasks.expire_rentals", [])]
    jobs += [("rentals.tasks.process_webhook", [delivery_id]) for delivery_id in deliveries]
    jobs += [("rentals.tasks.process_webhooks", [])]
    try:
        assert wait_until(lambda: all(" ready." in log.read_text() for log in logs), seconds=60)
        queue(redis_url, jobs * TIMES_EACH)
        finished = wait_until(lambda: sum(tasks_done(log.read_text()) for log in logs) >= len(jobs) * TIMES_EACH,
                              seconds=120)  # fmt: skip
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
    outputs = [log.read_text() for log in logs]
    assert finished, outputs[0][-2000:] + outputs[1][-2000:]
    assert all(tasks_done(output) > 0 for output in outputs)  # both workers did take part
    assert not any("Traceback" in output for output in outputs), outputs
    # One reminder per rental, sent once, however many times the job ran in two processes.
    assert len(sent_messages(outbox)) == len(ending)
    assert RentalReminder.objects.filter(sent_at__isnull=False).count() == len(ending)
    assert {r.pk for r in ending} == set(RentalReminder.objects.values_list("rental_id", flat=True))
    # Each past rental is expired, each webhook delivery gives one SMS.
    assert set(RentalFactory._meta.model.objects.filter(status=RentalStatus.EXPIRED).values_list("pk", flat=True)) == {
        r.pk for r in ended
    }
    assert SmsMessage.objects.count() == len(deliveries)
    assert not WebhookDelivery.objects.filter(processed_at__isnull=True).exists()
    started = f"Rentdesk worker starting: settings config.settings.test, broker {redis_url}, queues background, urgent"
    assert all(started in output for output in outputs)


def test_of_two_beats_one_sends_and_the_other_takes_over_when_it_stops(redis_url, tmp_path):
    every_second = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(name="Expire rentals").update(interval=every_second)
    outbox = tmp_path / "outbox"
    logs = [tmp_path / "beat-a.log", tmp_path / "beat-b.log"]
    first = start_celery(["beat"], redis_url=redis_url, outbox=outbox, log=logs[0])
    second = None
    try:
        assert wait_until(lambda: "holds the beat lock" in logs[0].read_text(), seconds=60), logs[0].read_text()
        second = start_celery(["beat"], redis_url=redis_url, outbox=outbox, log=logs[1])
        assert wait_until(lambda: "does not hold the beat lock" in logs[1].read_text(), seconds=60)
        assert wait_until(lambda: logs[0].read_text().count("Sending due task Expire rentals") >= 3, seconds=30)
        assert "Sending due task" not in logs[1].read_text()  # the standby sent nothing meanwhile
        first.terminate()
        first.wait(timeout=30)
        assert wait_until(lambda: "Sending due task Expire rentals" in logs[1].read_text(), seconds=30)
    finally:
        for beat in (first, second):
            if beat is not None and beat.poll() is None:
                beat.terminate()
                beat.wait(timeout=30)
    assert "holds the beat lock" in logs[1].read_text()
    assert f"Rentdesk beat starting: settings config.settings.test, broker {redis_url}, queues background, urgent" in (
        logs[0].read_text()
    )
