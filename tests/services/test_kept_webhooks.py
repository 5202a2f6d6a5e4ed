"""A webhook the database cannot store is kept in Redis, answered 200, and stored once when it is back.

SMS.online sends each SMS once and never retries (shared contract, section 5): a 503 while the
database restarts is an SMS that waits for polling. Here the database really does not answer (on
PostgreSQL the connection goes to a port where nothing listens; on SQLite another connection holds
the write lock), through the whole middleware stack, with a real Redis keeping what arrives.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterator

import pytest
import redis
from celery.signals import before_task_publish
from django.contrib.auth.models import User
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from rentals import tasks
from rentals.models import RentalExtension, SmsMessage, WebhookDelivery
from rentals.services import kept_webhooks

from ..conftest import database_away, free_port, run_concurrently, sqlite_locked
from ..factories import RentalFactory

pytestmark = pytest.mark.django_db(transaction=True)

STORE_TASK = "rentals.tasks.store_kept_webhooks"


@pytest.fixture
def kept(settings, redis_url) -> Iterator[redis.Redis]:
    """The broker's Redis keeps what the database cannot store; it keeps nothing at the start."""
    settings.CELERY_BROKER_URL = redis_url
    client = redis.Redis.from_url(redis_url)
    keys = [kept_webhooks.KEPT, kept_webhooks.KEPT_BYTES, kept_webhooks.DROPPED]
    client.delete(*keys)
    kept_webhooks._kept_here.clear()
    yield client
    client.delete(*keys)
    kept_webhooks._kept_here.clear()


@pytest.fixture
def published() -> Iterator[list[str]]:
    """The names of the tasks sent to the broker."""
    names: list[str] = []

    def count(sender: str, **kwargs: object) -> None:
        names.append(sender)

    before_task_publish.connect(count, weak=False)
    yield names
    before_task_publish.disconnect(count)


def sms_body(rental, text: str, *, rent_id: str = "", extra: str = "") -> str:
    return json.dumps({"rentId": rent_id or rental.provider_rent_id,
                       "sms": {"phoneFrom": "Bank", "text": text + extra, "date": "2030-01-01 12:00:00"}})  # fmt: skip


def post(client, token: str, body: str):
    return client.post(reverse("rentals:sms_webhook", args=[token]), body, content_type="application/json")


def test_a_webhook_the_database_cannot_store_is_kept_answered_200_and_stored_once_it_is_back(client, kept):
    rental = RentalFactory(webhook_token="kept-token")
    body = sms_body(rental, "Your code 4321")
    with database_away():
        response = post(client, "kept-token", body)
        arrived = timezone.now()
    assert (response.status_code, response.content) == (200, b"OK")
    (entry,) = [json.loads(raw) for raw in kept.lrange(kept_webhooks.KEPT, 0, -1)]
    assert base64.b64decode(entry["body"]) == body.encode() and entry["content_type"] == "application/json"
    assert WebhookDelivery.objects.count() == 0  # not stored yet: only kept

    assert tasks.store_kept_webhooks() == 1
    delivery = WebhookDelivery.objects.get()
    assert bytes(delivery.body) == body.encode() and delivery.processed_at is not None
    assert delivery.received_at <= arrived  # when it arrived, not when it was moved in
    sms = SmsMessage.objects.get()
    assert (sms.rental_id, sms.text, sms.code) == (rental.pk, "Your code 4321", "4321")
    assert kept.llen(kept_webhooks.KEPT) == 0 and not kept.exists(kept_webhooks.KEPT_BYTES)

    assert tasks.store_kept_webhooks() == 0  # a second run finds nothing to move
    assert (WebhookDelivery.objects.count(), SmsMessage.objects.count()) == (1, 1)


def test_the_same_sms_kept_twice_or_moved_in_again_after_a_crash_is_one_sms(client, kept):
    rental = RentalFactory(webhook_token="twice", provider_rent_id="2002")
    # An SMS for the rent before an extension re-ordered it is stored through the checked path.
    RentalExtension.objects.create(rental=rental, hours=24, old_rent_id="1001", new_rent_id="2002")
    bodies = [sms_body(rental, "Code 11"), sms_body(rental, "Code 22", rent_id="1001")]
    with database_away():
        for body in [*bodies, *bodies]:  # each delivered twice
            assert post(client, "twice", body).status_code == 200
    entries = kept.lrange(kept_webhooks.KEPT, 0, -1)
    assert len(entries) == 4
    assert tasks.store_kept_webhooks() == 4  # each entry found its delivery: two rows
    assert WebhookDelivery.objects.count() == 2
    # A run that died after storing and before removing leaves its entries kept: moved in again.
    kept.rpush(kept_webhooks.KEPT, *entries)
    tasks.store_kept_webhooks()
    assert WebhookDelivery.objects.count() == 2 and kept.llen(kept_webhooks.KEPT) == 0
    assert sorted(SmsMessage.objects.values_list("text", flat=True)) == ["Code 11", "Code 22"]


def test_two_runs_at_once_store_each_kept_delivery_once(client, kept):
    rental = RentalFactory(webhook_token="racing")
    with database_away():
        for n in range(20):
            assert post(client, "racing", sms_body(rental, f"Code {n:04d}")).status_code == 200
    run_concurrently(tasks.store_kept_webhooks, times=2)
    assert WebhookDelivery.objects.count() == 20 and SmsMessage.objects.count() == 20
    assert kept.llen(kept_webhooks.KEPT) == 0


def test_a_kept_delivery_whose_token_no_rental_has_is_dropped_with_a_line_in_the_log(client, kept, caplog):
    rental = RentalFactory(webhook_token="known")
    with database_away():
        # Without the database, a token cannot be told from a guess: kept, and checked when moved in.
        assert post(client, "guessed-secret-token", sms_body(rental, "Code 99")).status_code == 200
    caplog.set_level(logging.INFO)
    assert tasks.store_kept_webhooks() == 0
    assert WebhookDelivery.objects.count() == 0 and kept.llen(kept_webhooks.KEPT) == 0
    assert "was dropped: no rental has its webhook token" in caplog.text
    assert "guessed-secret-token" not in caplog.text
    assert client.get("/healthz").json()["checks"]["broker"]["webhooks_dropped"] == 1


def test_a_body_that_is_no_sms_notification_is_refused_400_and_never_kept(client, kept):
    RentalFactory(webhook_token="junk")
    with database_away():
        response = post(client, "junk", '{"not": "an sms"}')
    assert response.status_code == 400
    assert kept.llen(kept_webhooks.KEPT) == 0


def test_past_the_bound_a_webhook_is_answered_503(client, kept, settings):
    rental = RentalFactory(webhook_token="full")
    settings.RENTDESK_WEBHOOK_SPOOL_ENTRIES = 2
    with database_away():
        answers = [post(client, "full", sms_body(rental, f"Code {n}")).status_code for n in range(3)]
    assert answers == [200, 200, 503]
    settings.RENTDESK_WEBHOOK_SPOOL_ENTRIES, settings.RENTDESK_WEBHOOK_SPOOL_MEGABYTES = 1000, 1
    tasks.store_kept_webhooks()
    with database_away():  # 15 KiB bodies: the megabyte is full after 50 or so
        answers = [post(client, "full", sms_body(rental, f"Code {n}", extra="x" * 15_000)).status_code
                   for n in range(80)]  # fmt: skip
    assert 40 < answers.count(200) < 70 and answers[answers.count(200) :] == [503] * answers.count(503)


def test_with_redis_away_too_nothing_keeps_it_and_it_is_answered_503(client, kept, settings, caplog):
    rental = RentalFactory(webhook_token="nowhere")
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens
    with database_away():
        response = post(client, "nowhere", sms_body(rental, "Code 1"))
    assert response.status_code == 503
    assert "nor kept in Redis: answered 503" in caplog.text


def test_the_first_webhook_stored_after_the_outage_and_the_polling_cycle_queue_the_move(client, kept, published):
    rental = RentalFactory(webhook_token="back")
    with database_away():
        assert post(client, "back", sms_body(rental, "Code 1")).status_code == 200
    assert post(client, "back", sms_body(rental, "Code 2")).status_code == 200  # the database is back
    assert published.count(STORE_TASK) == 1
    assert post(client, "back", sms_body(rental, "Code 3")).status_code == 200
    assert published.count(STORE_TASK) == 1  # not again for every webhook
    tasks.poll_sms()  # every 15 s: catches up on what another process kept
    assert published.count(STORE_TASK) == 2
    tasks.store_kept_webhooks()
    tasks.poll_sms()
    assert published.count(STORE_TASK) == 2  # nothing kept: nothing queued


def test_staff_see_how_many_webhooks_are_kept(client, kept):
    rental = RentalFactory(webhook_token="seen")
    with database_away():
        for n in range(3):
            post(client, "seen", sms_body(rental, f"Code {n}"))
    assert client.get("/healthz").json()["checks"]["broker"]["webhooks_kept"] == 3
    client.force_login(User.objects.create_user("viewer", password="pw", is_staff=True))
    html = client.get(reverse("admin:index")).content.decode()
    assert "it keeps 3 SMS webhooks that the database could not store" in html


def test_a_run_takes_a_batch_and_queues_the_next_for_the_rest(client, kept, published):
    rental = RentalFactory(webhook_token="batches")
    with database_away():
        for n in range(3):
            assert post(client, "batches", sms_body(rental, f"Code {n}")).status_code == 200
    assert kept_webhooks.kept_webhooks_store(at_most=2) == 2
    assert published.count(STORE_TASK) == 1 and kept.llen(kept_webhooks.KEPT) == 1
    assert kept_webhooks.kept_webhooks_store(at_most=2) == 1
    assert published.count(STORE_TASK) == 1 and SmsMessage.objects.count() == 3


def test_a_webhook_waits_for_a_locked_sqlite_file_a_moment_only_then_is_kept(client, kept):
    """Another writer holding the file (a long transaction) would keep the webhook's thread, and its code,
    waiting up to the 20-second lock wait; it waits a second, then is kept and stored once the file is free."""
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL never makes a writer wait for the whole database")
    rental = RentalFactory(webhook_token="locked")
    released = threading.Event()

    def hold_the_file() -> None:  # a writer that takes 3 s: a webhook waiting it out would be stored
        with sqlite_locked(connection.settings_dict["NAME"]):
            held.set()
            released.wait(timeout=3)

    held = threading.Event()
    holder = threading.Thread(target=hold_the_file)
    holder.start()
    held.wait(timeout=10)
    response = post(client, "locked", sms_body(rental, "Code 4242"))
    released.set()
    holder.join()
    assert response.status_code == 200
    assert kept.llen(kept_webhooks.KEPT) == 1 and not WebhookDelivery.objects.exists()
    assert tasks.store_kept_webhooks() == 1
    assert SmsMessage.objects.get().code == "4242"
