"""add_account, rent_number and rotate_api_keys, run as ops and scripts run them: argv in, exit status
and output out."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import Permission

from rentals.models import AccountState, ProviderAccount, Rental, RentAttempt
from rentals.services.api_tokens import api_token_create

from ..conftest import manage
from ..factories import AccountFactory, ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def renter(db):
    """The person the command line rents as (--as olena): active staff who may rent."""
    olena = UserFactory(username="olena", is_staff=True)
    olena.user_permissions.add(Permission.objects.get(codename="rent_number"))
    return olena


def rent_json(capsys, *extra: str, person: tuple[str, ...] = ("--as", "olena")) -> tuple[int, dict]:
    status, out, _ = manage(
        "rent_number", "--account", "Sandbox", "--service", "tg", "--country", "1", "--json", *person, *extra,
        capsys=capsys,
    )  # fmt: skip
    (line,) = out.strip().splitlines()
    return status, json.loads(line)


def test_rent_number_prints_the_rental_as_the_api_shows_it(simulator, account, catalog, capsys, client, renter):
    renter.user_permissions.add(Permission.objects.get(codename="view_rental"))
    status, result = rent_json(capsys, "--operator", "kyivstar", "--hours", "168", "--label", "Shop #12 login")
    rental = Rental.objects.get()
    token = api_token_create(user=renter, name="the same person's script")[1]
    shown = client.get(f"/api/rentals/{rental.pk}", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert shown.pop("messages") is None  # the API's one rental adds its SMS: olena may not read them
    assert status == 0 and result == {"ok": True, "rental": shown}
    assert result["rental"]["provider_rent_id"] == rental.provider_rent_id and rental.hours == 168
    assert result["rental"]["rented_by"] == "olena" and result["rental"]["end_date"].endswith("Z")


def test_rent_number_records_what_the_number_is_used_for(simulator, account, catalog, capsys):
    status, _ = rent_json(capsys, "--label", "Shop #12 login")
    assert status == 0 and Rental.objects.get().label == "Shop #12 login"


def test_rent_number_human_output(simulator, account, catalog, capsys):
    argv = ["--account", "Sandbox", "--service", "tg", "--country", "1", "--as", "olena"]
    status, out, _ = manage("rent_number", *argv, capsys=capsys)
    assert status == 0 and out.startswith(f"Rented {Rental.objects.get()} until ")


@pytest.mark.parametrize(
    ("force", "token"),
    [
        ({"token": "NO_BALANCE"}, "NO_BALANCE"),  # account-level
        ({"token": "BAD_SERVICE", "wire": "json_error", "status": "mapped"}, "BAD_SERVICE"),  # request
        ({"token": "NO_NUMBERS", "wire": "json_msg"}, "NO_NUMBERS"),  # transient
        ({"token": "ERROR_SQL"}, "ERROR_SQL"),  # a provider token with an unknown outcome
        ({"token": "BAD_ACTION"}, "BAD_ACTION"),  # integration
        ({"body": "<html>oops</html>", "status": 502}, "UNKNOWN_OUTCOME"),
        ({"body": "", "status": 200}, "UNKNOWN_OUTCOME"),
        ({"body": '{"status":"success","phone":{"id":', "status": 200}, "UNKNOWN_OUTCOME"),
    ],
)
def test_rent_number_errors_exit_1_with_the_token(simulator, account, catalog, capsys, force, token):
    simulator.force(**force)
    status, result = rent_json(capsys)
    attempt = RentAttempt.objects.get()
    assert status == 1
    assert result["ok"] is False and result["error"] == token and result["message"]
    assert (result["state"], result["attempt"]) == (attempt.state, attempt.pk)
    assert result["state"] == ("unknown" if token in ("UNKNOWN_OUTCOME", "ERROR_SQL") else "failed")


def test_a_read_timeout_is_unknown_outcome(simulator, account, catalog, capsys, short_timeouts):
    simulator.force(delay=2)
    status, result = rent_json(capsys)
    assert (status, result["error"]) == (1, "UNKNOWN_OUTCOME")
    assert "may have charged" in result["message"] and len(simulator.requests("getRentNumber")) == 1


def test_a_refusal_carries_the_account_state_token(simulator, account, catalog, capsys):
    account.state = AccountState.INACTIVE
    account.save()
    status, result = rent_json(capsys)
    assert (status, result["error"]) == (1, "ACCOUNT_INACTIVE") and simulator.requests() == []


@pytest.mark.parametrize(
    "argv",
    [
        ["--account", "Nobody", "--service", "tg", "--country", "1"],
        ["--account", "Sandbox", "--service", "zz", "--country", "1"],
        ["--account", "Sandbox", "--service", "tg", "--country", "999"],
        ["--account", "Sandbox", "--service", "tg", "--country", "1", "--operator", "mts"],
        ["--account", "Sandbox", "--service", "vk", "--country", "1"],  # switched off in the catalog
        ["--account", "Sandbox", "--service", "tg", "--country", "1", "--hours", "5"],
        ["--account", "Sandbox", "--service", "tg", "--country", "one"],
        ["--account", "Sandbox", "--service", "tg", "--country", "1", "--label", "x" * 201],
    ],
)
def test_unknown_names_are_bad_arguments(simulator, account, catalog, capsys, argv):
    ServiceFactory(code="vk", is_active=False)
    status, out, _ = manage("rent_number", *argv, "--as", "olena", "--json", capsys=capsys)
    assert status == 2 and json.loads(out)["error"] == "BAD_ARGUMENTS"
    assert simulator.requests() == [] and RentAttempt.objects.count() == 0


def test_rent_number_records_the_person_named_as_its_renter(simulator, account, catalog, capsys, renter):
    status, _ = rent_json(capsys)
    assert status == 0 and Rental.objects.get().rented_by == renter
    assert RentAttempt.objects.get().requested_by == renter


@pytest.mark.parametrize(
    ("person", "said"),
    [
        ((), "--as: name the person renting (a username)."),
        (("--as", "nobody"), "--as: Nobody is named nobody."),
        (
            ("--as", "viewer"),
            "--as: viewer may not do this: their role does not give the permission rentals.rent_number.",
        ),
        (("--as", "gone"), "--as: gone is not active staff: only active staff rent, extend or end numbers."),
    ],
)
def test_rent_number_refuses_without_a_person_who_may_rent(simulator, account, catalog, capsys, person, said):
    UserFactory(username="viewer", is_staff=True)
    gone = UserFactory(username="gone", is_staff=True, is_active=False)
    gone.user_permissions.add(Permission.objects.get(codename="rent_number"))
    status, result = rent_json(capsys, person=person)
    assert status == 2 and result == {"ok": False, "error": "BAD_ARGUMENTS", "message": said}
    assert simulator.requests() == [] and RentAttempt.objects.count() == 0
    status, _, err = manage(
        "rent_number", "--account", "Sandbox", "--service", "tg", "--country", "1", *person, capsys=capsys
    )
    assert status == 2 and f"CommandError: {said} (BAD_ARGUMENTS)" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--account", "Sandbox", "--service", "tg"],
        ["--account", "Sandbox", "--service", "tg", "--country"],
    ],
)
def test_malformed_arguments_exit_2_with_usage(simulator, account, catalog, capsys, argv):
    status, _, err = manage("rent_number", *argv, capsys=capsys)
    assert status == 2 and "usage:" in err and "Traceback" not in err
    assert simulator.requests() == []


def test_add_account_reads_the_key_from_the_environment_and_prints_the_state(simulator, capsys, monkeypatch):
    monkeypatch.setenv("SMSONLINE_API_KEY", "sim-banned-ops-key-123")
    status, out, err = manage("add_account", "Ops", "--api-url", simulator.api_url, capsys=capsys)
    account = ProviderAccount.objects.get(name="Ops")
    assert status == 0 and account.state == AccountState.BANNED and account.banned_until is not None
    assert "State: Banned until" in out
    # What happened, worded as everywhere else: the explanation, the token after it.
    assert "Use another account until then. (BANNED)" in out and "(BANNED)." not in out
    assert account.reveal_api_key() == "sim-banned-ops-key-123"
    assert "sim-banned-ops-key-123" not in out + err


@pytest.mark.parametrize(
    ("key", "state", "shown"),
    [
        ("sim-inactive-1", AccountState.INACTIVE, "Inactive"),
        ("sim-no-balance-1", AccountState.NO_BALANCE, "No balance"),
        ("sim-bad-key-1", AccountState.BAD_KEY, "Bad API key"),
        ("fine-key-1234567", AccountState.OK, "OK. Balance: 100.00"),
    ],
)
def test_add_account_stores_the_account_whatever_the_provider_says(simulator, capsys, monkeypatch, key, state, shown):
    monkeypatch.setenv("SMSONLINE_API_KEY", key)
    status, out, _ = manage("add_account", "Ops", "--api-url", simulator.api_url, capsys=capsys)
    assert status == 0 and ProviderAccount.objects.get(name="Ops").state == state
    assert f"State: {shown}" in out and key not in out


def test_add_account_refuses_a_duplicate_and_never_takes_the_key_from_argv(simulator, account, capsys, monkeypatch):
    monkeypatch.setenv("SMSONLINE_API_KEY", "another-key-000000")
    status, _, err = manage("add_account", "Sandbox", capsys=capsys)
    assert status == 2 and "--update-key" in err
    status, _, err = manage("add_account", "Other", "--api-key", "leaky", capsys=capsys)
    assert status == 2 and "unrecognized arguments" in err


def test_add_account_without_a_key_or_terminal_explains_itself():
    env = {k: v for k, v in os.environ.items() if k != "SMSONLINE_API_KEY"}
    env["DATABASE_URL"] = "sqlite:///:memory:"
    result = subprocess.run(
        [sys.executable, "manage.py", "add_account", "X"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert result.returncode == 2 and "Set SMSONLINE_API_KEY" in result.stderr and "Traceback" not in result.stderr


def test_rotate_api_keys_encrypts_every_key_again_with_the_newest_encryption_key(settings, capsys):
    keys = ["first-key-0123456789", "second-key-0123456789"]
    accounts = [AccountFactory(name=f"Account {n}", api_key=key) for n, key in enumerate(keys)]
    newest = Fernet.generate_key().decode()
    settings.API_KEY_ENCRYPTION_KEYS = [newest, *settings.API_KEY_ENCRYPTION_KEYS]
    status, out, _ = manage("rotate_api_keys", capsys=capsys)
    assert status == 0 and "Re-encrypted 2 API key(s)." in out
    settings.API_KEY_ENCRYPTION_KEYS = [newest]  # the old encryption key dropped: every key still reads
    assert [ProviderAccount.objects.get(pk=account.pk).reveal_api_key() for account in accounts] == keys


def test_rotate_api_keys_changes_no_key_while_one_cannot_be_decrypted(settings, capsys):
    readable = AccountFactory(name="A readable", api_key="readable-key-0123456789")  # rewritten first (by name)
    kept = settings.API_KEY_ENCRYPTION_KEYS
    settings.API_KEY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    AccountFactory(name="B foreign", api_key="foreign-key-0123456789")  # under a key this server lost
    settings.API_KEY_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *kept]
    status, out, err = manage("rotate_api_keys", capsys=capsys)
    assert status == 1 and "The key of account 'B foreign' cannot be decrypted; nothing changed." in err
    assert "Traceback" not in err and "key-0123456789" not in out + err
    assert ProviderAccount.objects.get(pk=readable.pk).api_key_ciphertext == readable.api_key_ciphertext
