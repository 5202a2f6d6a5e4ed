"""Webhook deliveries under bursts: stored in one statement, made SMS by runs that take every stored
delivery, so a burst queues a handful of tasks rather than one per SMS (bench/webhook_ingest.py)."""

import json

import pytest
import redis
from celery.signals import before_task_publish
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from rentals import services, tasks
from rentals.models import RentalExtension, SmsMessage, WebhookDelivery
from rentals.services.followups import WEBHOOK_RUN_QUEUED

from .factories import RentalFactory

pytestmark = pytest.mark.django_db(transaction=True)


def sms_body(rental, text: str, rent_id: str = "") -> str:
    return json.dumps({"rentId": rent_id or rental.provider_rent_id,
                       "sms": {"phoneFrom": "Bank", "text": text, "date": "2030-01-01 12:00:00"}})  # fmt: skip


def post(client, rental, body: str):
    return client.post(reverse("rentals:sms_webhook", args=[rental.webhook_token]), body,
                       content_type="application/json")  # fmt: skip


@pytest.fixture
def queued_runs(settings, redis_url):
    """Runs queued while the broker's Redis holds the flag (no worker: they stay queued)."""
    settings.CELERY_BROKER_URL = redis_url
    redis.Redis.from_url(redis_url).delete(WEBHOOK_RUN_QUEUED)
    published: list[dict] = []

    def count(sender: str, headers: dict, **kwargs: object) -> None:
        if sender == "rentals.tasks.process_webhooks":
            published.append(headers)

    before_task_publish.connect(count)
    yield published
    before_task_publish.disconnect(count)


def test_a_burst_queues_one_run_and_the_run_takes_every_delivery(client, queued_runs):
    rental = RentalFactory(webhook_token="burst-token")
    for n in range(5):
        assert post(client, rental, sms_body(rental, f"Code {n:04d}")).status_code == 200
    assert len(queued_runs) == 1 and WebhookDelivery.objects.count() == 5
    tasks.process_webhooks(WebhookDelivery.objects.order_by("pk").first().pk)  # as the worker runs it
    assert SmsMessage.objects.count() == 5
    assert WebhookDelivery.objects.filter(processed_at__isnull=True).count() == 0
    # That run has started: the next delivery queues a run of its own.
    assert post(client, rental, sms_body(rental, "Code 0005")).status_code == 200
    assert len(queued_runs) == 2


def test_a_delivery_for_the_current_rent_is_stored_in_one_statement_as_the_orm_would(client):
    rental = RentalFactory(webhook_token="one-statement")
    before = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        delivery_id = services.webhook_store(token="one-statement", body=sms_body(rental, "Code 1").encode(),
                                             content_type="application/json")  # fmt: skip
    assert len(queries) == 1
    stored = WebhookDelivery.objects.create(rental=rental, body_hash="by the orm", body=b"{}", content_type="x")
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert before <= delivery.received_at == delivery.enqueued_at <= stored.received_at
    assert (delivery.rental, delivery.processed_at, delivery.outcome) == (rental, None, "")
    assert delivery.content_type == "application/json" and b"Code 1" in bytes(delivery.body)
    # Times written by hand and by the ORM sort together (SQLite keeps them as text).
    assert list(WebhookDelivery.objects.order_by("received_at")) == [delivery, stored]


def test_an_sms_sent_before_an_extension_reordered_the_rent_is_still_taken(client):
    rental = RentalFactory(webhook_token="extended", provider_rent_id="2002")
    RentalExtension.objects.create(rental=rental, hours=24, old_rent_id="1001", new_rent_id="2002")
    assert post(client, rental, sms_body(rental, "Code 77", rent_id="1001")).status_code == 200
    assert post(client, rental, sms_body(rental, "Code 77", rent_id="1001")).status_code == 200  # again: kept once
    assert post(client, rental, sms_body(rental, "Code 78", rent_id="3003")).status_code == 400
    assert WebhookDelivery.objects.count() == 1
