"""The provider client against the simulator over loopback: wire forms, statuses, transport faults."""

import json
import logging
import socket
from datetime import UTC
from decimal import Decimal

import pytest

from rentals.provider import errors
from rentals.provider.client import ClientConfig, SmsOnlineClient

SECRET = "s3cr3t-Key+with/odd=chars"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})  # where the simulator listens

# The eleven errors of the seed page, with the class each must become (contract section 3).
SEED_ERRORS = [
    ("BAD_ACTION", errors.UnknownAction),
    ("BAD_KEY", errors.BadKey),
    ("ERROR_SQL", errors.UnknownOutcome),
    ("BANNED:'2025-5-10 12-34-56'", errors.AccountBanned),
    ("ACCOUNT_INACTIVE", errors.AccountInactive),
    ("BAD_COUNTRY", errors.RequestRejected),
    ("BAD_SERVICE", errors.RequestRejected),
    ("INVALID_TIME", errors.RequestRejected),
    ("NO_BALANCE", errors.NoBalance),
    ("NO_NUMBERS", errors.NoNumbers),
    ("CHANNELS_LIMIT", errors.AccountBlocked),
]
WIRE_FORMS = ["text", "json_message", "json_msg", "json_error"]


def make_client(api_url: str, *, read_timeout: float = 5.0, api_key: str = SECRET) -> SmsOnlineClient:
    config = ClientConfig(
        api_url=api_url, connect_timeout=1.0, read_timeout=read_timeout, provider_tz=UTC, allowed_hosts=LOOPBACK
    )
    return SmsOnlineClient(api_key=api_key, config=config)


def client_rent(client: SmsOnlineClient):
    return client.rent_number(service="tg", country=1, operator="any", hours=4, webhook_url=None)


@pytest.mark.parametrize("status", [200, "mapped"])
@pytest.mark.parametrize("wire", WIRE_FORMS)
@pytest.mark.parametrize(("token", "error_class"), SEED_ERRORS)
def test_every_seed_error_in_every_wire_form(simulator, token, error_class, wire, status):
    simulator.force(token=token, wire=wire, status=status)
    with pytest.raises(error_class) as raised:
        client_rent(make_client(simulator.api_url))
    assert raised.value.token == token.partition(":")[0]
    assert type(raised.value) is error_class


def test_success_reaches_the_simulator_with_both_time_parameters(simulator):
    phone = make_client(simulator.api_url).rent_number(
        service="tg", country=1, operator="kyivstar", hours=72, webhook_url="https://desk.example/hooks/sms/abc/"
    )
    (received,) = simulator.requests("getRentNumber")
    assert received["rent_time"] == received["time"] == "72"
    assert received["url"] == "https://desk.example/hooks/sms/abc/"
    assert phone.number.startswith("380") and phone.end_date.tzinfo is not None
    assert phone.rent_id == str(simulator.rents()[0]["id"])


def test_balance(simulator):
    simulator.set_account(SECRET, balance="12.34")
    assert make_client(simulator.api_url).get_balance() == Decimal("12.34")


@pytest.mark.parametrize(
    ("body", "status", "content_type"),
    [
        ("<html><body>Bad gateway</body></html>", 502, "text/html"),
        ("", 200, "text/plain"),
        ('{"status":"success","phone":{"id":1,"endDa', 200, "application/json"),
        ("", 500, "text/plain"),
    ],
)
def test_html_empty_and_truncated_bodies_are_unknown_outcomes(simulator, body, status, content_type):
    simulator.force(body=body, status=status, content_type=content_type)
    with pytest.raises(errors.UnknownOutcome) as raised:
        client_rent(make_client(simulator.api_url))
    assert raised.value.token == "UNKNOWN_OUTCOME" and raised.value.http_status == status


def test_a_read_timeout_is_an_unknown_outcome_and_is_never_retried(simulator):
    simulator.force(delay=2.0)  # the simulator rents, then answers too late
    with pytest.raises(errors.UnknownOutcome):
        client_rent(make_client(simulator.api_url, read_timeout=0.5))
    assert len(simulator.requests("getRentNumber")) == 1
    assert len(simulator.rents()) == 1  # the provider did rent: "maybe charged" was right


def test_a_redirect_is_not_followed(simulator):
    simulator.force(body="", status=302, content_type="text/plain")
    with pytest.raises(errors.UnknownOutcome):
        client_rent(make_client(simulator.api_url))
    assert len(simulator.requests()) == 1


def test_a_refused_connection_never_reached_the_provider():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(errors.ProviderUnreachable) as raised:
        client_rent(make_client(f"http://127.0.0.1:{port}/stubs/handler_api.php"))
    assert raised.value.token == "PROVIDER_UNREACHABLE" and not raised.value.is_unknown_outcome


@pytest.mark.parametrize("failure", ["refused", "timeout"])
def test_a_transport_error_keeps_no_library_exception_quoting_the_keyed_url(simulator, failure):
    """A reporter that walks __context__ (or ignores __suppress_context__) would print the URL, key included."""
    import traceback

    if failure == "refused":
        client, expected = make_client("http://127.0.0.1:9/stubs/handler_api.php"), errors.ProviderUnreachable
    else:
        simulator.force(delay=2.0)
        client, expected = make_client(simulator.api_url, read_timeout=0.5), errors.UnknownOutcome
    with pytest.raises(expected) as raised:
        client.get_balance()
    assert raised.value.__context__ is None and raised.value.__cause__ is None
    assert SECRET not in "".join(traceback.format_exception(raised.value, chain=True))


def test_the_api_key_is_in_no_log_record_and_no_error_message(simulator, caplog):
    caplog.set_level(logging.DEBUG)
    messages = []
    simulator.force(body=f"<html>echo {SECRET} api_key={SECRET}</html>", status=500, content_type="text/html")
    simulator.force(token="NO_BALANCE", wire="json_error", status="mapped")
    for _ in range(2):
        with pytest.raises(errors.ProviderError) as raised:
            client_rent(make_client(simulator.api_url))
        messages += [str(raised.value), raised.value.detail, raised.value.raw_body, repr(raised.value)]
    simulator.force(delay=1)
    with pytest.raises(errors.UnknownOutcome) as raised:
        client_rent(make_client(simulator.api_url, read_timeout=0.3))
    messages += [str(raised.value), raised.value.detail]
    with pytest.raises(errors.ProviderUnreachable) as raised:
        client_rent(make_client("http://127.0.0.1:9/stubs/handler_api.php"))
    messages += [str(raised.value), raised.value.detail]
    logged = [record.getMessage() for record in caplog.records]
    assert logged, "the client logs its calls"
    for text in [*messages, *logged]:
        assert SECRET not in text and "s3cr3t" not in text
    assert "[REDACTED]" in messages[2]  # the echoed key was cut from the kept body


@pytest.mark.parametrize(
    "body",
    [
        "x" * 180 + " " + SECRET,  # a long echo: cut only after the key is gone
        f"BAD_KEY {SECRET}",  # no colon: the whole line would otherwise become the token
        json.dumps({"status": "success", "phone": {"id": 1, "endDate": "2030-01-01T00:00:00", "number": SECRET}}),
    ],
)
def test_an_echoed_key_is_redacted_before_anything_is_kept(simulator, body):
    simulator.force(body=body)
    with pytest.raises(errors.ProviderError) as raised:
        client_rent(make_client(simulator.api_url))
    error = raised.value
    for text in (error.token, error.detail, error.raw_body, str(error), repr(error), *map(str, error.args)):
        assert "s3cr3t" not in text and "S3CR3T" not in text and "K3y" not in text
