"""Retention: what the RENTDESK_KEEP_* settings no longer keep is removed in bounded batches, and what is
still needed (a delivery not yet an SMS, the errors of an open rent attempt, the SMS rows) stays."""

import json
import re
from datetime import timedelta

import environ
import pytest
from celery.signals import before_task_publish
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from config.settings import readers
from rentals import services, tasks
from rentals.models import AttemptState, ErrorEvent, Rental, RentAttempt, SmsMessage, WebhookDelivery
from rentals.queues import URGENT_TASKS

from ..conftest import manage
from ..factories import RentalFactory

pytestmark = pytest.mark.django_db(transaction=True)

NOW = timezone.now()
OLD = NOW - timedelta(days=40)
YOUNG = NOW - timedelta(days=5)


@pytest.fixture
def keep(settings):
    """Deliveries kept 30 days, provider errors 30 days, SMS texts forever (the default)."""
    settings.RENTDESK_KEEP_WEBHOOK_DELIVERIES_DAYS = 30
    settings.RENTDESK_KEEP_PROVIDER_ERRORS_DAYS = 30
    settings.RENTDESK_KEEP_SMS_TEXT_DAYS = None
    settings.PROVIDER_TIMEZONE = "UTC"
    return settings


def delivery(rental: Rental, name: str, *, received, processed) -> WebhookDelivery:
    row = WebhookDelivery.objects.create(rental=rental, body_hash=name, body=b"{}", content_type="application/json")
    WebhookDelivery.objects.filter(pk=row.pk).update(received_at=received, processed_at=processed)
    return row


def error_event(rental: Rental, *, created, attempt_state: str | None = None) -> ErrorEvent:
    attempt = None
    if attempt_state is not None:
        attempt = RentAttempt.objects.create(account=rental.account, service=rental.service, country=rental.country,
                                             hours=24, via="admin", state=attempt_state)  # fmt: skip
    event = ErrorEvent.objects.create(account=rental.account, operation="getRentNumber", token="ERROR_SQL",
                                      attempt=attempt)  # fmt: skip
    ErrorEvent.objects.filter(pk=event.pk).update(created_at=created)
    return event


def webhook_sms(rental: Rental, text: str, date: str) -> SmsMessage | None:
    body = json.dumps({"rentId": rental.provider_rent_id, "sms": {"phoneFrom": "Bank", "text": text, "date": date}})
    stored = services.webhook_store(token=rental.webhook_token, body=body.encode(), content_type="application/json")
    return services.webhook_process(delivery_id=stored)


def test_old_processed_deliveries_go_and_young_or_unprocessed_ones_stay(keep):
    rental = RentalFactory()
    old = delivery(rental, "old", received=OLD, processed=OLD)
    young = delivery(rental, "young", received=YOUNG, processed=YOUNG)
    # Stored long ago and never made into an SMS (its worker was lost): its SMS exists nowhere else.
    waiting = delivery(rental, "waiting", received=OLD, processed=None)
    purged = services.records_purge(now=NOW, budget_seconds=None)
    assert purged.finished and purged.counts["webhook deliveries"] == 1
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {young.pk, waiting.pk}
    assert not WebhookDelivery.objects.filter(pk=old.pk).exists()


def test_old_provider_errors_go_except_those_of_a_rent_attempt_still_open(keep):
    rental = RentalFactory()
    settled = error_event(rental, created=OLD, attempt_state=AttemptState.FAILED)
    plain = error_event(rental, created=OLD)
    unknown = error_event(rental, created=OLD, attempt_state=AttemptState.UNKNOWN)
    pending = error_event(rental, created=OLD, attempt_state=AttemptState.PENDING)
    young = error_event(rental, created=YOUNG)
    assert services.records_purge(now=NOW, budget_seconds=None).counts["provider errors"] == 2
    assert set(ErrorEvent.objects.values_list("pk", flat=True)) == {unknown.pk, pending.pk, young.pk}
    assert not ErrorEvent.objects.filter(pk__in=[settled.pk, plain.pk]).exists()


def test_sms_texts_stay_unless_the_team_sets_a_time(keep):
    rental = RentalFactory(webhook_token="kept-texts")
    webhook_sms(rental, "Your code 123456", "2020-01-01 12:00:00")
    assert "SMS texts" not in services.records_purge(now=NOW, budget_seconds=None).counts
    assert SmsMessage.objects.get().text == "Your code 123456"


def test_an_old_sms_loses_its_text_and_code_but_stays_and_is_not_made_again(keep):
    keep.RENTDESK_KEEP_SMS_TEXT_DAYS = 30
    rental = RentalFactory(webhook_token="old-texts")
    old = webhook_sms(rental, "Your code 123456", "2020-01-01 12:00:00")
    young = webhook_sms(rental, "Your code 654321", timezone.now().strftime("%Y-%m-%d %H:%M:%S"))
    Rental.objects.filter(pk=rental.pk).update(last_sms_at=OLD)  # its newest SMS shown in the inventory
    WebhookDelivery.objects.update(processed_at=OLD)  # their deliveries go too
    purged = services.records_purge(now=NOW, budget_seconds=None)
    assert (purged.counts["SMS texts"], purged.counts["rentals' last SMS texts"]) == (1, 1)
    assert purged.counts["webhook deliveries"] == 2 and not WebhookDelivery.objects.exists()
    old.refresh_from_db()
    assert (old.text, old.code, old.sender) == ("(text removed after 30 days)", "", "Bank")
    assert old.text_removed_at is not None
    assert SmsMessage.objects.get(pk=young.pk).text == "Your code 654321"
    rental.refresh_from_db()
    assert (rental.last_sms_text, rental.last_sms_code) == ("(text removed after 30 days)", "")
    # The same SMS again (a late poll or webhook), its delivery gone: still known by the SMS's dedupe key.
    assert webhook_sms(rental, "Your code 123456", "2020-01-01 12:00:00") is None
    assert SmsMessage.objects.count() == 2 and WebhookDelivery.objects.get().outcome == "already recorded"
    assert services.records_purge(now=NOW, budget_seconds=None).counts["SMS texts"] == 0


def test_a_run_works_in_batches_by_primary_key_and_stops_at_its_budget(keep):
    rental = RentalFactory()
    for n in range(7):
        delivery(rental, f"old-{n}", received=OLD, processed=OLD)
    first = services.records_purge(now=NOW, budget_seconds=0, batch_rows=3)
    assert (first.counts, first.finished) == ({"webhook deliveries": 3}, False)
    assert WebhookDelivery.objects.count() == 4
    with CaptureQueriesContext(connection) as queries:
        rest = services.records_purge(now=NOW, budget_seconds=None, batch_rows=3, pause_seconds=0)
    assert rest.finished and rest.counts["webhook deliveries"] == 4
    deletes = [query["sql"] for query in queries if query["sql"].startswith("DELETE")]
    assert len(deletes) == 2  # 3 rows, then 1: each statement names its rows by primary key
    assert [len(re.search(r"IN \(([^)]*)\)", sql).group(1).split(",")) for sql in deletes] == [3, 1]


@pytest.fixture
def queued_purges(settings, redis_url):
    """Purge runs queued on a real broker (no worker: they stay queued); their message headers."""
    settings.CELERY_BROKER_URL = redis_url
    published: list[dict] = []

    def count(sender: str, headers: dict, **kwargs: object) -> None:
        if sender == "rentals.tasks.purge_old_records":
            published.append(headers)

    before_task_publish.connect(count, weak=False)
    yield published
    before_task_publish.disconnect(count)


def test_the_nightly_task_stops_at_its_budget_and_queues_a_run_for_the_rest(keep, queued_purges, monkeypatch):
    rental = RentalFactory()
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(rental=rental, body_hash=f"old-{n}", body=b"{}", content_type="application/json")
        for n in range(2100)
    )
    WebhookDelivery.objects.update(received_at=OLD, processed_at=OLD)
    monkeypatch.setattr(tasks, "PURGE_BUDGET_SECONDS", 0)  # each run: one batch, then the next is queued
    tasks.purge_old_records()
    assert len(queued_purges) == 1 and queued_purges[0]["eta"]  # later, not at once
    assert 0 < WebhookDelivery.objects.count() < 2100
    while len(queued_purges) < 20 and WebhookDelivery.objects.exists():
        tasks.purge_old_records()  # as the worker runs each queued one
    assert not WebhookDelivery.objects.exists()
    queued = len(queued_purges)
    tasks.purge_old_records()  # nothing left: nothing queued
    assert len(queued_purges) == queued


def test_the_dry_run_counts_and_removes_nothing(keep, capsys):
    rental = RentalFactory()
    delivery(rental, "old", received=OLD, processed=OLD)
    error_event(rental, created=OLD)
    status, out, _ = manage("purge_old_records", "--dry-run", capsys=capsys)
    assert status == 0
    assert "webhook deliveries: 1 to remove" in out and "provider errors: 1 to remove" in out
    assert (WebhookDelivery.objects.count(), ErrorEvent.objects.count()) == (1, 1)
    status, out, _ = manage("purge_old_records", capsys=capsys)
    assert "webhook deliveries: 1 removed" in out
    assert (WebhookDelivery.objects.count(), ErrorEvent.objects.count()) == (0, 0)


def test_keeping_everything_forever_removes_nothing(keep, capsys):
    keep.RENTDESK_KEEP_WEBHOOK_DELIVERIES_DAYS = keep.RENTDESK_KEEP_PROVIDER_ERRORS_DAYS = None
    delivery(RentalFactory(), "old", received=OLD, processed=OLD)
    status, out, _ = manage("purge_old_records", capsys=capsys)
    assert status == 0 and "Nothing to purge" in out and WebhookDelivery.objects.count() == 1


def test_the_purge_runs_nightly_on_the_background_queue():
    job = PeriodicTask.objects.get(task="rentals.tasks.purge_old_records")
    assert (job.crontab.hour, job.crontab.minute, job.interval) == ("3", "40", None)
    assert "rentals.tasks.purge_old_records" not in URGENT_TASKS


@pytest.mark.parametrize(("value", "days"), [("", None), ("0", None), ("45", 45)])
def test_a_keep_setting_reads_days_and_zero_or_empty_as_forever(monkeypatch, value, days):
    monkeypatch.setenv("RENTDESK_KEEP_WEBHOOK_DELIVERIES_DAYS", value)
    assert readers.days_or_forever(environ.Env(), "RENTDESK_KEEP_WEBHOOK_DELIVERIES_DAYS", default=30) == days


@pytest.mark.parametrize("value", ["thirty", "-5", "1.5", "36501"])
def test_a_bad_keep_setting_is_refused_naming_it_and_what_it_takes(monkeypatch, value):
    monkeypatch.setenv("RENTDESK_KEEP_SMS_TEXT_DAYS", value)
    with pytest.raises(ImproperlyConfigured) as refused:
        readers.days_or_forever(environ.Env(), "RENTDESK_KEEP_SMS_TEXT_DAYS", default=None)
    assert str(refused.value) == (
        "RENTDESK_KEEP_SMS_TEXT_DAYS must be a whole number of days from 1 to 36500, or 0 or empty to keep "
        f"forever; not {value!r}."
    )
