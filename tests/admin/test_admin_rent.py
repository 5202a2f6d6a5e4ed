"""The admin "Rent number" flow, by POST, with and without the permission."""

import html
import logging
import re
import uuid

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from rentals.models import AttemptState, ProviderAccount, Rental, RentAttempt

from ..conftest import SANDBOX_KEY

pytestmark = pytest.mark.django_db(transaction=True)

RENT_URL = reverse("admin:rentals_rental_rent")
CHANGELIST_URL = reverse("admin:rentals_rental_changelist")

# What staff read for each of the seed's eleven errors and for an unknown outcome.
PLAIN_WORDS = {
    "BAD_ACTION": "did not recognise the request",
    "BAD_KEY": "rejected the account's API key",
    "ERROR_SQL": "The provider may have charged; it will be checked",
    "BANNED:'2099-5-10 12-34-56'": "banned until 2099-05-10 12:34",
    "ACCOUNT_INACTIVE": "account is not active",
    "BAD_COUNTRY": "does not accept this country",
    "BAD_SERVICE": "does not accept this service",
    "INVALID_TIME": "does not accept this rent time",
    "NO_BALANCE": "has no money left",
    "NO_NUMBERS": "No numbers are available",
    "CHANNELS_LIMIT": "account is blocked",
}


def staff(username: str, *permissions: str) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    for codename in ("view_rental", "view_provideraccount", "view_rentattempt", *permissions):
        user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label="rentals"))
    return user


@pytest.fixture
def operator_client(client):
    client.force_login(staff("operator", "rent_number"))
    return client


@pytest.fixture
def viewer_client(client):
    client.force_login(staff("viewer"))
    return client


def rent_form(account, catalog, **overrides):
    data = {
        "account": account.pk,
        "service": catalog["telegram"].pk,
        "country": catalog["ukraine"].pk,
        "operator": "",
        "hours": 24,
        "webhook": "on",
        "nonce": str(uuid.uuid4()),
    }
    return {**data, **overrides}


def page_text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def test_operator_sees_the_button_and_rents(operator_client, simulator, account, catalog):
    assert 'id="rent-number-button"' in operator_client.get(CHANGELIST_URL).content.decode()
    form_page = operator_client.get(RENT_URL)
    assert form_page.status_code == 200 and 'name="nonce"' in form_page.content.decode()
    response = operator_client.post(RENT_URL, rent_form(account, catalog, operator=catalog["kyivstar"].pk), follow=True)
    rental = Rental.objects.get()
    assert response.redirect_chain[-1][0] == reverse("admin:rentals_rental_change", args=[rental.pk])
    assert f"Rented {rental} until" in page_text(response)
    assert rental.rented_by.username == "operator" and rental.operator == "kyivstar"


def test_the_same_form_posted_twice_rents_once(operator_client, simulator, account, catalog):
    data = rent_form(account, catalog)
    operator_client.post(RENT_URL, data)
    again = operator_client.post(RENT_URL, data, follow=True)
    assert "already carried out" in page_text(again)
    assert len(simulator.requests("getRentNumber")) == 1 and Rental.objects.count() == 1


def test_another_persons_form_sent_again_rents_nothing_and_tells_nothing_of_theirs(
    operator_client, simulator, account, catalog
):
    data = rent_form(account, catalog)
    operator_client.post(RENT_URL, data)
    rented = Rental.objects.get()
    client = Client()  # a copy of the operator's page, sent by someone else from their own browser
    client.force_login(staff("colleague", "rent_number"))
    response = client.post(RENT_URL, data, follow=True)
    text = page_text(response)
    assert "already sent by another person, so nothing was sent" in text
    assert rented.number not in text and "already carried out" not in text
    assert len(simulator.requests("getRentNumber")) == 1 and Rental.objects.count() == 1
    new_nonce = re.search(r'name="nonce" value="([^"]+)"', response.content.decode()).group(1)
    assert new_nonce != data["nonce"]  # a fresh form of their own, filled in as they sent it
    assert client.post(RENT_URL, {**data, "nonce": new_nonce}).status_code == 302
    assert Rental.objects.filter(rented_by__username="colleague").count() == 1


@pytest.mark.parametrize(("token", "words"), PLAIN_WORDS.items())
def test_each_seed_error_is_explained_in_plain_words(operator_client, simulator, account, catalog, token, words):
    simulator.force(token=token, wire="json_message")
    response = operator_client.post(RENT_URL, rent_form(account, catalog), follow=True)
    text = page_text(response)
    assert words in text and token.partition(":")[0] in text, re.findall(r"<ul class=\"messagelist\">.*?</ul>", text)
    # What happened first, in words; SMS.online's token after it, for those who look it up.
    (said,) = [str(message) for message in response.context["messages"]]
    assert not said.startswith(token.partition(":")[0]) and said.endswith(f"({token.partition(':')[0]})"), said
    attempt = RentAttempt.objects.get()
    assert attempt.error_token == token.partition(":")[0]
    attempt_url = reverse("admin:rentals_rentattempt_change", args=[attempt.pk])
    if attempt.state == AttemptState.UNKNOWN:  # maybe charged: its page, not a form ready to rent again
        assert response.redirect_chain == [(attempt_url, 302)] and 'name="nonce"' not in response.content.decode()
        return
    assert response.redirect_chain == [] and f'href="{attempt_url}"' in response.content.decode()
    new_nonce = re.search(r'name="nonce" value="([^"]+)"', response.content.decode()).group(1)
    assert new_nonce != str(attempt.nonce)  # a deliberate retry is a new attempt


def test_an_unknown_outcome_says_the_provider_may_have_charged(operator_client, simulator, account, catalog):
    simulator.force(body="<html>Gateway Timeout</html>", status=504, content_type="text/html")
    response = operator_client.post(RENT_URL, rent_form(account, catalog), follow=True)
    text = page_text(response)
    assert "UNKNOWN_OUTCOME" in text and "the provider may have charged; it will be checked" in text.lower()
    attempt = RentAttempt.objects.get()
    assert attempt.state == AttemptState.UNKNOWN
    assert response.redirect_chain == [(reverse("admin:rentals_rentattempt_change", args=[attempt.pk]), 302)]


def test_the_attempt_is_visible_in_the_admin(operator_client, simulator, account, catalog):
    simulator.force(token="NO_NUMBERS")
    operator_client.post(RENT_URL, rent_form(account, catalog))
    attempt = RentAttempt.objects.get()
    listing = page_text(
        operator_client.get(reverse("admin:rentals_rentattempt_changelist") + "?error_token=NO_NUMBERS")
    )
    assert "NO_NUMBERS" in listing and "Sandbox" in listing
    detail = page_text(operator_client.get(reverse("admin:rentals_rentattempt_change", args=[attempt.pk])))
    assert "No numbers are available" in detail


def test_an_invalid_form_sends_nothing(operator_client, simulator, account, catalog):
    data = rent_form(account, catalog, country=catalog["russia"].pk, operator=catalog["kyivstar"].pk, hours=5)
    response = operator_client.post(RENT_URL, data)
    text = page_text(response)
    assert response.status_code == 200 and "Kyivstar is not an operator in Russia" in text
    assert "Select a valid choice" in text
    assert simulator.requests() == [] and RentAttempt.objects.count() == 0


def test_without_the_permission_there_is_no_button_and_a_crafted_post_rents_nothing(
    viewer_client, simulator, account, catalog
):
    assert "rent-number-button" not in viewer_client.get(CHANGELIST_URL).content.decode()
    assert viewer_client.get(RENT_URL).status_code == 403
    assert viewer_client.post(RENT_URL, rent_form(account, catalog)).status_code == 403
    accounts_page = viewer_client.get(reverse("admin:rentals_provideraccount_changelist")).content.decode()
    assert "rent_with_account" not in accounts_page
    assert simulator.requests() == [] and RentAttempt.objects.count() == 0


def test_a_crafted_account_action_without_the_permission_rents_nothing(viewer_client, simulator, account):
    response = viewer_client.post(
        reverse("admin:rentals_provideraccount_changelist"),
        {"action": "rent_with_account", "_selected_action": [account.pk]},
    )
    assert response.status_code in (200, 302) and RENT_URL not in response.get("Location", "")


def test_the_account_action_opens_the_form_for_that_account(operator_client, simulator, account, catalog):
    response = operator_client.post(
        reverse("admin:rentals_provideraccount_changelist"),
        {"action": "rent_with_account", "_selected_action": [account.pk]},
    )
    assert response.status_code == 302 and response["Location"] == f"{RENT_URL}?account={account.pk}"
    form = operator_client.get(response["Location"]).content.decode()
    assert re.search(rf'<option value="{account.pk}" selected>Sandbox</option>', form)


def test_the_api_key_is_write_only_and_encrypted(client, simulator):
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    add_url = reverse("admin:rentals_provideraccount_add")
    secret = "real-looking-key-4f3a9c2b7d"
    events_formset = {"events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0"}
    response = client.post(add_url, {"name": "Main", "api_url": simulator.api_url, "api_key": secret, **events_formset})
    assert response.status_code == 302
    account = ProviderAccount.objects.get(name="Main")
    assert secret not in account.api_key_ciphertext and account.reveal_api_key() == secret
    change_url = reverse("admin:rentals_provideraccount_change", args=[account.pk])
    for url in (change_url, reverse("admin:rentals_provideraccount_changelist"), add_url):
        assert secret not in client.get(url).content.decode()
    assert "(…2b7d)" in page_text(client.get(change_url))  # only the last four, to tell keys apart
    client.post(change_url, {"name": "Main", "api_url": simulator.api_url, "api_key": "", **events_formset})
    account.refresh_from_db()
    assert account.reveal_api_key() == secret  # an empty field keeps the key


def test_check_balance_action_records_the_balance(client, simulator, account):
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    simulator.set_account(SANDBOX_KEY, balance="42.50")
    response = client.post(
        reverse("admin:rentals_provideraccount_changelist"),
        {"action": "check_balance", "_selected_action": [account.pk]},
        follow=True,
    )
    assert "Sandbox: balance 42.50" in page_text(response)
    account.refresh_from_db()
    assert str(account.balance) == "42.5000" and account.balance_checked_at is not None


def test_the_api_key_reaches_no_attempt_account_page_or_log(operator_client, simulator, account, catalog, caplog):
    caplog.set_level(logging.DEBUG)
    simulator.force(body=f"<html>key {SANDBOX_KEY} rejected</html>", status=500, content_type="text/html")
    pages = [operator_client.post(RENT_URL, rent_form(account, catalog)).content.decode()]
    simulator.force(token=f"BAD_KEY:{SANDBOX_KEY}")
    pages.append(operator_client.post(RENT_URL, rent_form(account, catalog)).content.decode())
    for attempt in RentAttempt.objects.all():
        pages.append(
            operator_client.get(reverse("admin:rentals_rentattempt_change", args=[attempt.pk])).content.decode()
        )
    pages.append(
        operator_client.get(reverse("admin:rentals_provideraccount_change", args=[account.pk])).content.decode()
    )
    account.refresh_from_db()
    stored = [account.last_error_detail, *RentAttempt.objects.values_list("error_detail", flat=True)]
    logged = [record.getMessage() for record in caplog.records]
    assert RentAttempt.objects.count() == 2 and account.last_error_token == "BAD_KEY"
    for text in [*pages, *stored, *logged]:
        assert SANDBOX_KEY not in text


def superuser_client(client):
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    return client


@pytest.mark.parametrize(
    ("new_url", "key", "accepted"),
    [
        ("https://attacker.example/stubs/handler_api.php", "", False),
        ("https://attacker.example/stubs/handler_api.php", "the-same-key-again", True),
        ("{origin}/v2/handler_api.php", "", True),  # same host: no need to enter the key again
    ],
)
def test_sending_the_key_to_another_host_needs_the_key(client, simulator, account, new_url, key, accepted):
    client = superuser_client(client)
    url = reverse("admin:rentals_provideraccount_change", args=[account.pk])
    origin = simulator.api_url.rsplit("/stubs/", 1)[0]
    data = {"name": account.name, "api_url": new_url.format(origin=origin), "api_key": key}
    response = client.post(url, {**data, "events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0"})
    account.refresh_from_db()
    assert (response.status_code == 302) is accepted
    assert (account.api_url == data["api_url"]) is accepted
    if not accepted:
        assert "Enter the API key again" in page_text(response)


def test_a_user_who_may_rent_but_not_view_rentals_stays_on_the_form(client, simulator, account, catalog):
    user = User.objects.create_user("renter", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="rent_number"))
    client.force_login(user)
    response = client.post(RENT_URL, rent_form(account, catalog), follow=True)
    assert response.redirect_chain[-1] == (RENT_URL, 302) and response.status_code == 200
    assert f"Rented {Rental.objects.get()}" in page_text(response)


@pytest.mark.parametrize("nonce", ["", "not-a-uuid"])
def test_a_missing_or_broken_nonce_says_so_and_sends_nothing(operator_client, simulator, account, catalog, nonce):
    response = operator_client.post(RENT_URL, rent_form(account, catalog, nonce=nonce))
    assert "This form had expired" in page_text(response)
    new_nonce = re.search(r'name="nonce" value="([^"]+)"', response.content.decode()).group(1)
    assert uuid.UUID(new_nonce) and simulator.requests() == []


def test_a_resubmission_while_the_first_is_in_flight_offers_no_new_form(operator_client, simulator, account, catalog):
    data = rent_form(account, catalog)
    RentAttempt.objects.create(
        nonce=data["nonce"], account=account, service=catalog["telegram"], country=catalog["ukraine"], hours=24,
        via="admin", requested_by=User.objects.get(username="operator"),
    )  # fmt: skip
    response = operator_client.post(RENT_URL, data, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:rentals_rentattempt_changelist")
    assert "already being carried out" in page_text(response) and simulator.requests() == []


def test_an_unknown_attempt_checked_on_the_provider_can_be_marked_not_charged(client, simulator, account, catalog):
    operator, viewer = staff("operator", "rent_number"), staff("viewer")
    client.force_login(operator)
    simulator.force(body="<html>Gateway Timeout</html>", status=504, content_type="text/html")
    client.post(RENT_URL, rent_form(account, catalog))
    attempt = RentAttempt.objects.get()
    url = reverse("admin:rentals_rentattempt_changelist")
    client.force_login(viewer)
    client.post(url, {"action": "mark_not_charged", "_selected_action": [attempt.pk]})
    attempt.refresh_from_db()
    assert attempt.state == AttemptState.UNKNOWN  # not without the rent permission
    client.force_login(operator)
    response = client.post(url, {"action": "mark_not_charged", "_selected_action": [attempt.pk]}, follow=True)
    attempt.refresh_from_db()
    assert attempt.state == AttemptState.FAILED and "not charged" in attempt.error_detail
    assert "1 unknown attempt(s) marked as not charged" in page_text(response)
