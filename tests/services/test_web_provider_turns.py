"""No web thread waits on SMS.online's pacing or for a free slot: a request from the admin or the API that
needs SMS.online gets its turn at once or is told at once when to try again, with nothing recorded or
sent, and a webhook still finds a thread. A replayed Idempotency-Key waits a few seconds at most."""

import re
import threading
import uuid
from datetime import timedelta

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from rentals import services
from rentals.models import AttemptState, ProviderAccount, RentalExtension, RentAttempt, SmsMessage
from rentals.services.pacing import AccountPacing
from rentals.services.turns import ProviderCallSlot

from ..admin.test_admin_rent import RENT_URL, page_text, rent_form
from ..api.test_api import RENT, Script, person
from ..conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def webhooked(simulator, account, catalog, settings, live_server, eager_tasks):
    """A rental whose webhooks reach this test's live server, where the API is served too."""
    settings.PUBLIC_BASE_URL = live_server.url
    rental = services.rental_rent(
        account=account, service=catalog["telegram"], country=catalog["ukraine"], operator="any", hours=24,
        webhook=True, nonce=uuid.uuid4(), requested_by=None, via="cli",
    ).rental  # fmt: skip
    return rental, live_server.url


def book_the_account_ahead(account, seconds: float):
    """The account's polling has booked its moments for ``seconds`` to come (many rentals awaiting codes)."""
    booked = timezone.now() + timedelta(seconds=seconds)
    ProviderAccount.objects.filter(pk=account.pk).update(next_request_at=booked)
    return booked


def url(name, rental):
    return reverse(f"admin:rentals_rental_{name}", args=[rental.pk])


def test_a_web_turn_is_booked_only_when_it_comes_at_once(account):
    pacing = AccountPacing(account.pk, per_second=4)
    far = book_the_account_ahead(account, 30)
    assert 25 < pacing.take_turn(within=1.0) <= 30
    assert ProviderAccount.objects.get(pk=account.pk).next_request_at == far  # nothing booked
    near = book_the_account_ahead(account, 0.3)
    assert pacing.take_turn(within=1.0) == 0.0
    assert ProviderAccount.objects.get(pk=account.pk).next_request_at == near + timedelta(seconds=0.25)


def test_a_quote_while_the_account_is_booked_ahead_is_answered_429_at_once(client, simulator, account, rental):
    far = book_the_account_ahead(account, 30)
    script = Script(client, person("Operator"))
    busy = script.get(f"rentals/{rental.pk}/extension-price", hours=24)
    body = busy.json()
    assert busy.status_code == 429 and body["error"] == "PROVIDER_BUSY"
    assert 25 < int(busy["Retry-After"]) <= 30 and body["retry_after"] == int(busy["Retry-After"])
    assert f"SMS.online is busy for this account; try again in {busy['Retry-After']} seconds." in body["message"]
    assert simulator.requests("continueRentInfo") == []
    assert ProviderAccount.objects.get(pk=account.pk).next_request_at == far  # no moment taken from the polls


def test_the_admins_extension_page_says_when_to_ask_for_the_price_again(boss, simulator, account, rental):
    book_the_account_ahead(account, 30)
    page = boss.get(url("extend", rental) + "?hours=72")
    text = page_text(page)
    assert page.status_code == 200 and "Extend +" in text and 'name="nonce"' in page.content.decode()
    assert re.search(r"SMS\.online is busy for this account; try again in (2[6-9]|30) seconds\.", text)
    ukrainian = page_text(boss.get(url("extend", rental) + "?hours=72", HTTP_ACCEPT_LANGUAGE="uk"))
    assert re.search(r"SMS\.online зайнятий для цього акаунта; спробуйте ще раз через (2[6-9]|30) секунд", ukrainian)
    assert simulator.requests("continueRentInfo") == []


def test_check_for_sms_now_takes_the_accounts_pace(boss, simulator, account, rental):
    simulator._post_json("sms", {"rent_id": int(rental.provider_rent_id), "text": "Code 2718", "webhook": False})
    book_the_account_ahead(account, 30)
    busy = boss.post(url("check_sms", rental), follow=True)
    assert re.search(r"SMS\.online is busy for this account; try again in \d+ seconds\.", page_text(busy))
    assert simulator.requests("getRentStatus") == [] and not SmsMessage.objects.exists()
    ProviderAccount.objects.filter(pk=account.pk).update(next_request_at=None)
    checked = boss.post(url("check_sms", rental), follow=True)
    assert "1 new SMS." in page_text(checked) and SmsMessage.objects.get().code == "2718"
    # Its request took a moment of the account's pace, as the polls do.
    assert ProviderAccount.objects.get(pk=account.pk).next_request_at is not None


def test_with_every_slot_inside_a_slow_call_the_web_is_answered_at_once_and_webhooks_still_land(
    webhooked, simulator, settings, boss, catalog, account
):
    rental, base_url = webhooked
    script = Script(None, person("Operator"))
    settings.RENTDESK_WEB_PROVIDER_CALLS = 1
    auth = {"Authorization": f"Bearer {script.token}"}
    simulator.force(action="continueRentInfo", delay=8)  # SMS.online answering slowly
    holder = threading.Thread(target=lambda: requests.get(
        f"{base_url}/api/rentals/{rental.pk}/extension-price", params={"hours": 24}, headers=auth, timeout=30
    ))  # fmt: skip
    holder.start()
    try:
        assert wait_until(lambda: simulator.requests("continueRentInfo"), seconds=5)  # the slot is inside the call
        rented = requests.post(f"{base_url}/api/rentals", json=RENT, headers={**auth, "Idempotency-Key": "k1"},
                               timeout=30)  # fmt: skip
        assert (rented.status_code, rented.json()["error"], rented.headers["Retry-After"]) == (
            429,
            "PROVIDER_BUSY",
            "1",
        )
        form = rent_form(account, catalog, label="Shop #7")
        page = boss.post(RENT_URL, form)
        assert "Rentdesk is busy with other requests to SMS.online; try again in 1 second." in page_text(page)
        assert f'value="{form["nonce"]}"' in page.content.decode() and 'value="Shop #7"' in page.content.decode()
        # Nothing recorded, nothing sent: only the fixture's own rent.
        assert RentAttempt.objects.count() == 1 and len(simulator.requests("getRentNumber")) == 1
        sms = {"rent_id": int(rental.provider_rent_id), "text": "Your code 6061", "sender": "Telegram"}
        assert simulator._post_json("sms", sms)["webhook_status"] == 200
        assert SmsMessage.objects.get().code == "6061"
        # What Celery workers run (auto-renew's extension) is not capped by the web's slots.
        renewed = services.rental_extend(rental=rental, hours=24, nonce=uuid.uuid4(), requested_by=None,
                                         price_quoted=None)  # fmt: skip
        assert renewed.ok
    finally:
        holder.join()
    assert requests.post(f"{base_url}/api/rentals", json=RENT, headers={**auth, "Idempotency-Key": "k1"},
                         timeout=30).status_code == 201  # fmt: skip


def test_the_admins_pages_come_back_as_they_were_when_no_slot_is_free(boss, simulator, settings, rental):
    settings.RENTDESK_WEB_PROVIDER_CALLS = 1
    form = {"hours": "72", "nonce": str(uuid.uuid4()), "price": "1.5000", "end_date": rental.end_date.isoformat()}
    with ProviderCallSlot(web=True) as another_request:
        another_request.take()
        extend = boss.post(url("extend", rental), form)
        finish = boss.post(url("finish", rental), follow=True)
    assert "Rentdesk is busy with other requests to SMS.online" in page_text(extend)
    assert (
        f'name="nonce" value="{form["nonce"]}"' in extend.content.decode()
        and 'value="1.5000"' in extend.content.decode()
    )
    assert finish.redirect_chain == [(url("finish", rental), 302)] and "Nothing is refunded" in page_text(finish)
    assert "Rentdesk is busy with other requests to SMS.online" in page_text(finish)
    assert not RentalExtension.objects.exists() and not simulator.requests("setRentStatus")
    extended = boss.post(url("extend", rental), form, follow=True)  # the same confirmation, sent again
    assert "extended by 72 h" in page_text(extended) and RentalExtension.objects.get().nonce == uuid.UUID(form["nonce"])


def test_a_replayed_key_whose_rent_is_still_at_sms_online_is_answered_409_within_seconds(
    simulator, account, catalog, live_server
):
    script = Script(None, person("Operator"))
    headers = {"Authorization": f"Bearer {script.token}", "Idempotency-Key": "slow"}
    simulator.force(action="getRentNumber", delay=8)
    first = []
    sending = threading.Thread(target=lambda: first.append(
        requests.post(f"{live_server.url}/api/rentals", json=RENT, headers=headers, timeout=30)
    ))  # fmt: skip
    sending.start()
    try:
        assert wait_until(lambda: simulator.requests("getRentNumber"), seconds=5)
        again = requests.post(f"{live_server.url}/api/rentals", json=RENT, headers=headers, timeout=30)
        still_pending = RentAttempt.objects.get().state == AttemptState.PENDING
    finally:
        sending.join()
    body = again.json()
    assert (again.status_code, body["state"], body["replayed"], again.headers["Retry-After"]) == (
        409,
        "pending",
        True,
        "3",
    )
    assert "same Idempotency-Key" in body["message"]
    assert still_pending  # answered while the first was still at SMS.online, not after it
    assert first[0].status_code == 201 and len(simulator.requests("getRentNumber")) == 1
    settled = requests.post(f"{live_server.url}/api/rentals", json=RENT, headers=headers, timeout=30)
    assert settled.status_code == 201 and settled.json()["rental"]["id"] == first[0].json()["rental"]["id"]
