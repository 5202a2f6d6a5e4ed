"""Where an API key may be sent: only to the scheme, host and port it was entered for, over https in
production, and never to a loopback, private, link-local or metadata address that is not allowed."""

import pytest
from django.urls import reverse

from rentals import services
from rentals.models import AccountState, ErrorEvent, ProviderAccount
from rentals.provider import errors
from rentals.simulator.server import start_in_thread

from ..commands.test_commands import manage
from ..conftest import SANDBOX_KEY, SimulatorControl

pytestmark = pytest.mark.django_db(transaction=True)

FORMSETS = {"events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0"}


@pytest.fixture
def elsewhere():
    """A second server on the same host, another port: where a moved URL would send the key."""
    server = start_in_thread()
    yield SimulatorControl(server)
    server.shutdown()
    server.server_close()


def save_account(client, account, api_url, api_key=""):
    url = reverse("admin:rentals_provideraccount_change", args=[account.pk])
    return client.post(url, {"name": account.name, "api_url": api_url, "api_key": api_key, **FORMSETS})


def test_another_port_or_scheme_on_the_same_host_needs_the_key_again(boss, account, elsewhere):
    https_twin = account.api_url.replace("http://", "https://")
    for moved in (elsewhere.api_url, https_twin):
        response = save_account(boss, account, moved)
        assert response.status_code == 200 and "Enter the API key again" in response.content.decode()
        account.refresh_from_db()
        assert account.api_url != moved
    assert save_account(boss, account, elsewhere.api_url, api_key=SANDBOX_KEY).status_code == 302
    services.account_check_balance(account=ProviderAccount.objects.get(pk=account.pk))
    assert len(elsewhere.requests("getBalance")) == 1  # the key now goes there, as its owner said


def test_a_url_moved_without_the_key_sends_nothing_there(account, simulator, elsewhere):
    ProviderAccount.objects.filter(pk=account.pk).update(api_url=elsewhere.api_url)  # past the form and the CLI
    outcome = services.account_check_balance(account=ProviderAccount.objects.get(pk=account.pk))
    assert isinstance(outcome.error, errors.KeyNotForThisUrl)
    assert elsewhere.requests() == [] and simulator.requests() == []
    account.refresh_from_db()
    assert account.state == AccountState.BAD_KEY and account.last_error_token == "API_KEY_NOT_FOR_URL"


@pytest.mark.parametrize(
    "api_url",
    [
        "http://{loopback}/stubs/handler_api.php",
        "http://localhost:{port}/stubs/handler_api.php",  # refused as resolved, not only as written
        "http://[::1]:{port}/stubs/handler_api.php",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/stubs/handler_api.php",
        "http://192.168.0.10/stubs/handler_api.php",
        "http://[::ffff:127.0.0.1]:{port}/stubs/handler_api.php",
        "http://0.0.0.0:{port}/stubs/handler_api.php",
        "http://224.0.0.251/stubs/handler_api.php",  # multicast, which Python calls global
        "http://[ff02::1]/stubs/handler_api.php",
    ],
)
def test_private_addresses_are_refused_unless_allowed(boss, account, simulator, settings, api_url):
    settings.SMSONLINE_ALLOWED_HOSTS = []
    port = simulator.api_url.split(":")[2].split("/")[0]
    api_url = api_url.format(loopback=f"127.0.0.1:{port}", port=port)
    response = save_account(boss, account, api_url, api_key=SANDBOX_KEY)
    assert response.status_code == 200 and "does not send API keys to this URL" in response.content.decode()
    account.refresh_from_db()
    assert account.api_url == simulator.api_url


@pytest.mark.parametrize("extra", ["?api_key=planted-key-0123", "?action=getBalance", "#x"])
def test_a_url_carrying_a_query_or_a_user_is_refused(boss, account, simulator, capsys, monkeypatch, extra):
    """The family's docs write the key in the URL's query: there it would be stored and shown in clear."""
    for url in (simulator.api_url + extra, simulator.api_url.replace("http://", "http://planted-key-0123@")):
        response = save_account(boss, account, url, api_key=SANDBOX_KEY)
        assert response.status_code == 200 and "the API key goes in its own field" in response.content.decode()
    account.refresh_from_db()
    assert account.api_url == simulator.api_url
    assert not account.history.filter(api_url__contains="planted").exists()
    monkeypatch.setenv("SMSONLINE_API_KEY", "another-key-000000")
    status, _, err = manage("add_account", "Keyed", "--api-url", simulator.api_url + extra, capsys=capsys)
    assert status == 2 and "its own field" in err and not ProviderAccount.objects.filter(name="Keyed").exists()


def test_an_allowed_host_may_resolve_to_loopback(boss, account, simulator, settings):
    settings.SMSONLINE_ALLOWED_HOSTS = ["LOCALHOST"]
    moved = simulator.api_url.replace("127.0.0.1", "localhost")
    assert save_account(boss, account, moved, api_key=SANDBOX_KEY).status_code == 302


def test_addresses_are_checked_again_before_sending(account, simulator, settings):
    settings.SMSONLINE_ALLOWED_HOSTS = []  # the host was allowed when the URL was saved; no longer
    refused = services.account_check_balance(account=account)
    assert isinstance(refused.error, errors.DestinationRefused)
    assert simulator.requests() == [] and "127.0.0.1" in refused.error.detail
    assert ErrorEvent.objects.get().token == "API_URL_REFUSED"


def test_production_sends_keys_over_https_only(boss, account, simulator, settings, capsys, monkeypatch):
    settings.SMSONLINE_REQUIRE_HTTPS, settings.SMSONLINE_ALLOWED_HOSTS = True, []
    response = save_account(boss, account, simulator.api_url, api_key=SANDBOX_KEY)
    assert response.status_code == 200 and "only over https://" in response.content.decode()
    assert "SMSONLINE_ALLOWED_HOSTS" in response.content.decode()  # how to reach the simulator anyway
    assert isinstance(services.account_check_balance(account=account).error, errors.DestinationRefused)
    assert simulator.requests() == []
    monkeypatch.setenv("SMSONLINE_API_KEY", "another-key-000000")
    status, _, err = manage("add_account", "Plain", "--api-url", simulator.api_url, capsys=capsys)
    assert status == 2 and "only over https://" in err and not ProviderAccount.objects.filter(name="Plain").exists()


def test_production_sends_plain_http_only_to_an_allowed_host_on_this_machine(boss, account, simulator, settings):
    settings.SMSONLINE_REQUIRE_HTTPS = True
    settings.SMSONLINE_ALLOWED_HOSTS = ["127.0.0.1", "10.1.2.3"]  # a local gateway; a private server
    assert save_account(boss, account, simulator.api_url, api_key=SANDBOX_KEY).status_code == 302
    assert services.account_check_balance(account=ProviderAccount.objects.get(pk=account.pk)).balance > 0
    response = save_account(boss, account, "http://10.1.2.3/stubs/handler_api.php", api_key=SANDBOX_KEY)
    assert response.status_code == 200 and "only to this machine" in response.content.decode()


def test_the_command_line_moves_an_account_only_with_its_key(account, elsewhere, capsys, monkeypatch):
    monkeypatch.setenv("SMSONLINE_API_KEY", "the-key-for-elsewhere-0")
    status, out, _ = manage("add_account", account.name, "--update-key", "--api-url", elsewhere.api_url, capsys=capsys)
    account.refresh_from_db()
    assert status == 0 and account.api_url == elsewhere.api_url and "State: OK" in out
    assert len(elsewhere.requests("getBalance")) == 1


@pytest.mark.parametrize(
    ("body", "planted"),
    [
        ("Your key expired: log in again at http://phish.example/login to keep your numbers", "phish"),
        ("ERROR_SQL: visit http://phish.example/ and paste your API key", "phish"),
        ('{"status": "error", "message": "NO_NUMBERS", "errorMsg": "buy them at phish.example"}', "phish"),
        ("NO_NUMBERS:" + "x" * 400, "x" * 101),
    ],
)
def test_what_viewers_read_of_an_error_is_the_token_and_a_short_provider_detail(account, simulator, body, planted):
    simulator.force(body=body, action="getBalance")
    assert not services.account_check_balance(account=account).ok
    account.refresh_from_db()
    event = ErrorEvent.objects.get()
    assert planted not in event.detail and planted not in account.last_error_detail
    assert len(event.detail) <= 120
