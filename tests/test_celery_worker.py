"""End to end: a real Celery worker with its beat, on a real Redis, emails one reminder, once."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from rentals.models import RentalReminder

from .factories import RentalFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PROJECT = Path(__file__).resolve().parent.parent


def database_url_of_this_test() -> str:
    """The test database, spelled for the worker process."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = f"{db['USER']}:{db['PASSWORD']}@" if db["PASSWORD"] else f"{db['USER']}@"
    return f"postgres://{auth}{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def sent_messages(outbox: Path) -> list[str]:
    return [m for f in sorted(outbox.glob("*.log")) for m in f.read_text().split("\n" + "-" * 79 + "\n") if m.strip()]


def test_a_worker_and_beat_send_exactly_one_reminder(redis_url, tmp_path):
    owner = UserFactory(username="olena")
    rental = RentalFactory(end_date=timezone.now() + timedelta(minutes=50), rented_by=owner, label="Payments")
    every_second = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(name="Send expiry reminders").update(interval=every_second)
    outbox = tmp_path / "outbox"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url_of_this_test(),
        "REDIS_URL": redis_url,
        "EMAIL_URL": f"filemail:///{outbox}",
        "RENTDESK_ENV_FILE": "/nonexistent",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--beat", "--concurrency", "2",
         "--loglevel", "INFO", "--schedule", str(tmp_path / "beat-schedule")],
        cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not sent_messages(outbox) and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.5)
        time.sleep(5)  # several more beats: each runs the job again, and none may send again
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    messages = sent_messages(outbox)
    assert len(messages) == 1, output[-3000:]
    assert f"+{rental.number}" in messages[0] and "olena@example.test" in messages[0]
    assert output.count("rentals.tasks.send_expiry_reminders") >= 4  # the job did run again and again
    assert RentalReminder.objects.get().sent_at is not None
