"""The Celery side: registered names, the installed schedule, messages, and the task wrappers."""

import base64
import json
from datetime import timedelta
from decimal import Decimal

import pytest
import redis
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from config.celery import app
from rentals import tasks
from rentals.models import AccountState
from rentals.schedule import SCHEDULE, schedule_install

from ..conftest import SANDBOX_KEY
from ..factories import AccountFactory, RentalFactory

pytestmark = pytest.mark.django_db(transaction=True)

PUBLIC_TASK_NAMES = {
    "rentals.tasks.send_expiry_reminders",
    "rentals.tasks.expire_rentals",
    "rentals.tasks.check_balances",
}


def test_every_scheduled_task_is_registered_with_the_worker():
    app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    scheduled = set(PeriodicTask.objects.exclude(task="celery.backend_cleanup").values_list("task", flat=True))
    assert scheduled == {job.task for job in SCHEDULE} and scheduled >= PUBLIC_TASK_NAMES
    assert scheduled <= set(app.tasks)


def test_installing_the_schedule_keeps_what_admins_changed():
    job = PeriodicTask.objects.get(name="Send expiry reminders")
    job.interval = IntervalSchedule.objects.create(every=300, period=IntervalSchedule.SECONDS)
    job.enabled = False
    job.save()
    assert schedule_install() == []
    job.refresh_from_db()
    assert (job.interval.every, job.enabled) == (300, False)
    PeriodicTask.objects.filter(name="Expire rentals").delete()
    assert schedule_install() == ["Expire rentals"]


def test_time_limits_stay_under_the_visibility_timeout():
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit < visibility
    assert app.conf.task_serializer == "json" and app.conf.accept_content == ["json"]


def test_a_task_message_carries_the_account_id_and_never_the_key(redis_url, account):
    with app.connection_for_write(url=redis_url) as connection:
        tasks.check_account_balance.apply_async(args=[account.pk], connection=connection, queue="inspect-me")
    (raw,) = redis.Redis.from_url(redis_url).lrange("inspect-me", 0, -1)
    assert SANDBOX_KEY.encode() not in raw
    envelope = json.loads(raw)
    args, kwargs, _ = json.loads(base64.b64decode(envelope["body"]))
    assert (args, kwargs) == ([account.pk], {})
    assert SANDBOX_KEY not in base64.b64decode(envelope["body"]).decode()


def test_check_balances_clears_passed_bans_and_checks_every_account(eager_tasks, simulator, account):
    other = AccountFactory(name="Other", api_url=simulator.api_url, api_key="other-key-1234567890")
    simulator.set_account(SANDBOX_KEY, balance="12.00")
    account.state, account.banned_until = AccountState.BANNED, timezone.now() - timedelta(minutes=5)
    account.save()
    assert tasks.check_balances.delay().get() == 2
    account.refresh_from_db()
    other.refresh_from_db()
    assert account.state == AccountState.OK and account.balance == Decimal("12.00")
    assert other.balance == Decimal("100.00")


def test_expire_and_remind_tasks_run_their_services(eager_tasks):
    RentalFactory(end_date=timezone.now() - timedelta(minutes=1))
    RentalFactory(end_date=timezone.now() + timedelta(hours=1))
    assert tasks.expire_rentals.delay().get() == 1
    assert tasks.send_expiry_reminders.delay().get() == 1
    assert tasks.send_expiry_reminders.delay().get() == 0


def test_workers_keep_the_redacting_log_handlers():
    # Celery would otherwise replace the root handlers, and their API-key filter with them.
    assert app.conf.worker_hijack_root_logger is False
