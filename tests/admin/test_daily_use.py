"""What an ops person meets all day: live SMS, a ready install, true figures, nothing ending silently,
clean logs, a readable history."""

import logging
import re
import uuid
from decimal import Decimal

import pytest
import requests
from django.contrib.auth.models import Group, User
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from rentals import services, tasks
from rentals.models import AccountState, Offer, ProviderAccount, Rental, RentalStatus
from rentals.reasons import reason_words

from ..conftest import SANDBOX_KEY
from ..factories import rent_number
from .test_admin_rent import page_text

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def named_boss(client):
    """A superuser with a full name the pages show (Olena Koval), signed in."""
    client.force_login(User.objects.create_superuser("boss", password="pw", first_name="Olena", last_name="Koval"))
    return client


def words(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page_text(response)))


# --- SMS on screen by themselves --------------------------------------------------------------


def test_the_live_views_give_the_newest_sms_with_their_codes(named_boss, simulator, account, catalog):
    rental = rent_number(account, catalog).rental
    url = reverse("admin:rentals_rental_live_sms", args=[rental.pk])
    assert named_boss.get(url).json() == {"active": True, "status": "Active", "messages": []}
    simulator._post_json("sms", {"rent_id": int(rental.provider_rent_id), "text": "Code 4411", "webhook": False})
    services.rental_poll(rental=rental)
    (sms,) = named_boss.get(url).json()["messages"]
    assert sms["code"] == "4411" and sms["text"] == "Code 4411" and re.search(r"\d\d:\d\d:\d\d \w+$", sms["received"])
    listed = named_boss.get(reverse("admin:rentals_rental_live_list"), {"ids": f"{rental.pk},abc,999999"}).json()
    assert list(listed["rentals"]) == [str(rental.pk)] and listed["rentals"][str(rental.pk)]["code"] == "4411"


def test_every_tab_learns_of_the_codes_of_my_rentals_and_of_those_i_have_open(named_boss, simulator, account, catalog):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from rentals.models import ForwardingPreference

    me = User.objects.get(username="boss")
    assigned, rented, opened, others = (rent_number(account, catalog).rental for _ in range(4))
    Rental.objects.filter(pk=assigned.pk).update(assignee=me)
    Rental.objects.filter(pk=rented.pk).update(rented_by=me)
    url = reverse("admin:rentals_rental_live_new_codes")
    start = named_boss.get(url).json()
    assert start["codes"] == [] and start["notify"] is True
    for rental, text in [(assigned, "Code 1111"), (rented, "Code 2222"), (opened, "Code 3333"), (others, "Code 4444")]:
        simulator._post_json("sms", {"rent_id": int(rental.provider_rent_id), "text": text, "webhook": False})
        services.rental_poll(rental=rental)
    ForwardingPreference.objects.create(user=me, desktop_notifications=False)
    with CaptureQueriesContext(connection) as counted:
        found = named_boss.get(url, {"after": start["last"], "open": f"{opened.pk},abc"}).json()
    # The codes of mine and of the rental I have open, not another's; the notifications as I chose.
    assert [(code["code"], code["number"], code["notify"]) for code in found["codes"]] == [
        ("1111", f"{assigned}", False), ("2222", f"{rented}", False),
        ("3333", f"{opened}", False),
    ]  # fmt: skip
    # One query per check, besides the session's and the user's that every admin page makes.
    assert len([query for query in counted.captured_queries if "rentals_" in query["sql"]]) == 1
    assert named_boss.get(url, {"after": found["last"]}).json()["codes"] == []  # each told once
    assert named_boss.get(url, {"after": "²"}).json()["codes"] == []  # a bad id is a fresh start, not a 500


def test_the_live_views_tell_nothing_to_those_who_may_not_read_sms(client, simulator, account, catalog):
    rental = rent_number(account, catalog).rental
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(*Group.objects.get(name="Viewer").permissions.exclude(codename="view_smsmessage"))
    client.force_login(viewer)
    assert client.get(reverse("admin:rentals_rental_live_sms", args=[rental.pk])).status_code == 404
    assert client.get(reverse("admin:rentals_rental_live_list"), {"ids": rental.pk}).status_code == 403
    assert client.get(reverse("admin:rentals_rental_live_new_codes")).status_code == 403
    page = client.get(reverse("admin:rentals_rental_change", args=[rental.pk])).content.decode()
    assert 'id="live-sms"' not in page


# --- a fresh install is ready at once ---------------------------------------------------------


def test_a_new_account_in_the_admin_fetches_its_balance_and_the_catalog_at_once(
    named_boss, simulator, catalog, eager_tasks, settings
):
    settings.SMSONLINE_POLL_RATE = 100
    response = named_boss.post(
        reverse("admin:rentals_provideraccount_add"),
        {"name": "Fresh", "api_url": simulator.api_url, "api_key": SANDBOX_KEY, "low_balance_threshold": ""},
    )
    assert response.status_code == 302, words(response)[-1500:]
    account = ProviderAccount.objects.get(name="Fresh")
    assert account.balance == Decimal("100.0000") and account.balance_checked_at is not None
    assert Offer.objects.filter(country=catalog["ukraine"], service=catalog["telegram"], hours=24).exists()


def test_a_starting_worker_refreshes_only_what_is_stale(simulator, account, catalog, eager_tasks, settings):
    settings.SMSONLINE_POLL_RATE = 100
    assert tasks.refresh_stale_provider_data() == 2  # the catalog and the account's balance
    assert Offer.objects.exists()
    account.refresh_from_db()
    assert account.balance_checked_at is not None
    requests_so_far = len(simulator.requests())
    assert tasks.refresh_stale_provider_data() == 0 and len(simulator.requests()) == requests_so_far


def test_the_rent_form_says_when_its_price_was_read(named_boss, simulator, account, catalog, settings):
    settings.SMSONLINE_POLL_RATE = 100
    services.catalog_sync(now=timezone.now())
    page = named_boss.get(reverse("admin:rentals_rental_rent")).content.decode()
    assert re.search(r'"checked": "\d{4}-\d\d-\d\d \d\d:\d\d UTC"', page)


# --- correct figures --------------------------------------------------------------------------


def test_a_rentals_cost_counts_its_extensions_and_its_refund(named_boss, simulator, account, catalog):
    rental = rent_number(account, catalog).rental
    services.rental_extend(rental=rental, hours=72, nonce=uuid.uuid4(), requested_by=None, price_quoted=None)
    listed = Rental.objects.with_paid().get(pk=rental.pk)
    assert listed.paid == Decimal("0.9000") + Decimal("2.2000")  # the rent and its extension
    assert "Cost (USD): 3.10" in words(named_boss.get(reverse("admin:rentals_rental_change", args=[rental.pk])))
    assert services.rental_cancel(rental=rental, now=timezone.now(), requested_by=None).ok
    assert Rental.objects.with_paid().get(pk=rental.pk).paid == 0
    # The costs page agrees with the provider's balance: the cancel refunded the rent and its extension.
    balance = requests.get(simulator.api_url, params={"api_key": SANDBOX_KEY, "action": "getBalance"}, timeout=5)
    assert balance.text == "ACCESS_BALANCE:100.00"
    assert "Nothing paid in the last 12 months" in words(named_boss.get(reverse("admin:rentals_rental_costs")))


# --- nothing ends silently --------------------------------------------------------------------


def test_a_rental_the_provider_revoked_early_is_recorded_announced_and_shown(named_boss, simulator, account, catalog):
    owner = User.objects.create_user("taras", email="taras@example.test")
    rental = rent_number(account, catalog, requested_by=owner).rental
    simulator._post_json("revoke", {"rent_id": int(rental.provider_rent_id)})
    services.rental_poll(rental=rental)
    services.rental_poll(rental=Rental.objects.get(pk=rental.pk))  # a second look announces nothing more
    rental.refresh_from_db()
    assert rental.status == RentalStatus.REVOKED and rental.ended_by_provider
    assert (
        reason_words(rental.history.first().history_change_reason) == "revoked on SMS.online's side before its end date"
    )
    (alert,) = mail.outbox
    assert alert.subject == f"[Rentdesk] SMS.online took back {rental} before its end date"
    assert "taras@example.test" in alert.to
    dashboard = words(named_boss.get(reverse("admin:index")))
    assert "Ended by SMS.online before their end date in the last 24 hours:" in dashboard
    assert f"{rental}" in dashboard


# --- clean logs -------------------------------------------------------------------------------


def test_reconciling_a_banned_account_logs_one_line_not_a_traceback(simulator, account, caplog):
    simulator.set_account(SANDBOX_KEY, banned_until="2099-01-01T00:00:00")
    with caplog.at_level(logging.INFO):
        assert tasks.reconcile_account(account.pk) == 0
    account.refresh_from_db()
    assert account.state == AccountState.BANNED
    assert not [record for record in caplog.records if record.exc_info]
    assert any("reconciliation of account" in record.getMessage() for record in caplog.records)


def test_tasks_for_a_deleted_account_or_rental_move_on(simulator, account, catalog, caplog):
    rental = rent_number(account, catalog).rental
    rental_id, account_id = rental.pk, account.pk
    from rentals.models import RentAttempt

    RentAttempt.objects.all().delete()
    Rental.objects.all().delete()
    ProviderAccount.objects.all().delete()
    with caplog.at_level(logging.INFO):
        tasks.reconcile_account(account_id)
        tasks.check_account_balance(account_id)
        tasks.auto_renew_rental(rental_id)
        tasks.poll_account_sms(account_id, [rental_id], timezone.now().isoformat())
    assert not [record for record in caplog.records if record.exc_info]


# --- a history people can read ----------------------------------------------------------------


def test_history_names_people_and_says_values_in_words(named_boss, simulator, account, catalog):
    rental = rent_number(account, catalog).rental
    named_boss.post(reverse("admin:rentals_rental_changelist"), {"action": "claim", "_selected_action": [rental.pk]})
    page = words(named_boss.get(reverse("admin:rentals_rental_history", args=[rental.pk])))
    assert "Assignee: — → Olena Koval" in page and "pk=None" not in page
    assert "Olena Koval claimed" in page
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC Rentdesk \(automatic\) Created", page)
