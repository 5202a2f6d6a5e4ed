"""Incoming SMS by webhook and by polling, against the simulator over real HTTP."""

import json
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse

from rentals import services
from rentals.models import Rental, RentalStatus, SmsMessage, SmsSource, WebhookDelivery
from rentals.wording.attention import attention_words

pytestmark = pytest.mark.django_db(transaction=True)


def inject(simulator, rental, text, *, webhook=True, sender="Telegram"):
    response = simulator._post_json("sms", {"rent_id": int(rental.provider_rent_id), "text": text,
                                            "sender": sender, "webhook": webhook})  # fmt: skip
    return response["webhook_status"]


def hook_url(rental):
    return reverse("rentals:sms_webhook", args=[rental.webhook_token])


def test_a_webhook_sms_appears_on_its_rental(simulator, webhook_rental):
    assert inject(simulator, webhook_rental, "Your Telegram code 48213") == 200
    message = SmsMessage.objects.get()
    assert (message.rental, message.sender, message.code, message.source) == (
        webhook_rental,
        "Telegram",
        "48213",
        "webhook",
    )
    webhook_rental.refresh_from_db()
    assert webhook_rental.last_sms_code == "48213" and "48213" in webhook_rental.last_sms_text


def test_the_same_sms_three_times_by_webhook_and_by_polling_is_one_row(simulator, webhook_rental, client):
    inject(simulator, webhook_rental, "Code 1111")
    body = bytes(WebhookDelivery.objects.get().body)
    for _ in range(2):  # the provider (or a proxy) delivers it again
        assert client.post(hook_url(webhook_rental), body, content_type="application/json").status_code == 200
    services.rental_poll(rental=webhook_rental)
    assert SmsMessage.objects.count() == 1 and WebhookDelivery.objects.count() == 1


def test_a_dropped_webhook_is_filled_by_polling(simulator, webhook_rental):
    inject(simulator, webhook_rental, "Code 2222", webhook=False)
    assert SmsMessage.objects.count() == 0
    result = services.rental_poll(rental=webhook_rental)
    assert result.new_messages == 1 and SmsMessage.objects.get().source == SmsSource.POLL


def test_polling_reads_every_page(simulator, webhook_rental):
    for index in range(23):
        inject(simulator, webhook_rental, f"message {index}", webhook=False, sender=f"S{index}")
    assert services.rental_poll(rental=webhook_rental).new_messages == 23
    assert len(simulator.requests("getRentStatus")) == 3  # pages of ten
    assert services.rental_poll(rental=webhook_rental).new_messages == 0


def poll_while_sms_arrive(simulator, rental, *, waiting: int, arriving: int) -> None:
    """One poll of a rental with ``waiting`` SMS, ``arriving`` more of them coming in between the
    requests for its first and second pages."""
    for index in range(waiting):
        inject(simulator, rental, f"message {index}", webhook=False, sender=f"S{index}")
    requests_made = []

    def arrive_after_the_first_page():
        requests_made.append(1)
        if len(requests_made) == 2:
            for index in range(waiting, waiting + arriving):
                inject(simulator, rental, f"message {index}", webhook=False, sender=f"S{index}")

    services.rental_poll(rental=rental, before_request=arrive_after_the_first_page)


def stored_texts() -> list[str]:
    return list(SmsMessage.objects.values_list("text", flat=True))


def test_an_sms_arriving_between_two_pages_does_not_store_another_twice(simulator, webhook_rental):
    """Pages list the newest first: an SMS arriving while a poll reads them pushes the last one read
    onto the next page. Read twice, it would be stored and forwarded twice."""
    poll_while_sms_arrive(simulator, webhook_rental, waiting=12, arriving=1)
    assert len(stored_texts()) == len(set(stored_texts())) == 12 and "message 12" not in stored_texts()
    services.rental_poll(rental=webhook_rental)  # the newcomer, on the first page now
    assert sorted(stored_texts()) == sorted(f"message {i}" for i in range(13))


def test_more_sms_arriving_between_two_pages_than_a_page_holds_are_read_by_the_next_poll(simulator, webhook_rental):
    poll_while_sms_arrive(simulator, webhook_rental, waiting=12, arriving=11)
    services.rental_poll(rental=webhook_rental)
    assert sorted(stored_texts()) == sorted(f"message {i}" for i in range(23))


@pytest.mark.parametrize(
    ("control", "status"),
    [("revoke", RentalStatus.REVOKED), ("advance", RentalStatus.FINISHED)],
)
def test_a_rent_the_provider_ended_ends_locally(simulator, webhook_rental, control, status):
    if control == "revoke":
        simulator._post_json("revoke", {"rent_id": int(webhook_rental.provider_rent_id)})
    else:
        simulator._post_json("advance", {"seconds": 25 * 3600})
    assert services.rental_poll(rental=webhook_rental).rent_state != "active"
    webhook_rental.refresh_from_db()
    assert webhook_rental.status == status and webhook_rental.ended_at is not None


def test_waiting_for_a_code_is_normal(simulator, webhook_rental):
    result = services.rental_poll(rental=webhook_rental)
    webhook_rental.refresh_from_db()
    assert (
        result.rent_state == "active" and webhook_rental.status == RentalStatus.ACTIVE and webhook_rental.last_polled_at
    )


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ({"rentId": "{id}", "sms": {"phoneFrom": 79999999999, "text": "Code 5150", "date": "2030-01-01 12:00:00"}},
         "application/json"),
        ("rentId={id}&sms%5BphoneFrom%5D=WhatsApp&sms%5Btext%5D=Code+5150&sms%5Bdate%5D=2030-01-01+12%3A00%3A00",
         "application/x-www-form-urlencoded"),
    ],
)  # fmt: skip
def test_json_and_form_bodies_with_int_or_string_ids(client, webhook_rental, body, content_type):
    if isinstance(body, dict):
        body = json.dumps({**body, "rentId": int(webhook_rental.provider_rent_id)})
    else:
        body = body.format(id=webhook_rental.provider_rent_id)
    assert client.post(hook_url(webhook_rental), body, content_type=content_type).status_code == 200
    assert SmsMessage.objects.get().code == "5150"


def test_an_unknown_token_is_404_and_a_foreign_rent_id_is_400(client, webhook_rental):
    body = json.dumps(
        {
            "rentId": webhook_rental.provider_rent_id,
            "sms": {"phoneFrom": "x", "text": "y", "date": "2030-01-01 12:00:00"},
        }
    )
    assert client.post("/hooks/sms/not-a-token/", body, content_type="application/json").status_code == 404
    for odd in ("%00", "a%00b", "x" * 101, "%D0%B0"):  # no token holds these (a NUL failed on PostgreSQL)
        assert client.post(f"/hooks/sms/{odd}/", body, content_type="application/json").status_code == 404
    foreign = body.replace(webhook_rental.provider_rent_id, "999")
    assert client.post(hook_url(webhook_rental), foreign, content_type="application/json").status_code == 400
    assert WebhookDelivery.objects.count() == 0


def test_oversized_and_non_post_requests_are_refused(client, webhook_rental):
    assert client.post(hook_url(webhook_rental), "x" * 20_000, content_type="text/plain").status_code == 413
    assert client.get(hook_url(webhook_rental)).status_code == 405


def test_a_delivery_that_cannot_be_stored_is_not_acknowledged(client, webhook_rental):
    # Nothing keeps it either: the tests' broker is not Redis (tests/services/test_kept_webhooks.py has one that is).
    body = json.dumps(
        {
            "rentId": webhook_rental.provider_rent_id,
            "sms": {"phoneFrom": "x", "text": "y", "date": "2030-01-01 12:00:00"},
        }
    )
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE rentals_webhookdelivery RENAME TO rentals_webhookdelivery_away")
    try:
        response = client.post(hook_url(webhook_rental), body, content_type="application/json")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE rentals_webhookdelivery_away RENAME TO rentals_webhookdelivery")
    assert response.status_code == 503


def test_polling_cadence_follows_freshness(webhook_rental):
    from django.utils import timezone

    from rentals.selectors import DuePolls, rentals_due_for_poll

    now = timezone.now()
    assert rentals_due_for_poll(now=now) == {
        webhook_rental.account_id: DuePolls([webhook_rental.pk], [])
    }  # never polled, fresh
    Rental.objects.filter(pk=webhook_rental.pk).update(last_polled_at=now)
    assert rentals_due_for_poll(now=now) == {}  # polled in this cycle
    assert rentals_due_for_poll(now=now + timedelta(seconds=15)) != {}  # fresh: every 20 s, so every cycle
    Rental.objects.filter(pk=webhook_rental.pk).update(created_at=now - timedelta(hours=5), last_sms_at=now)
    assert rentals_due_for_poll(now=now + timedelta(seconds=25)) == {}  # idle: every 5 minutes
    assert rentals_due_for_poll(now=now + timedelta(minutes=6)) != {}


def test_a_polling_cycle_polls_each_rental_once_however_often_it_runs(simulator, webhook_rental):
    from django.utils import timezone

    cycle = timezone.now()
    inject(simulator, webhook_rental, "Code 7777", webhook=False)
    assert (
        services.account_poll(account_id=webhook_rental.account_id, rental_ids=[webhook_rental.pk], cycle_started=cycle)
        == 1
    )
    assert (
        services.account_poll(account_id=webhook_rental.account_id, rental_ids=[webhook_rental.pk], cycle_started=cycle)
        == 0
    )
    assert len(simulator.requests("getRentStatus")) == 1


def test_send_test_sms_delivers_through_the_simulator(simulator, webhook_rental, capsys):
    from django.core.management import call_command

    call_command("send_test_sms", f"+{webhook_rental.number}", "--text", "Demo code 9090")
    assert "webhook answered 200" in capsys.readouterr().out
    assert SmsMessage.objects.get().code == "9090"


def test_send_test_sms_refuses_a_real_provider(webhook_rental):
    from django.core.management import CommandError, call_command

    webhook_rental.account.api_url = "https://api.sms.online/api/other.php"
    webhook_rental.account.save()
    with pytest.raises(CommandError, match="only go through the simulator"):
        call_command("send_test_sms", str(webhook_rental.pk))


def test_one_rental_the_provider_forgot_does_not_stop_the_others(simulator, webhook_rental, account, catalog):
    from django.utils import timezone

    forgotten = Rental.objects.create(
        account=account, provider_rent_id="123", number="380000000001", service=catalog["telegram"],
        country=catalog["ukraine"], hours=24, end_date=webhook_rental.end_date - timedelta(hours=1),  # polled first
    )  # fmt: skip
    inject(simulator, webhook_rental, "Code 4242", webhook=False)
    polled = services.account_poll(
        account_id=account.pk, rental_ids=[forgotten.pk, webhook_rental.pk], cycle_started=timezone.now()
    )
    forgotten.refresh_from_db()
    assert (
        polled == 1
        and "no longer knows this rent" in attention_words(forgotten.attention)
        and forgotten.provider_lost_at
    )
    assert SmsMessage.objects.get().code == "4242"


def test_two_identical_sms_in_the_same_second_are_two_rows(simulator, webhook_rental):
    for _ in range(2):
        simulator._post_json(
            "sms",
            {
                "rent_id": int(webhook_rental.provider_rent_id),
                "text": "Code 1212",
                "sender": "Bank",
                "date": "2030-01-01T10:00:00",
                "webhook": True,
            },
        )
    assert SmsMessage.objects.count() == 1  # one webhook body, twice: one delivery
    services.rental_poll(rental=webhook_rental)
    services.rental_poll(rental=webhook_rental)
    assert SmsMessage.objects.count() == 2


def test_one_poll_at_a_time_per_account(simulator, webhook_rental):
    from django.utils import timezone

    from rentals.models import ProviderAccount

    ProviderAccount.objects.filter(pk=webhook_rental.account_id).update(
        polling_until=timezone.now() + timedelta(minutes=1)
    )
    assert (
        services.account_poll(
            account_id=webhook_rental.account_id, rental_ids=[webhook_rental.pk], cycle_started=timezone.now()
        )
        == 0
    )
    assert simulator.requests("getRentStatus") == []


def test_the_account_of_a_poll_cut_short_is_polled_again_within_a_minute_or_so(simulator, webhook_rental):
    """Its worker was killed mid-poll: the lease it left lapses after one request's time, not five minutes."""
    import time_machine
    from django.utils import timezone

    from rentals.services.polling import PollLease

    assert PollLease.take(webhook_rental.account_id) is not None  # and never released: the worker died
    assert PollLease.length() <= timedelta(minutes=2)
    start = timezone.now()
    assert (
        services.account_poll(account_id=webhook_rental.account_id, rental_ids=[webhook_rental.pk], cycle_started=start)
        == 0
    )
    with time_machine.travel(start + PollLease.length() + timedelta(seconds=1)):
        services.account_poll(
            account_id=webhook_rental.account_id, rental_ids=[webhook_rental.pk], cycle_started=timezone.now()
        )
    assert len(simulator.requests("getRentStatus")) == 1


def test_a_poll_that_stalled_past_its_lease_stops_and_leaves_the_next_one_alone(webhook_rental):
    import time_machine
    from django.utils import timezone

    from rentals.models import ProviderAccount
    from rentals.services.polling import PollLease, PollLeaseLost

    stalled = PollLease.take(webhook_rental.account_id)
    with time_machine.travel(timezone.now() + PollLease.length() + timedelta(seconds=1)):
        current = PollLease.take(webhook_rental.account_id)  # the stalled one's lease ran out: another poll takes it
        assert current is not None
        with pytest.raises(PollLeaseLost):
            stalled.renew()  # before its next request: it stops rather than poll alongside
        stalled.release()
        assert ProviderAccount.objects.get(pk=webhook_rental.account_id).polling_until == current.until
        current.renew()
        current.release()
    assert ProviderAccount.objects.get(pk=webhook_rental.account_id).polling_until is None


def test_a_stale_end_for_an_old_rent_id_does_not_end_an_extended_rental(webhook_rental):
    Rental.objects.filter(pk=webhook_rental.pk).update(provider_rent_id="999999")  # moved on after an extension
    assert not services.rental_mark_ended(
        rental=webhook_rental, status=RentalStatus.FINISHED, polled_id=webhook_rental.provider_rent_id
    )
    webhook_rental.refresh_from_db()
    assert webhook_rental.status == RentalStatus.ACTIVE


def test_unprocessed_deliveries_are_queued_again_once_per_claim(client, webhook_rental):
    from django.utils import timezone

    from rentals.services.webhooks import REQUEUE_AFTER, webhook_ids_to_requeue

    body = json.dumps({"rentId": webhook_rental.provider_rent_id,
                       "sms": {"phoneFrom": "x", "text": "y", "date": "2030-01-01 12:00:00"}})  # fmt: skip
    WebhookDelivery.objects.create(
        rental=webhook_rental,
        body_hash="h",
        body=body.encode(),
        content_type="application/json",
        enqueued_at=timezone.now() - REQUEUE_AFTER * 2,
    )
    now = timezone.now()
    assert len(webhook_ids_to_requeue(now=now)) == 1
    assert webhook_ids_to_requeue(now=now) == []


def test_accounts_that_cannot_use_the_api_are_not_polled(webhook_rental):
    from django.utils import timezone

    from rentals.models import AccountState, ProviderAccount
    from rentals.selectors import rentals_due_for_poll

    ProviderAccount.objects.filter(pk=webhook_rental.account_id).update(state=AccountState.BAD_KEY)
    assert rentals_due_for_poll(now=timezone.now()) == {}


def test_an_sms_with_an_unreadable_date_or_sender_is_kept_once(client, webhook_rental):
    body = json.dumps({"rentId": webhook_rental.provider_rent_id, "sms": {"phoneFrom": None, "text": "Code 6060",
                                                                   "date": "yesterday-ish"}})  # fmt: skip
    for _ in range(2):
        assert client.post(hook_url(webhook_rental), body, content_type="application/json").status_code == 200
    form = f"rentId={webhook_rental.provider_rent_id}&sms%5Btext%5D=Code+6060&sms%5Bdate%5D=yesterday-ish"
    assert (
        client.post(hook_url(webhook_rental), form, content_type="application/x-www-form-urlencoded").status_code == 200
    )
    message = SmsMessage.objects.get()
    assert (message.code, message.sender) == ("6060", "unknown") and message.received_at is not None


def test_a_code_only_sms_sent_as_a_json_number_is_kept(client, webhook_rental, simulator):
    """PHP's JSON_NUMERIC_CHECK writes the text "5150" as the number 5150."""
    sms = {"phoneFrom": "Bank", "text": 5150, "date": "2030-01-01 12:00:00"}
    body = {"rentId": webhook_rental.provider_rent_id, "sms": sms}
    assert client.post(hook_url(webhook_rental), json.dumps(body), content_type="application/json").status_code == 200
    page = {"status": "success", "quantity": 1, "values": [{"phoneFrom": "Shop", "text": 7070, "date": 1900000000}]}
    simulator.force(action="getRentStatus", body=json.dumps(page), content_type="application/json")
    services.rental_poll(rental=webhook_rental)
    assert sorted(SmsMessage.objects.values_list("text", "code")) == [("5150", "5150"), ("7070", "7070")]


def test_a_webhook_without_text_is_refused(client, webhook_rental):
    body = json.dumps(
        {"rentId": webhook_rental.provider_rent_id, "sms": {"phoneFrom": "x", "date": "2030-01-01 12:00:00"}}
    )
    assert client.post(hook_url(webhook_rental), body, content_type="application/json").status_code == 400


def test_a_provider_in_another_timezone_gives_the_same_moments(simulator, account, catalog, settings, live_server):
    settings.PROVIDER_TIMEZONE = "Asia/Tokyo"
    settings.PUBLIC_BASE_URL = live_server.url
    simulator._post_json("timezone", {"name": "Asia/Tokyo"})
    rental = services.rental_rent(
        account=account, service=catalog["telegram"], country=catalog["ukraine"], operator="any", hours=24,
        webhook=False, nonce=uuid.uuid4(), requested_by=None, via="cli",
    ).rental  # fmt: skip
    (sim_rent,) = simulator.rents()
    from datetime import datetime

    assert rental.end_date == datetime.fromisoformat(sim_rent["end_date"])  # the same instant in any zone
    assert rental.end_date.utcoffset() == timedelta(hours=9)  # read as the provider's wall clock
    simulator._post_json("sms", {"rent_id": int(rental.provider_rent_id), "text": "Code 1", "webhook": False,
                                 "date": "2025-01-01T00:00:00+00:00"})  # fmt: skip
    services.rental_poll(rental=rental)
    assert SmsMessage.objects.get().received_at.isoformat() == "2025-01-01T00:00:00+00:00"


@pytest.mark.parametrize("date", [1764320000000000000, "1764320000000000000", 1e300, -(10**20), "NaN", {"at": 1}, True])
def test_an_sms_whose_date_is_no_moment_is_kept_stamped_on_arrival(client, webhook_rental, date):
    from django.utils import timezone

    sms = {"phoneFrom": "Bank", "text": "Code 7070", "date": date}
    before = timezone.now()
    body = json.dumps({"rentId": webhook_rental.provider_rent_id, "sms": sms})
    assert client.post(hook_url(webhook_rental), body, content_type="application/json").status_code == 200
    message = SmsMessage.objects.get()
    assert message.code == "7070" and before <= message.received_at <= timezone.now()


def test_a_polled_page_with_a_nanosecond_date_keeps_every_sms(simulator, webhook_rental):
    page = {"status": "success", "quantity": 2, "values": [
        {"phoneFrom": "Bank", "text": "Code 1111", "date": 1764320000000000000},
        {"phoneFrom": "Shop", "text": "Code 2222", "date": "2030-01-01 12:00:00"},
    ]}  # fmt: skip
    simulator.force(action="getRentStatus", body=json.dumps(page), content_type="application/json")
    assert services.rental_poll(rental=webhook_rental).new_messages == 2
    assert sorted(SmsMessage.objects.values_list("code", flat=True)) == ["1111", "2222"]


def test_a_body_with_any_bytes_is_stored_exactly_and_its_sms_kept(client, webhook_rental):
    body = (
        f"rentId={webhook_rental.provider_rent_id}&sms%5BphoneFrom%5D=Bank&sms%5Btext%5D=Code+4545\x00\xff&"
        "sms%5Bdate%5D=2030-01-01+12%3A00%3A00"
    ).encode("latin-1")
    assert (
        client.post(hook_url(webhook_rental), body, content_type="application/x-www-form-urlencoded").status_code == 200
    )
    assert bytes(WebhookDelivery.objects.get().body) == body
    assert SmsMessage.objects.get().code == "4545"


def test_an_sms_dated_in_the_future_does_not_pin_the_last_sms_or_the_newest_shown(simulator, webhook_rental, client):
    """Dated 2199 (a provider's clock, or a forged body), it became the rental's last SMS and code, and
    every real SMS after it fell below it and then out of the page's ten newest."""
    from django.contrib.auth.models import User

    future = {"rentId": webhook_rental.provider_rent_id, "sms": {"phoneFrom": "Odd", "text": "Code 9999",
                                                          "date": "2199-01-01 12:00:00"}}  # fmt: skip
    assert client.post(hook_url(webhook_rental), json.dumps(future), content_type="application/json").status_code == 200
    simulator._post("advance", {"seconds": 2})  # the real ones are sent after it arrived, to the second
    for index in range(11):
        assert inject(simulator, webhook_rental, f"Your code 10{index:02d}") == 200
    webhook_rental.refresh_from_db()
    assert webhook_rental.last_sms_code == "1010"
    dated = SmsMessage.objects.get(code="9999")
    assert dated.provider_date.year == 2199 and dated.received_at.year < 2199  # what the provider said is kept
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    shown = client.get(reverse("admin:rentals_rental_live_sms", args=[webhook_rental.pk])).json()["messages"]
    assert [sms["code"] for sms in shown] == [f"10{index:02d}" for index in range(10, 0, -1)]
    # Within a few minutes' clock skew, the provider's date is believed as before.
    near = {
        "rentId": webhook_rental.provider_rent_id,
        "sms": {"phoneFrom": "Near", "text": "Code 8888", "date": "2000-01-01"},
    }
    assert client.post(hook_url(webhook_rental), json.dumps(near), content_type="application/json").status_code == 200
    assert SmsMessage.objects.get(code="8888").provider_date is None


def test_the_provider_s_future_date_is_shown_on_the_sms(webhook_rental, client):
    from django.contrib.auth.models import User

    future = {"rentId": webhook_rental.provider_rent_id, "sms": {"phoneFrom": "Odd", "text": "Code 9999",
                                                          "date": "2199-01-01 12:00:00"}}  # fmt: skip
    client.post(hook_url(webhook_rental), json.dumps(future), content_type="application/json")
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    [shown] = client.get(reverse("admin:rentals_rental_live_sms", args=[webhook_rental.pk])).json()["messages"]
    assert "SMS.online dated it 2199-01-01" in shown["received"]


def test_a_form_body_in_its_declared_charset_is_read_as_the_same_sms_as_in_utf8(client, webhook_rental):
    """windows-1251, as a provider of this family may send: read as bytes of UTF-8 the text came out
    garbled, and the same SMS sent again in UTF-8 (or found by polling) became a second row."""
    from datetime import UTC
    from urllib.parse import urlencode

    from rentals.provider.parsing import parse_webhook

    sms = {"rentId": webhook_rental.provider_rent_id, "sms[phoneFrom]": "Bank", "sms[text]": "Ваш код 5555",
           "sms[date]": "2030-01-01 12:00:00"}  # fmt: skip
    cp1251 = urlencode(sms, encoding="cp1251")
    content_type = "application/x-www-form-urlencoded; charset=windows-1251"
    assert client.post(hook_url(webhook_rental), cp1251, content_type=content_type).status_code == 200
    utf8 = {"rentId": webhook_rental.provider_rent_id, "sms": {"phoneFrom": "Bank", "text": "Ваш код 5555",
                                                        "date": "2030-01-01 12:00:00"}}  # fmt: skip
    assert client.post(hook_url(webhook_rental), json.dumps(utf8), content_type="application/json").status_code == 200
    message = SmsMessage.objects.get()
    assert (message.text, message.code) == ("Ваш код 5555", "5555")
    odd = "application/x-www-form-urlencoded; charset=no-such-charset"  # read as UTF-8
    assert parse_webhook(urlencode(sms).encode(), content_type=odd, provider_tz=UTC).sms.text == "Ваш код 5555"


def test_bodies_kept_as_text_before_are_kept_as_their_bytes(webhook_rental):
    from django.db.migrations.executor import MigrationExecutor

    body = '{"rentId": 1, "sms": {"text": "Код \\u0031 ✓", "date": "2030-01-01 12:00:00"}}'
    executor = MigrationExecutor(connection)
    executor.migrate([("rentals", "0015_ended_by_provider")])  # just before bodies became bytes
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO rentals_webhookdelivery (rental_id, body_hash, body, content_type, received_at,"
                " enqueued_at, outcome) VALUES (%s, 'h', %s, 'application/json', %s, %s, '')",
                [webhook_rental.pk, body, webhook_rental.created_at, webhook_rental.created_at],
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert bytes(WebhookDelivery.objects.get().body) == body.encode()
