"""The simulator as its own program: state, natural errors, special keys and the runsimulator command."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

PROJECT = Path(__file__).resolve().parents[2]


def call(simulator, method="get", **params):
    send = requests.post if method == "post" else requests.get
    key = "data" if method == "post" else "params"
    return send(simulator.api_url, **{key: {"api_key": "sim-test-key", **params}}, timeout=5)


def rent_request(simulator, method="get", **params):
    defaults = {"action": "getRentNumber", "service": "tg", "country": "1", "rent_time": "4"}
    return call(simulator, method, **{**defaults, **params})


def envelope(token):
    """The family's JSON form of a rent action's own error."""
    return {"status": "error", "message": token}


# The rent action's own errors come in the JSON envelope; generic and account tokens as plain text.
@pytest.mark.parametrize(
    ("params", "token"),
    [
        ({"service": "nope"}, "BAD_SERVICE"),
        ({"country": "9999"}, "BAD_COUNTRY"),
        ({"country": "ukraine"}, "BAD_COUNTRY"),
        ({"rent_time": "5"}, "INVALID_TIME"),
        ({"operator": "mts"}, "WRONG_OPERATOR"),
        ({"api_key": "sim-blocked-1"}, "CHANNELS_LIMIT"),
        ({"api_key": "sim-no-balance-1"}, "NO_BALANCE"),
    ],
)
def test_rent_errors_arise_from_state_and_parameters_in_the_json_envelope(simulator, params, token):
    response = rent_request(simulator, **params)
    assert response.status_code == 200 and response.json() == envelope(token)


@pytest.mark.parametrize(
    ("params", "token"),
    [
        ({"action": "doSomething"}, "BAD_ACTION"),
        ({"api_key": ""}, "NO_KEY"),
        ({"api_key": "sim-bad-key-1"}, "BAD_KEY"),
        ({"api_key": "sim-inactive-1"}, "ACCOUNT_INACTIVE"),
    ],
)
def test_generic_and_account_tokens_are_plain_text(simulator, params, token):
    assert rent_request(simulator, **params).text == token


def test_a_banned_key_answers_with_its_php_style_date(simulator):
    body = rent_request(simulator, api_key="sim-banned-1").text
    assert body.startswith("BANNED:'") and body.count("-") == 4


def test_a_rent_debits_the_balance_and_the_stock(simulator):
    simulator.set_account("sim-test-key", balance="1.00")
    simulator.set_stock(country=1, service="tg", operator="any", count=1)
    first = rent_request(simulator, method="post").json()  # POST form-encoded works like GET
    assert first["status"] == "success" and first["phone"]["number"].startswith("380")
    assert call(simulator, action="getBalance").text == "ACCESS_BALANCE:0.70"
    assert rent_request(simulator).json() == envelope("NO_NUMBERS")
    simulator.set_stock(country=1, service="tg", operator="any", count=5)
    simulator.set_account("sim-test-key", balance="0.10")
    assert rent_request(simulator).json() == envelope("NO_BALANCE")


def test_forced_replies_are_used_once_and_can_target_an_action(simulator):
    simulator.force(token="ERROR_SQL", action="getRentNumber")
    assert call(simulator, action="getBalance").text.startswith("ACCESS_BALANCE:")
    assert rent_request(simulator).text == "ERROR_SQL"
    assert rent_request(simulator).json()["status"] == "success"


def test_forced_wire_forms_and_statuses(simulator):
    simulator.force(token="NO_BALANCE", wire="json_msg", status="mapped")
    response = rent_request(simulator)
    assert response.status_code == 402 and response.json() == {"status": "error", "msg": "NO_BALANCE"}


def test_a_provider_that_charges_and_then_fails(simulator):
    """``handle``: the rent is made and charged, and the answer is the forced one (an HTML error page)."""
    simulator.set_account("sim-test-key", balance="1.00")
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    simulator.force(action="getRentNumber", handle=True, body=page, status=502, content_type="text/html")
    simulator.force(action="getRentNumber")  # a turn that changes nothing
    answered = rent_request(simulator)
    assert (answered.status_code, answered.text) == (502, page)
    assert len(simulator.rents()) == 1 and call(simulator, action="getBalance").text == "ACCESS_BALANCE:0.70"
    assert rent_request(simulator).json()["status"] == "success"
    assert len(simulator.requests("getRentNumber")) == 2  # each request logged once


def test_the_api_key_is_not_kept_in_the_request_log(simulator):
    before = time.time()
    rent_request(simulator)
    (logged,) = simulator.requests()
    assert "api_key" not in logged and before <= logged["at"] <= time.time()  # when it arrived


def test_control_plane_rejects_bad_input_with_400(simulator):
    response = requests.post(simulator.server.base_url + "/_control/force", data=b"{not json", timeout=5)
    assert response.status_code == 400
    response = requests.post(simulator.server.base_url + "/_control/force", json={"delay": -1}, timeout=5)
    assert response.status_code == 400


def test_runsimulator_serves_over_http():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runsimulator", "--port", str(port)],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}/stubs/handler_api.php"
        for _ in range(100):
            try:
                response = requests.get(url, params={"api_key": "k", "action": "getBalance"}, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert response.text == "ACCESS_BALANCE:100.00"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_simulator_imports_neither_the_client_nor_django():
    probe = (
        "import sys, rentals.simulator.server; "
        "print(sorted(m for m in sys.modules if m.startswith(('rentals.provider', 'django', 'requests'))))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("command", "payload"),
    [("force", []), ("force", "x"), ("force", {"status": 99}), ("accounts", {"api_key": "k", "balance": "abc"})],
)
def test_control_plane_answers_bad_input_with_400_not_a_dropped_connection(simulator, command, payload):
    response = requests.post(simulator.server.base_url + "/_control/" + command, json=payload, timeout=5)
    assert response.status_code == 400 and response.json()["error"]


def test_a_naive_ban_time_is_taken_as_utc(simulator):
    simulator.set_account("sim-test-key", banned_until="2099-01-01T00:00:00")
    assert rent_request(simulator).text == "BANNED:'2099-1-1 00-00-00'"


def test_a_restarted_simulator_does_not_reuse_rent_ids(simulator):
    first = rent_request(simulator).json()["phone"]["id"]
    simulator.reset()  # a fresh state, as after a restart
    assert rent_request(simulator).json()["phone"]["id"] > first


# --- the family's forms (contract section 4) --------------------------------------------------


RENT_ID_ACTIONS = [
    {"action": "getRentStatus"},
    {"action": "setRentStatus", "status": "1"},
    {"action": "continueRentNumber", "rent_time": "4"},
    {"action": "continueRentInfo", "hours": "4"},
    {"action": "getContinueRentPriceNumber", "rent_time": "4"},
]


@pytest.mark.parametrize("params", RENT_ID_ACTIONS, ids=lambda params: params["action"])
def test_a_missing_id_is_no_id_rent_and_an_unknown_or_foreign_one_invalid_phone(simulator, params):
    foreign = rent_request(simulator, api_key="sim-other-key").json()["phone"]["id"]
    assert call(simulator, **params).json() == envelope("NO_ID_RENT")
    assert call(simulator, id="99", **params).json() == envelope("INVALID_PHONE")
    assert call(simulator, id=str(foreign), **params).json() == envelope("INVALID_PHONE")
    assert call(simulator, id="\u00b2", **params).json() == envelope("INVALID_PHONE")  # a digit to isdigit()


def test_odd_digits_in_numbers_are_answered_not_crashed_on(simulator):
    rent_id = rent_request(simulator).json()["phone"]["id"]
    status = call(simulator, action="getRentStatus", id=str(rent_id), page="\u00b2", size="\u00b9")
    assert status.json() == envelope("STATUS_WAIT_CODE")  # as page 0 of the default size
    assert call(simulator, action="getRentNumber", service="tg", country="\u00b9", rent_time="4").status_code == 200


def test_a_blocked_key_still_reads_but_cannot_spend(simulator):
    rent_id = rent_request(simulator).json()["phone"]["id"]
    simulator.set_account("sim-test-key", blocked=True)
    assert call(simulator, action="getBalance").text == "ACCESS_BALANCE:99.70"
    assert call(simulator, action="getRentStatus", id=rent_id).json() == envelope("STATUS_WAIT_CODE")
    assert call(simulator, action="getRentList").json()["status"] == "success"
    assert call(simulator, action="continueRentInfo", id=rent_id, hours=4).json()["price"] == 0.3
    assert rent_request(simulator).json() == envelope("CHANNELS_LIMIT")
    assert call(simulator, action="continueRentNumber", id=rent_id, rent_time=4).json() == envelope("CHANNELS_LIMIT")


@pytest.mark.parametrize("action", ["getRentNumber", "getRentPrices", "getRentServicesAndCountries"])
def test_time_is_read_wherever_rent_time_is(simulator, action):
    reply = call(simulator, action=action, service="tg", country="1", time="72").json()
    prices = {
        "getRentNumber": lambda: reply["phone"]["cost"],
        "getRentPrices": lambda: reply["values"]["1"]["tg"]["cost"],
        "getRentServicesAndCountries": lambda: reply["services"]["tg"]["cost"],
    }
    assert prices[action]() == 2.2  # the 72-hour price, not the 4-hour default


def test_both_extension_price_names_answer(simulator):
    rent_id = rent_request(simulator).json()["phone"]["id"]
    info = call(simulator, action="continueRentInfo", id=rent_id, hours=24, needHistory="true").json()
    assert info["status"] == "success" and info["price"] == 0.9 and info["hours"] == 24 and info["currency"] == 840
    assert info["maxHours"] > 0 and info["history"]
    older = call(simulator, action="getContinueRentPriceNumber", id=rent_id, rent_time=24).json()
    assert older == {"status": "success", "price": 0.9, "currency": 840}
    # The official Python client sends no time: 4 hours.
    assert call(simulator, action="getContinueRentPriceNumber", id=rent_id).json()["price"] == 0.3
    assert call(simulator, action="getContinueRentPrice", id=rent_id, rent_time=4).text == "BAD_ACTION"


def test_services_and_countries_in_each_of_its_forms(simulator):
    simulator.set_stock(country=1, service="tg", operator="any", count=3)
    reply = call(simulator, action="getRentServicesAndCountries", country="1", rent_time="4").json()
    assert reply["countries"] == {"0": 1} and reply["operators"]["0"] == "any"
    assert reply["services"]["tg"] == {"cost": 0.3, "quant": 3}
    simulator.dialect(countries_key="counties", quant="object", lists="array")
    reply = call(simulator, action="getRentServicesAndCountries", country="1", rent_time="4").json()
    assert reply["counties"] == [1] and reply["operators"][0] == "any"
    assert reply["services"]["tg"]["quant"] == {"current": 3, "total": 3}


def test_services_and_countries_says_no_numbers_when_nothing_is_in_stock(simulator):
    from rentals.simulator.state import SERVICES

    for code in SERVICES:
        simulator.set_stock(country=1, service=code, operator="any", count=0)
    reply = call(simulator, action="getRentServicesAndCountries", country="1")
    assert reply.json() == envelope("NO_NUMBERS")


def test_cancelling_after_an_extension_refunds_the_rent_and_the_extension(simulator):
    rent_id = rent_request(simulator).json()["phone"]["id"]
    call(simulator, action="continueRentNumber", id=rent_id, rent_time=24)
    assert call(simulator, action="getBalance").text == "ACCESS_BALANCE:98.80"
    assert call(simulator, action="setRentStatus", id=rent_id, status=2).json() == {"status": "success"}
    assert call(simulator, action="getBalance").text == "ACCESS_BALANCE:100.00"


def test_a_re_ordered_rent_keeps_its_old_id_answerable_as_finished(simulator):
    old_id = rent_request(simulator).json()["phone"]["id"]
    simulator._post_json("advance", {"seconds": 5 * 3600})
    new_id = call(simulator, action="continueRentNumber", id=old_id, rent_time=4).json()["phone"]["id"]
    assert new_id != old_id
    assert call(simulator, action="getRentStatus", id=old_id).json() == envelope("STATUS_FINISH")
    assert call(simulator, action="setRentStatus", id=old_id, status=1).json() == envelope("ALREADY_FINISH")
    assert call(simulator, action="getRentStatus", id=new_id).json() == envelope("STATUS_WAIT_CODE")


def test_every_other_form_stays_available_through_the_dialect(simulator):
    simulator.dialect(rent_errors="text", error_status="mapped", values="array")
    response = rent_request(simulator, service="nope")
    assert (response.status_code, response.text) == (400, "BAD_SERVICE")
    rent_id = rent_request(simulator).json()["phone"]["id"]
    simulator._post_json("sms", {"rent_id": rent_id, "text": "Code 1", "webhook": False})
    assert call(simulator, action="getRentStatus", id=rent_id).json()["values"][0]["text"] == "Code 1"
    simulator.dialect(unknown_actions=["continueRentInfo"])
    assert call(simulator, action="continueRentInfo", id=rent_id, hours=4).text == "BAD_ACTION"
    simulator.reset()
    assert rent_request(simulator, service="nope").json() == envelope("BAD_SERVICE")


def test_early_cancel_denied_when_the_dialect_asks_for_it(simulator):
    simulator.dialect(early_cancel_denied_seconds=120)
    rent_id = rent_request(simulator).json()["phone"]["id"]
    assert call(simulator, action="setRentStatus", id=rent_id, status=2).json() == envelope("EARLY_CANCEL_DENIED")
    simulator._post_json("advance", {"seconds": 180})
    assert call(simulator, action="setRentStatus", id=rent_id, status=2).json() == {"status": "success"}


def test_a_forced_429_carries_its_retry_after(simulator):
    simulator.force(body="Too Many Requests", status=429, headers={"Retry-After": "7"})
    response = rent_request(simulator)
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"


@pytest.mark.parametrize("spec", [{"rent_errors": "xml"}, {"colour": "blue"}, {"unknown_actions": "x"}])
def test_a_bad_dialect_is_refused_with_its_reason(simulator, spec):
    response = requests.post(simulator.server.base_url + "/_control/dialect", json=spec, timeout=5)
    assert response.status_code == 400 and response.json()["error"]


def test_a_provider_sized_catalog_answers_for_every_country_it_offers_until_a_reset(simulator):
    from rentals.simulator.state import SERVICES

    countries = simulator.offer_countries(180)
    assert len(countries) == 180 and {0, 1, 187} <= set(countries)  # the contract's named ones among them
    generated = max(set(countries) - {187})
    prices = call(simulator, action="getRentPrices", country=str(generated), rent_time="24").json()
    assert set(prices["values"][str(generated)]) == set(SERVICES)
    assert rent_request(simulator, country=str(generated)).json()["status"] == "success"
    simulator.reset()
    assert call(simulator, action="getRentPrices", country=str(generated)).json() == envelope("BAD_COUNTRY")
