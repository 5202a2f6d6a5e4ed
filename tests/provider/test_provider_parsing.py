"""The total parser: every wire form and alias of contract section 2, read without any HTTP."""

import gzip
import json
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from rentals.provider import errors
from rentals.provider.parsing import Balance, Success, parse_rent_list, parse_rented_phone, parse_reply

KYIV = ZoneInfo("Europe/Kyiv")


def parse(body: bytes | str, status: int = 200):
    raw = body.encode() if isinstance(body, str) else body
    return parse_reply(raw, http_status=status, provider_tz=UTC)


@pytest.mark.parametrize(
    ("alias", "token"),
    [
        ("SQL_ERROR", "ERROR_SQL"),
        ("WRONG_ACTION", "BAD_ACTION"),
        ("WRONG ACTION", "BAD_ACTION"),
        ("INVALID_STATUS", "INCORECT_STATUS"),
        ("BAD_STATUS", "INCORECT_STATUS"),
        ("WRONG_COUNTRY", "BAD_COUNTRY"),
        ("WRONG_COUNTRY_ID", "BAD_COUNTRY"),
        ("BAD_OPERATOR", "WRONG_OPERATOR"),
        ("BAD_TIME", "INVALID_TIME"),
        ("OUT_OF_STOCK", "NO_NUMBERS"),
        ("no_balance", "NO_BALANCE"),
    ],
)
def test_aliases_normalise_to_one_token(alias, token):
    with pytest.raises(errors.ProviderError) as raised:
        parse(alias)
    assert raised.value.token == token


@pytest.mark.parametrize(
    ("body", "amount"),
    [
        ("ACCESS_BALANCE:12.34", "12.34"),
        ("ACCESS_BALANCE: '7.5' ", "7.5"),
        ('ACCESS_BALANCE:"0"', "0"),
        ("\ufeffACCESS_BALANCE:3,25\n", "3.25"),
    ],
)
def test_balance_in_its_spellings(body, amount):
    assert parse(body) == Balance(Decimal(amount))


def test_banned_with_a_php_style_date_is_a_dated_ban_in_the_provider_timezone():
    with pytest.raises(errors.AccountBanned) as raised:
        parse_reply(b"BANNED:'2025-5-10 12-34-56'", http_status=200, provider_tz=KYIV)
    assert raised.value.banned_until == datetime(2025, 5, 10, 12, 34, 56, tzinfo=KYIV)


@pytest.mark.parametrize(
    "body", ["BANNED:2025-5-10 12-34-56", '{"status":"error","message":"BANNED:\'2025-5-10 12-34-56\'"}']
)
def test_banned_date_without_quotes_or_in_json(body):
    with pytest.raises(errors.AccountBanned) as raised:
        parse(body)
    assert raised.value.banned_until == datetime(2025, 5, 10, 12, 34, 56, tzinfo=UTC)


@pytest.mark.parametrize("body", ["BANNED", "BANNED:", "BANNED:'soon'"])
def test_banned_without_a_readable_date_blocks_the_account(body):
    with pytest.raises(errors.AccountBlocked) as raised:
        parse(body)
    assert raised.value.token == "BANNED"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("<html><body>502 Bad Gateway</body></html>", "HTML"),
        ('{"status":"success","phone":{"id":1,', "truncated"),
        ('{"status":"error"}', "no token"),
        ('{"status":"weird","message":"x"}', "unknown status"),
        ("Something went wrong, sorry.", "prose"),
        ("42", "a bare number"),
        (b"\x1f\x8b\x08broken", "broken gzip"),
    ],
)
def test_unreadable_replies_are_unknown_outcomes(body, why):
    with pytest.raises(errors.UnknownOutcome) as raised:
        parse(body)
    assert raised.value.token == errors.UNKNOWN_OUTCOME, why


def test_an_unknown_token_is_kept_verbatim_as_an_unknown_outcome():
    with pytest.raises(errors.UnknownOutcome) as raised:
        parse("BRAND_NEW_ERROR:some detail")
    assert (raised.value.token, raised.value.detail) == ("BRAND_NEW_ERROR", "some detail")


def test_json_error_keeps_error_msg_and_info_in_the_detail():
    with pytest.raises(errors.ProviderError) as raised:
        parse('{"status":"error","message":"RENT_DIE","info":"rent 42","errorMsg":"too late"}')
    assert (raised.value.token, raised.value.detail) == ("RENT_DIE", "too late rent 42")


@pytest.mark.parametrize(
    "body",
    [
        '{"status":"error","message":"MAX_HOURS_EXCEED","errorMsg":"Maximum rent time exceeded!","info":{"max":720}}',
        '{"status":"error","message":"MAX_HOURS_EXCEED","errorMsg":"Max hours: 8760","info":{"max":"720"}}',
        '{"status":"error","message":"MAX_HOURS_EXCEED","errorMsg":"max 720 h/rent","info":{"max":720}}',
        "MAX_HOURS_EXCEED:720",
    ],
)
def test_the_most_hours_an_extension_may_add_are_read_from_info_max_not_from_the_words(body):
    """The provider's words may hold other numbers, or be too odd to show: the limit is info.max."""
    from rentals.wording.pages import extension_problem

    with pytest.raises(errors.ExtensionTooLong) as raised:
        parse(body)
    assert (raised.value.max_hours, raised.value.detail) == (720, "max 720 h")
    said = extension_problem(raised.value.token, raised.value.detail, may_have_charged=False)
    assert said.endswith("The most it can still be extended by is 720 hours.")


def test_an_extension_limit_the_provider_did_not_give_is_not_made_up():
    from rentals.wording.pages import extension_problem

    with pytest.raises(errors.ExtensionTooLong) as raised:
        parse('{"status":"error","message":"MAX_HOURS_EXCEED","errorMsg":"Maximum rent time exceeded!"}')
    assert raised.value.max_hours is None
    assert "The most" not in extension_problem("MAX_HOURS_EXCEED", raised.value.detail, may_have_charged=False)


def test_a_ban_date_in_info_is_read_beside_an_error_msg():
    with pytest.raises(errors.AccountBanned) as raised:
        parse('{"status":"error","message":"BANNED","errorMsg":"Account banned","info":"2030-5-10 12-34-56"}')
    assert raised.value.banned_until == datetime(2030, 5, 10, 12, 34, 56, tzinfo=UTC)


def test_a_gzip_body_cut_short_is_an_unknown_outcome():
    """Inflated as far as it goes, ACCESS_BALANCE:123456.78 cut short reads as a smaller balance."""
    whole = gzip.compress(b"ACCESS_BALANCE:123456.78")
    for cut in range(11, len(whole)):
        with pytest.raises(errors.UnknownOutcome):
            parse(whole[:cut])
    assert parse(whole) == Balance(Decimal("123456.78"))


@pytest.mark.parametrize("token", ["STATUS_FINISH", "STATUS_REVOKE", "STATUS_WAIT_CODE"])
def test_a_rent_status_on_a_server_error_page_is_an_unknown_outcome(token):
    with pytest.raises(errors.ProviderError) as raised:
        parse(json.dumps({"status": "error", "message": token}), status=500)
    assert type(raised.value) is errors.UnknownOutcome and raised.value.token == token


def test_gzip_body_without_a_header_is_read():
    assert parse(gzip.compress(b"ACCESS_BALANCE:1.00")) == Balance(Decimal("1.00"))


def test_json_without_status_and_arrays_are_success_payloads():
    assert parse('{"countries": {"0": "Russia"}}') == Success({"countries": {"0": "Russia"}})
    assert parse("[1, 2]") == Success([1, 2])


def rent_success(phone: dict, **extra) -> Success:
    return parse(json.dumps({"status": "success", "phone": phone, **extra}))


@pytest.mark.parametrize("rent_id", [123456, "123456"])
def test_rent_id_as_int_or_string(rent_id):
    reply = rent_success({"id": rent_id, "endDate": "2025-05-10T12:34:56", "number": "79999876543"})
    assert parse_rented_phone(reply, provider_tz=UTC).rent_id == "123456"


@pytest.mark.parametrize(
    ("end_date", "expected"),
    [
        ("2025-05-10T12:34:56", datetime(2025, 5, 10, 12, 34, 56, tzinfo=KYIV)),
        ("2025-05-10 12:34:56", datetime(2025, 5, 10, 12, 34, 56, tzinfo=KYIV)),
        ("2025-05-10T12:34:56+00:00", datetime(2025, 5, 10, 12, 34, 56, tzinfo=UTC)),
        ("2025-05-10T12:34:56Z", datetime(2025, 5, 10, 12, 34, 56, tzinfo=UTC)),
        ("2025-5-9 12:34:56", datetime(2025, 5, 9, 12, 34, 56, tzinfo=KYIV)),  # PHP's Y-n-j, as in SMS dates
    ],
)
def test_end_date_with_and_without_offset(end_date, expected):
    reply = rent_success({"id": 1, "endDate": end_date, "number": 79999876543})
    phone = parse_rented_phone(reply, provider_tz=KYIV)
    assert phone.end_date == expected and phone.end_date.utcoffset() is not None


def test_phone_alias_and_cost_are_read():
    reply = rent_success({"id": 1, "endDate": "2025-05-10T12:34:56", "phone": "+79999876543", "cost": "1.50"})
    phone = parse_rented_phone(reply, provider_tz=UTC)
    assert (phone.number, phone.cost) == ("79999876543", Decimal("1.50"))


@pytest.mark.parametrize(
    "phone",
    [
        None,
        {"id": 1, "number": "7999"},
        {"id": None, "endDate": "2025-05-10T12:34:56", "number": "79999876543"},
        {"id": 1, "endDate": "yesterday", "number": "79999876543"},
        {"id": 1, "endDate": "2025-05-10", "number": "n/a"},
    ],
)
def test_a_success_we_cannot_read_is_an_unknown_outcome_not_a_failure(phone):
    with pytest.raises(errors.UnknownOutcome):
        parse_rented_phone(rent_success(phone), provider_tz=UTC)


def test_a_gzip_bomb_is_an_unknown_outcome_not_a_memory_blowup():
    bomb = gzip.compress(b"A" * (20 * 1024 * 1024))
    with pytest.raises(errors.UnknownOutcome, match="larger than"):
        parse(bomb)


@pytest.mark.parametrize("body", ["ACCESS_BALANCE:123456789012345", "ACCESS_BALANCE:" + "9" * 5000])
def test_a_balance_that_cannot_be_stored_is_an_unknown_outcome(body):
    with pytest.raises(errors.UnknownOutcome):
        parse(body)


def test_amounts_are_rounded_to_what_is_stored():
    assert parse("ACCESS_BALANCE:1.234567") == Balance(Decimal("1.2346"))


@pytest.mark.parametrize("token", ["BAD_KEY", "NO_BALANCE"])
def test_a_definite_token_with_a_server_error_status_is_still_an_unknown_outcome(token):
    with pytest.raises(errors.UnknownOutcome) as raised:
        parse(token, status=503)
    assert raised.value.token == token


def test_a_ban_date_given_in_json_info_is_read():
    with pytest.raises(errors.AccountBanned) as raised:
        parse('{"status":"error","message":"BANNED","info":"2030-1-2 03-04-05"}')
    assert raised.value.banned_until == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "body", ['{"status":"error","message":"BAD\\u0000KEY \\ud800"}', "NO_BALANCE:\x00\udc80 detail"]
)
def test_nul_and_lone_surrogates_never_reach_stored_text(body):
    raw = body.encode("utf-8", errors="surrogatepass")
    with pytest.raises(errors.ProviderError) as raised:
        parse(raw)
    for text in (raised.value.token, raised.value.detail, raised.value.raw_body, str(raised.value)):
        assert "\x00" not in text
        text.encode("utf-8")  # no lone surrogate left


@pytest.mark.parametrize(
    "phone",
    [
        {"id": "1\n2", "endDate": "2030-05-10T12:34:56", "number": "79999876543"},
        {"id": 1, "endDate": "2030-05-10T12:34:56", "number": "٧٩٩٩٩٨٧٦٥٤٣"},
        {"id": 1, "endDate": "0001-01-01T00:30:00+05:00", "number": "79999876543"},
        {"id": 1, "endDate": "9999-12-31 23:00:00", "number": "79999876543"},
        {"id": "\ud800", "endDate": "2030-05-10T12:34:56", "number": "79999876543"},
    ],
)
def test_values_that_cannot_be_stored_make_an_unknown_outcome(phone):
    with pytest.raises(errors.UnknownOutcome):
        parse_rented_phone(Success({"status": "success", "phone": phone}), provider_tz=KYIV)


def test_a_cost_that_cannot_be_stored_is_dropped_not_fatal():
    reply = rent_success({"id": 1, "endDate": "2030-05-10T12:34:56", "number": "79999876543", "cost": 123456789012})
    assert parse_rented_phone(reply, provider_tz=UTC).cost is None


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("2025-5-10 12:34:56", datetime(2025, 5, 10, 12, 34, 56, tzinfo=UTC)),
        ("2025-05-10T12:34:56+00:00", datetime(2025, 5, 10, 12, 34, 56, tzinfo=UTC)),
        ("1746880496", datetime(2025, 5, 10, 12, 34, 56, tzinfo=UTC)),
        (1746880496, datetime(2025, 5, 10, 12, 34, 56, tzinfo=UTC)),
    ],
)
def test_sms_dates_in_every_form_the_family_uses(date, expected):
    from rentals.provider.parsing import incoming_sms

    sms = incoming_sms({"phoneFrom": "WhatsApp", "text": "Code 1", "date": date}, UTC)
    assert sms is not None and sms.received_at == expected


@pytest.mark.parametrize(
    ("token", "error_class", "kind"),
    [
        ("INVALID_PHONE", errors.RentUnknown, "request"),
        ("NO_ID_RENT", errors.IntegrationError, "integration"),
        ("EARLY_CANCEL_DENIED", errors.CancelTooEarly, "transient"),
        ("RENT_DIE", errors.RentLifecycleError, "request"),
        ("MAX_HOURS_EXCEED", errors.ExtensionTooLong, "request"),
        ("CANT_CANCEL", errors.RentLifecycleError, "request"),
        ("STATUS_WAIT_CODE", errors.RentStatusReply, "unknown"),
    ],
)
@pytest.mark.parametrize("form", ["text", "json_message", "json_msg", "json_error"])
def test_rent_lifecycle_tokens_in_every_form(token, error_class, kind, form):
    body = token if form == "text" else json.dumps({"status": "error", form.removeprefix("json_"): token})
    with pytest.raises(errors.ProviderError) as raised:
        parse(body)
    assert type(raised.value) is error_class and raised.value.token == token and raised.value.kind == kind


@pytest.mark.parametrize(
    "payload",
    [
        {"countries": {"0": 1}, "operators": {"0": "any"}, "services": {"tg": {"cost": 0.3, "quant": 7}}},
        {"counties": [1], "operators": ["any"], "services": {"tg": {"cost": "0.30", "quant": {"current": 7}}}},
        {"status": "success", "values": {"1": {"tg": {"cost": 0.3, "count": "7"}}}},
    ],
)
def test_prices_in_each_form_the_family_writes(payload):
    from rentals.provider.parsing import parse_rent_prices

    offers = parse_rent_prices(parse(json.dumps(payload)), country=1)
    assert offers["tg"].cost == Decimal("0.3000") and offers["tg"].count == 7


@pytest.mark.parametrize(
    "payload",
    [
        {"status": "success", "price": 6.33, "currency": 840, "hours": 4, "maxHours": 100},
        {"status": "success", "price": "6.33", "currency": 840},
    ],
)
def test_extension_prices_from_both_names(payload):
    from rentals.provider.parsing import parse_price

    assert parse_price(parse(json.dumps(payload))) == Decimal("6.3300")


@pytest.mark.parametrize(
    "body",
    [
        {"status": "success", "values": {"0": {"id": "12345", "phone": "79180001122", "price": "1.5", "hours": "4"}}},
        {"status": "success", "values": [{"id": "12345", "phone": "79180001122", "price": "1.5", "hours": "4"}]},
        [{"id": "12345", "phone": "79180001122", "price": "1.5", "hours": "4"}],  # a JSON array is the payload
    ],
)
def test_the_rent_list_in_every_form(body):
    (listed,) = parse_rent_list(parse(json.dumps(body)))
    assert (listed.rent_id, listed.number, listed.hours, listed.price) == ("12345", "79180001122", 4, Decimal("1.5"))
