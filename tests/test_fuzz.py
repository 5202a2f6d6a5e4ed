"""Hypothesis throws arbitrary bodies at the parser and at the webhook: no 500, no stray exception."""

import contextlib
import json
from datetime import UTC

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rentals.provider.errors import ProviderError
from rentals.provider.parsing import (
    UnreadableWebhook,
    parse_rent_list,
    parse_rent_prices,
    parse_rent_status,
    parse_rented_phone,
    parse_reply,
    parse_webhook,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
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


@settings(max_examples=300, deadline=None)
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


@settings(max_examples=300, deadline=None)
@given(body=bodies, content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded", ""]))
def test_every_webhook_body_is_an_sms_or_unreadable(body, content_type):
    with contextlib.suppress(UnreadableWebhook):
        parse_webhook(body, content_type=content_type, provider_tz=UTC)


@pytest.mark.django_db
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=bodies, content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain"])
)
def test_the_webhook_never_answers_500(client, webhook_rental, body, content_type):
    response = client.generic("POST", f"/hooks/sms/{webhook_rental.webhook_token}/", body, content_type=content_type)
    assert response.status_code in (200, 400)


@pytest.fixture
def webhook_rental(db):
    from .factories import RentalFactory

    return RentalFactory(webhook_token="fuzz-token-0123456789")
