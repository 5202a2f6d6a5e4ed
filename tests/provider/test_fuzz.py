"""Hypothesis throws arbitrary bodies and arbitrary JSON values at the parser, the webhook and polling.

Whatever arrives: no 5xx, no stray exception, and every SMS that has a text is stored.
The database tests run on SQLite and on PostgreSQL (``make test`` runs the suite on both).
"""

import contextlib
import json
from datetime import UTC

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rentals import services
from rentals.models import SmsMessage, WebhookDelivery
from rentals.provider.errors import ProviderError, storable_text
from rentals.provider.parsing import (
    UnreadableWebhook,
    parse_rent_list,
    parse_rent_prices,
    parse_rent_status,
    parse_rented_phone,
    parse_reply,
    parse_webhook,
)
from rentals.webhooks import MAX_WEBHOOK_BYTES

from ..factories import RentalFactory

# Values that once broke a reader: timestamps in nano- or milliseconds, numbers no date can hold,
# digit strings, the words JSON parsers read as numbers, dates out of range.
EDGE_VALUES = st.sampled_from(
    [1764320000000000000, 1764320000000, -(10**20), 10**400, 1e300, -1e300, 0, -1, 253402300800, 1.5,
     "1764320000000000000", "9" * 5000, "²", "NaN", "nan", "Infinity", "-0", "", " ", "0001-01-01 00:00:00",
     "9999-12-31T23:59:59+14:00", "2030-01-01 12:00:00", "2030-1-1 12-00-00", "01.01.2030 12:00:00",
     "\x00", "\ud800", True, False, None, [], {}]
)  # fmt: skip
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | EDGE_VALUES
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
CONTRACT_KEYS = (
    "status message msg error phone id endDate number values quantity phoneFrom text date rentId sms cost price info"
)
contract_keys = st.sampled_from(CONTRACT_KEYS.split())
shaped_json = st.recursive(
    st.none() | st.integers() | st.text(max_size=20) | st.sampled_from(["success", "error", "2030-01-01 00:00:00"]),
    lambda children: st.dictionaries(contract_keys, children, max_size=5) | st.lists(children, max_size=3),
    max_leaves=25,
)
bodies = (
    st.binary(max_size=300)
    | st.text(max_size=200).map(str.encode)
    | json_values.map(lambda v: json.dumps(v).encode())
    | shaped_json.map(lambda v: json.dumps(v).encode())
)
# One SMS as the contract writes it, with any JSON value in any field (and sometimes extra fields).
sms_objects = st.fixed_dictionaries(
    {"phoneFrom": json_values, "text": st.text(max_size=60) | json_values, "date": json_values},
    optional={"service": json_values, "id": json_values},
)
status_pages = st.fixed_dictionaries(
    {
        "status": st.just("success"),
        "quantity": json_values,
        "values": st.lists(sms_objects, max_size=4)
        | st.dictionaries(st.sampled_from(["0", "1", "2", "3", "10", "x"]), sms_objects, max_size=4)
        | json_values,
    }
)


@settings(max_examples=1000, deadline=None)
@given(body=bodies, status=st.sampled_from([200, 400, 402, 500, 502]))
def test_every_reply_is_a_result_or_a_provider_error(body, status):
    try:
        reply = parse_reply(body, http_status=status, provider_tz=UTC)
    except ProviderError:
        return
    for read in (
        lambda: parse_rented_phone(reply, provider_tz=UTC),
        lambda: parse_rent_status(reply, provider_tz=UTC),
        lambda: parse_rent_list(reply),
        lambda: parse_rent_prices(reply, country=1),
    ):
        with contextlib.suppress(ProviderError):
            read()


@settings(max_examples=1000, deadline=None)
@given(page=status_pages)
def test_every_status_page_is_read_whatever_its_values(page):
    reply = parse_reply(json.dumps(page).encode(), http_status=200, provider_tz=UTC)
    status = parse_rent_status(reply, provider_tz=UTC)
    assert len(status.messages) == len(_texts(page))
    assert all(sms.received_at is None or sms.received_at.tzinfo is not None for sms in status.messages)


@settings(max_examples=1000, deadline=None)
@given(body=bodies, content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded", ""]))
def test_every_webhook_body_is_an_sms_or_unreadable(body, content_type):
    with contextlib.suppress(UnreadableWebhook):
        parse_webhook(body, content_type=content_type, provider_tz=UTC)


def _text_of(value: object) -> str | None:
    """An SMS's text as sent: a string, or a whole number (a code-only SMS under PHP's JSON_NUMERIC_CHECK)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else None


def _texts(page: object) -> list[str]:
    """The texts of the SMS a page holds: every entry with a text is one SMS."""
    values = page.get("values") if isinstance(page, dict) else None
    entries = values.values() if isinstance(values, dict) else values if isinstance(values, list) else []
    texts = (_text_of(entry.get("text")) for entry in entries if isinstance(entry, dict))
    return [text for text in texts if text is not None]


def _stored(rental, text: str) -> bool:
    return SmsMessage.objects.filter(rental=rental, text=storable_text(text)[:4000]).exists()


@pytest.mark.django_db
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=bodies, content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain"])
)
def test_the_webhook_never_answers_500(client, webhook_rental, body, content_type):
    response = client.generic("POST", f"/hooks/sms/{webhook_rental.webhook_token}/", body, content_type=content_type)
    assert response.status_code in (200, 400)


@pytest.mark.django_db
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sms=sms_objects, rent_id_as_int=st.booleans(), extra=st.dictionaries(st.text(max_size=8), json_values))
def test_every_webhook_sms_with_a_text_is_stored_and_nothing_else_is_a_5xx(
    client, webhook_rental, sms, rent_id_as_int, extra
):
    rent_id = int(webhook_rental.provider_rent_id) if rent_id_as_int else webhook_rental.provider_rent_id
    body = json.dumps({**extra, "rentId": rent_id, "sms": sms})
    response = client.generic("POST", f"/hooks/sms/{webhook_rental.webhook_token}/", body, "application/json")
    if len(body.encode()) > MAX_WEBHOOK_BYTES:
        assert response.status_code == 413  # refused whole: no notification is that large
        return
    text = _text_of(sms["text"])
    if text is None:
        assert response.status_code == 400
        return
    assert response.status_code == 200
    for delivery_id in WebhookDelivery.objects.filter(processed_at__isnull=True).values_list("pk", flat=True):
        services.webhook_process(delivery_id=delivery_id)
    assert _stored(webhook_rental, text)


@pytest.mark.django_db
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(page=status_pages)
def test_every_polled_sms_with_a_text_is_stored(simulator, polled_rental, page):
    SmsMessage.objects.filter(rental=polled_rental).delete()
    simulator.force(action="getRentStatus", body=json.dumps(page), content_type="application/json")
    services.rental_poll(rental=polled_rental)
    assert all(_stored(polled_rental, text) for text in _texts(page))


@pytest.fixture
def webhook_rental(db):
    return RentalFactory(webhook_token="fuzz-token-0123456789")


@pytest.fixture
def polled_rental(db, simulator, account):
    """A rent the simulator holds, so the pages after a forced one answer as the provider would."""
    client = services.provider_client_for(account)
    phone = client.rent_number(service="tg", country=1, operator="any", hours=24, webhook_url=None)
    return RentalFactory(account=account, provider_rent_id=phone.rent_id, number=phone.number)
