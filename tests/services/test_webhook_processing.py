"""Webhook deliveries under bursts: stored in one statement, made SMS by runs that take every stored
delivery, so a burst queues a handful of tasks rather than one per SMS (bench/webhook_ingest.py)."""

import json
from datetime import UTC, datetime

import pytest
import redis
from celery.signals import before_task_publish
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from rentals import services, tasks
from rentals.models import RentalExtension, SmsMessage, WebhookDelivery
from rentals.raw_sql import delivery_to_process
from rentals.services.followups import WEBHOOK_RUN_QUEUED

from ..factories import RentalFactory

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

    before_task_publish.connect(count, weak=False)  # see test_budgets: a dead weak receiver hides later ones
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


def dated_body(rental, text: str, date: str) -> bytes:
    return json.dumps({"rentId": rental.provider_rent_id,
                       "sms": {"phoneFrom": "Bank", "text": text, "date": date}}).encode()  # fmt: skip


def stored(rental, body: bytes) -> int:
    return services.webhook_store(token=rental.webhook_token, body=body, content_type="application/json")


def test_processing_records_an_sms_as_the_orm_would_and_only_a_newer_one_becomes_the_rentals_last(settings):
    settings.PROVIDER_TIMEZONE = "UTC"
    rental = RentalFactory(webhook_token="statements")
    newer = stored(rental, dated_body(rental, "Your code 123-456", "2025-01-01 12:00:00"))
    older = stored(rental, dated_body(rental, "Your code 9999", "2025-01-01 11:00:00"))
    before = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        message = services.webhook_process(delivery_id=newer)
    # The read, the SMS and the rental (one transaction), the delivery marked processed.
    statements = [query["sql"].split()[0] for query in queries]
    assert [word for word in statements if word in ("SELECT", "INSERT", "UPDATE")] == [
        "SELECT", "INSERT", "UPDATE", "UPDATE"
    ]  # fmt: skip
    assert services.webhook_process(delivery_id=older) is not None
    by_hand = SmsMessage.objects.get(pk=message.pk)
    assert (by_hand.rental, by_hand.sender, by_hand.text, by_hand.code, by_hand.source) == (
        rental, "Bank", "Your code 123-456", "123456", "webhook"
    )  # fmt: skip
    assert by_hand.received_at == datetime(2025, 1, 1, 12, tzinfo=UTC) and before <= by_hand.created_at
    assert (message.pk, message.received_at, message.code) == (by_hand.pk, by_hand.received_at, by_hand.code)
    rental.refresh_from_db()
    assert (rental.last_sms_text, rental.last_sms_code) == ("Your code 123-456", "123456")  # not the older one
    # Times written by hand and by the ORM sort together (SQLite keeps them as text).
    by_orm = SmsMessage.objects.create(rental=rental, sender="x", text="later", received_at=by_hand.received_at,
                                       dedupe_key="by the orm", source="poll")  # fmt: skip
    assert list(SmsMessage.objects.order_by("created_at")) == [by_hand, SmsMessage.objects.get(text="Your code 9999"),
                                                               by_orm]  # fmt: skip
    assert set(WebhookDelivery.objects.values_list("outcome", flat=True)) == {"recorded"}
    assert WebhookDelivery.objects.filter(processed_at__lt=before).count() == 0


def test_a_delivery_is_processed_once_and_an_unreadable_one_is_kept_with_the_reason():
    rental = RentalFactory(webhook_token="once")
    delivery_id = stored(rental, dated_body(rental, "Code 4321", "2030-01-01 12:00:00"))
    assert services.webhook_process(delivery_id=delivery_id) is not None
    processed_at = WebhookDelivery.objects.get(pk=delivery_id).processed_at
    assert services.webhook_process(delivery_id=delivery_id) is None  # a second run finds it done
    assert WebhookDelivery.objects.get(pk=delivery_id).processed_at == processed_at
    # Stored as it came when the store could not read it (the store checks; a body stored earlier may not be).
    unreadable = WebhookDelivery.objects.create(rental=rental, body_hash="bad", body=b"\x00{not json",
                                                content_type="application/json")  # fmt: skip
    assert services.webhook_process(delivery_id=unreadable.pk) is None
    unreadable.refresh_from_db()
    assert unreadable.outcome.startswith("unreadable: ") and unreadable.processed_at is not None
    assert SmsMessage.objects.count() == 1


def test_the_delivery_read_for_processing_loads_any_other_field_when_asked():
    rental = RentalFactory(webhook_token="deferred", label="Shop A", sms_chat_urls="none")
    delivery_id = stored(rental, dated_body(rental, "Code 1", "2030-01-01 12:00:00"))
    delivery = delivery_to_process(delivery_id)
    assert delivery.rental.sms_chat_urls == "none" and bytes(delivery.body).startswith(b"{")
    as_the_orm_reads = WebhookDelivery.objects.get(pk=delivery_id)
    # Its times are loaded, converted as the ORM converts them (aware, on SQLite too).
    assert (delivery.received_at, delivery.stored_at) == (as_the_orm_reads.received_at, as_the_orm_reads.stored_at)
    with CaptureQueriesContext(connection) as queries:
        assert (delivery.rental.label, delivery.rental.number) == ("Shop A", rental.number)
        assert delivery.enqueued_at == WebhookDelivery.objects.get(pk=delivery_id).enqueued_at
    assert len(queries) == 4  # deferred, as with only(): each field read costs a query, never a wrong value
    rental.delete()
    assert delivery_to_process(delivery_id) is None


def test_the_newest_sms_a_page_reads_are_the_orms_with_their_forwarding():
    from rentals.models import ForwardState, SmsForward
    from rentals.selectors import LIVE_SMS_SHOWN, live_sms_of

    rental, other = RentalFactory(), RentalFactory()
    now = timezone.now()
    for n in range(LIVE_SMS_SHOWN + 2):
        SmsMessage.objects.create(rental=rental, sender="Bank", text=f"Code {n}", code=str(n), dedupe_key=str(n),
                                  received_at=now.replace(second=n % 3), source="poll")  # fmt: skip
    SmsMessage.objects.create(
        rental=other, sender="x", text="elsewhere", received_at=now, dedupe_key="x", source="poll"
    )
    sent = SmsMessage.objects.get(text="Code 2")
    SmsForward.objects.create(sms=sent, state=ForwardState.SENT, destinations="tgram://…/ops", sent_at=now,
                              attempts=1, delivered=["tgram"])  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        newest = live_sms_of(rental_id=rental.pk)
        forwards = {sms.pk: getattr(sms, "forward", None) for sms in newest}
    assert len(queries) == 1
    by_orm = list(SmsMessage.objects.filter(rental=rental).order_by("-received_at", "-pk")[:LIVE_SMS_SHOWN])
    fields = [field.attname for field in SmsMessage._meta.concrete_fields]
    assert [[getattr(sms, name) for name in fields] for sms in newest] == [
        [getattr(sms, name) for name in fields] for sms in by_orm
    ]  # fmt: skip
    assert {pk for pk, forward in forwards.items() if forward is not None} == {sent.pk}
    forward = forwards[sent.pk]
    assert (forward.state, forward.destinations, forward.sent_at, forward.attempts) == ("sent", "tgram://…/ops", now, 1)
    assert forward.delivered == ["tgram"]  # not read with the page: loaded when asked, as with only()
