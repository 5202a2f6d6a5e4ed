"""End to end: a real Celery worker with its beat, on a real Redis, emails one reminder, once."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from rentals.models import RentalReminder

from .conftest import sent_messages, start_celery
from .factories import RentalFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_worker_and_beat_send_exactly_one_reminder(redis_url, tmp_path):
    owner = UserFactory(username="olena")
    rental = RentalFactory(end_date=timezone.now() + timedelta(minutes=50), rented_by=owner, label="Payments")
    every_second = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(name="Send expiry reminders").update(interval=every_second)
    outbox, log = tmp_path / "outbox", tmp_path / "worker.log"
    worker = start_celery(["worker", "--beat", "--concurrency", "2"], redis_url=redis_url, outbox=outbox, log=log)
    try:
        deadline = time.monotonic() + 60
        while not sent_messages(outbox) and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.5)
        time.sleep(5)  # several more beats: each runs the job again, and none may send again
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    output = log.read_text()
    messages = sent_messages(outbox)
    assert len(messages) == 1, output[-3000:]
    assert f"+{rental.number}" in messages[0] and "olena@example.test" in messages[0]
    assert output.count("rentals.tasks.send_expiry_reminders") >= 4  # the job did run again and again
    assert RentalReminder.objects.get().sent_at is not None
