"""The simulator as its own program: state, natural errors, special keys and the runsimulator command."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

PROJECT = Path(__file__).resolve().parent.parent


def call(simulator, method="get", **params):
    send = requests.post if method == "post" else requests.get
    key = "data" if method == "post" else "params"
    return send(simulator.api_url, **{key: {"api_key": "sim-test-key", **params}}, timeout=5)


def rent(simulator, method="get", **params):
    defaults = {"action": "getRentNumber", "service": "tg", "country": "1", "rent_time": "4"}
    return call(simulator, method, **{**defaults, **params})


@pytest.mark.parametrize(
    ("params", "token"),
    [
        ({"service": "nope"}, "BAD_SERVICE"),
        ({"country": "9999"}, "BAD_COUNTRY"),
        ({"country": "ukraine"}, "BAD_COUNTRY"),
        ({"rent_time": "5"}, "INVALID_TIME"),
        ({"operator": "mts"}, "WRONG_OPERATOR"),
        ({"action": "doSomething"}, "BAD_ACTION"),
        ({"api_key": ""}, "NO_KEY"),
        ({"api_key": "sim-bad-key-1"}, "BAD_KEY"),
        ({"api_key": "sim-inactive-1"}, "ACCOUNT_INACTIVE"),
        ({"api_key": "sim-blocked-1"}, "CHANNELS_LIMIT"),
        ({"api_key": "sim-no-balance-1"}, "NO_BALANCE"),
    ],
)
def test_errors_arise_from_state_and_parameters(simulator, params, token):
    assert rent(simulator, **params).text == token


def test_a_banned_key_answers_with_its_php_style_date(simulator):
    body = rent(simulator, api_key="sim-banned-1").text
    assert body.startswith("BANNED:'") and body.count("-") == 4


def test_a_rent_debits_the_balance_and_the_stock(simulator):
    simulator.set_account("sim-test-key", balance="1.00")
    simulator.set_stock(country=1, service="tg", operator="any", count=1)
    first = rent(simulator, method="post").json()  # POST form-encoded works like GET
    assert first["status"] == "success" and first["phone"]["number"].startswith("380")
    assert call(simulator, action="getBalance").text == "ACCESS_BALANCE:0.70"
    assert rent(simulator).text == "NO_NUMBERS"
    simulator.set_stock(country=1, service="tg", operator="any", count=5)
    simulator.set_account("sim-test-key", balance="0.10")
    assert rent(simulator).text == "NO_BALANCE"


def test_forced_replies_are_used_once_and_can_target_an_action(simulator):
    simulator.force(token="ERROR_SQL", action="getRentNumber")
    assert call(simulator, action="getBalance").text.startswith("ACCESS_BALANCE:")
    assert rent(simulator).text == "ERROR_SQL"
    assert rent(simulator).json()["status"] == "success"


def test_forced_wire_forms_and_statuses(simulator):
    simulator.force(token="NO_BALANCE", wire="json_msg", status="mapped")
    response = rent(simulator)
    assert response.status_code == 402 and response.json() == {"status": "error", "msg": "NO_BALANCE"}


def test_the_api_key_is_not_kept_in_the_request_log(simulator):
    rent(simulator)
    assert "api_key" not in simulator.requests()[0]


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
    assert rent(simulator).text == "BANNED:'2099-1-1 00-00-00'"


def test_a_restarted_simulator_does_not_reuse_rent_ids(simulator):
    first = rent(simulator).json()["phone"]["id"]
    simulator.reset()  # a fresh state, as after a restart
    assert rent(simulator).json()["phone"]["id"] > first
