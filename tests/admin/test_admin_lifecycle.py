"""Finish, cancel, extend and "Check for SMS now" from a rental's admin page, against the simulator."""

import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.db import transaction
from django.test import Client
from django.urls import reverse

from rentals import services
from rentals.models import AccountState, AttemptState, Rental, RentalExtension, RentalReminder, RentalStatus, SmsMessage
from rentals.reasons import reason_words

from ..conftest import SANDBOX_KEY
from .test_admin_rent import page_text

pytestmark = pytest.mark.django_db(transaction=True)


def url(name, rental):
    return reverse(f"admin:rentals_rental_{name}", args=[rental.pk])


def test_the_page_offers_each_action_with_the_cancel_time_left(boss, rental):
    html = boss.get(url("change", rental)).content.decode()
    for button in ("check-sms-button", "extend-button", "finish-button", "cancel-button"):
        assert f'id="{button}"' in html
    assert re.search(r"Cancel with refund \((19|20) min left\)", html)


def test_check_for_sms_now(boss, simulator, rental):
    simulator._post_json("sms", {"rent_id": int(rental.provider_rent_id), "text": "Code 3141", "webhook": False})
    response = boss.post(url("check_sms", rental), follow=True)
    assert "1 new SMS." in page_text(response) and SmsMessage.objects.get().code == "3141"
    assert "Code 3141" in page_text(response)  # the SMS inline


def test_finish_after_confirmation(boss, simulator, rental):
    confirm = boss.get(url("finish", rental))
    assert "Nothing is refunded" in page_text(confirm) and simulator.requests("setRentStatus") == []
    response = boss.post(url("finish", rental), follow=True)
    rental.refresh_from_db()
    assert rental.status == RentalStatus.FINISHED and "finished" in page_text(response)
    assert simulator.requests("setRentStatus")[0]["status"] == "1"


def test_cancel_inside_the_window_refunds(boss, simulator, rental):
    assert "min left" in page_text(boss.get(url("cancel", rental)))
    boss.post(url("cancel", rental))
    rental.refresh_from_db()
    assert rental.status == RentalStatus.CANCELLED
    assert simulator.requests("setRentStatus")[0]["status"] == "2"


def test_cancel_after_the_window_is_refused_without_asking_the_provider(boss, simulator, rental):
    Rental.objects.filter(pk=rental.pk).update(created_at=rental.created_at - timedelta(minutes=21))
    html = boss.get(url("change", rental)).content.decode()
    assert 'id="cancel-button"' not in html and 'id="finish-button"' in html
    response = boss.post(url("cancel", rental), follow=True)
    assert "20-minute cancel window has passed" in page_text(response) and simulator.requests("setRentStatus") == []


def test_cant_cancel_and_already_finished_from_the_provider(boss, simulator, rental):
    simulator.force(token="CANT_CANCEL")
    response = boss.post(url("cancel", rental), follow=True)
    assert "CANT_CANCEL" in page_text(response)
    rental.refresh_from_db()
    assert rental.status == RentalStatus.ACTIVE
    simulator.force(token="ALREADY_FINISH")
    boss.post(url("finish", rental))
    rental.refresh_from_db()
    assert rental.status == RentalStatus.FINISHED


def test_extend_shows_the_price_first_then_extends_once(boss, simulator, rental):
    page = boss.get(url("extend", rental) + "?hours=72")
    assert "Price: <strong>2.20 USD</strong> for 72 hours" in page_text(page)
    assert simulator.requests("continueRentNumber") == []
    nonce = re.search(r'name="nonce" value="([^"]+)"', page.content.decode()).group(1)
    RentalReminder.objects.create(rental=rental, threshold_hours=24, claimed_at=rental.created_at)
    old_end = rental.end_date
    form = {"hours": "72", "nonce": nonce, "price": "2.2000"}
    boss.post(url("extend", rental), form)
    boss.post(url("extend", rental), form)  # the same confirmation again
    rental.refresh_from_db()
    assert rental.end_date == old_end + timedelta(hours=72) and rental.hours == 96
    assert len(simulator.requests("continueRentNumber")) == 1 and RentalExtension.objects.count() == 1
    assert not RentalReminder.objects.filter(rental=rental).exists()  # the new end date gets new reminders


def test_a_confirmation_left_open_while_a_colleague_extended_extends_nothing(boss, simulator, rental):
    page = boss.get(url("extend", rental) + "?hours=72").content.decode()
    shown = ("nonce", "price", "end_date")
    form = {name: re.search(rf'name="{name}" value="([^"]*)"', page).group(1) for name in shown}
    services.rental_extend(rental=rental, hours=24, nonce=uuid.uuid4(), requested_by=None, price_quoted=None)
    response = boss.post(url("extend", rental), {**form, "hours": "72"}, follow=True)
    assert "The rental was extended meanwhile; nothing was sent." in page_text(response)
    rental.refresh_from_db()
    assert rental.hours == 48 and len(simulator.requests("continueRentNumber")) == 1


def test_extending_inside_a_transaction_is_refused(simulator, rental):
    """Inside a transaction the extension's row would reach the database only after the money was spent."""
    with transaction.atomic(), pytest.raises(RuntimeError, match="outside a transaction"):
        services.rental_extend(rental=rental, hours=24, nonce=uuid.uuid4(), requested_by=None, price_quoted=None)
    assert RentalExtension.objects.count() == 0 and simulator.requests("continueRentNumber") == []


def test_another_persons_extension_form_sent_again_extends_nothing(boss, simulator, rental):
    page = boss.get(url("extend", rental) + "?hours=72")
    nonce = re.search(r'name="nonce" value="([^"]+)"', page.content.decode()).group(1)
    form = {"hours": "72", "nonce": nonce, "price": "2.2000"}
    boss.post(url("extend", rental), form)
    colleague = User.objects.create_user("colleague", password="pw", is_staff=True)
    colleague.user_permissions.add(*Permission.objects.filter(codename__in=["view_rental", "extend_rental"]))
    client = Client()  # from their own browser
    client.force_login(colleague)
    response = client.post(url("extend", rental), form, follow=True)
    text = page_text(response)
    assert "already sent by another person, so nothing was sent" in text and "extended by 72 h" not in text
    assert len(simulator.requests("continueRentNumber")) == 1 and RentalExtension.objects.count() == 1


def test_an_unknown_extension_that_did_not_happen_is_settled_by_hand_and_the_rental_extends_again(
    client, simulator, rental
):
    """Reconciliation settles an unknown extension only when SMS.online's list shows it; one that never
    happened stays unknown and blocks every further extension until someone checks and says so."""
    operator = User.objects.create_user("operator", password="pw", is_staff=True)
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    for user, codenames in ((operator, ["view_rental", "view_rentalextension", "extend_rental"]),
                            (viewer, ["view_rental", "view_rentalextension"])):  # fmt: skip
        user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(operator)
    simulator.force(action="continueRentNumber", body="<html>Gateway Timeout</html>", status=504,
                    content_type="text/html")  # fmt: skip
    client.post(url("extend", rental), {"hours": "24", "nonce": str(uuid.uuid4()), "price": ""})
    unknown = RentalExtension.objects.get()
    assert unknown.state == AttemptState.UNKNOWN
    services.account_reconcile(account_id=rental.account_id, now=unknown.sent_at + timedelta(minutes=30))
    unknown.refresh_from_db()
    assert unknown.state == AttemptState.UNKNOWN  # the list shows the rent as it was: nothing to settle
    blocked = client.post(url("extend", rental), {"hours": "24", "nonce": str(uuid.uuid4()), "price": ""}, follow=True)
    assert "mark it so under Extensions" in page_text(blocked)
    rental_page = client.get(url("change", rental)).content.decode()
    settle = re.search(r'<a class="unknown-extension" href="([^"]+)"', rental_page).group(1).replace("&amp;", "&")
    listed = client.get(settle).content.decode()  # the Extensions list, showing this one alone
    assert re.findall(r'name="_selected_action" value="(\d+)"', listed) == [str(unknown.pk)]
    changelist = reverse("admin:rentals_rentalextension_changelist")
    client.force_login(viewer)
    client.post(changelist, {"action": "mark_not_charged", "_selected_action": [unknown.pk]})
    unknown.refresh_from_db()
    assert unknown.state == AttemptState.UNKNOWN  # not without the extend permission
    client.force_login(operator)
    marked = client.post(changelist, {"action": "mark_not_charged", "_selected_action": [unknown.pk]}, follow=True)
    unknown.refresh_from_db()
    assert unknown.state == AttemptState.FAILED and "not charged" in unknown.error_detail
    assert "1 unknown extension(s) marked as not charged" in page_text(marked)
    old_end = Rental.objects.get(pk=rental.pk).end_date
    client.post(url("extend", rental), {"hours": "24", "nonce": str(uuid.uuid4()), "price": ""})
    assert Rental.objects.get(pk=rental.pk).end_date == old_end + timedelta(hours=24)


def test_an_expired_rent_extended_under_a_new_id_is_followed(boss, simulator, rental):
    simulator._post_json("advance", {"seconds": 25 * 3600})
    old_id = rental.provider_rent_id
    boss.post(url("extend", rental), {"hours": "24", "nonce": str(uuid.uuid4()), "price": ""})
    rental.refresh_from_db()
    assert rental.provider_rent_id != old_id and rental.status == RentalStatus.ACTIVE
    extension = RentalExtension.objects.get()
    assert (extension.old_rent_id, extension.new_rent_id, extension.state) == (old_id, rental.provider_rent_id,
                                                                                AttemptState.SUCCEEDED)  # fmt: skip
    simulator._post_json("sms", {"rent_id": int(rental.provider_rent_id), "text": "Code 2718", "webhook": False})
    assert services.rental_poll(rental=rental).new_messages == 1


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        ("cancel", "already ended"),
        ("max", "The most it can still be extended by is"),
        ("poor", "has no money left"),
    ],
)
def test_extension_errors_are_explained(boss, simulator, rental, setup, words):
    hours = "2160"
    if setup == "cancel":
        services.rental_cancel(rental=rental, now=rental.created_at, requested_by=None)
    elif setup == "max":
        boss.post(url("extend", rental), {"hours": "2160", "nonce": str(uuid.uuid4()), "price": ""})
        boss.post(url("extend", rental), {"hours": "2160", "nonce": str(uuid.uuid4()), "price": ""})
    else:
        simulator.set_account(SANDBOX_KEY, balance="0.10")
    response = boss.post(url("extend", rental), {"hours": hours, "nonce": str(uuid.uuid4()), "price": ""}, follow=True)
    assert words in page_text(response)
    if setup == "poor":
        rental.account.refresh_from_db()
        assert rental.account.state == AccountState.NO_BALANCE


def test_without_the_permissions_there_are_no_buttons_and_posts_do_nothing(client, simulator, rental):
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_rental"))
    client.force_login(viewer)
    html = client.get(url("change", rental)).content.decode()
    assert "finish-button" not in html and "extend-button" not in html and "cancel-button" not in html
    for action in ("finish", "cancel", "extend"):
        assert client.post(url(action, rental), {"hours": "24", "nonce": str(uuid.uuid4())}).status_code == 403
    assert simulator.requests("setRentStatus") == [] and simulator.requests("continueRentNumber") == []


def test_every_staff_action_leaves_a_history_row_with_who_and_why(boss, simulator, catalog, account):
    boss.post(reverse("admin:rentals_rental_rent"), {
        "account": account.pk, "service": catalog["telegram"].pk, "country": catalog["ukraine"].pk, "hours": 24,
        "nonce": str(uuid.uuid4()), "label": "Ads",
    })  # fmt: skip
    rental = Rental.objects.get()
    boss.post(url("extend", rental), {"hours": "24", "nonce": str(uuid.uuid4()), "price": ""})
    boss.post(url("cancel", rental))
    rows = list(rental.history.order_by("history_date").values_list("history_type", "history_change_reason",
                                                                     "history_user__username"))  # fmt: skip
    assert rows[0][0] == "+" and rows[0][2] == "boss"  # rented
    rows = [(kind, reason_words(why), who) for kind, why, who in rows]
    assert rows[1:] == [("~", "extended by 24 h", "boss"), ("~", "cancelled on SMS.online", "boss")]


def test_a_rental_page_lists_its_newest_sms_once_with_their_forwarding_and_links_to_them_all(boss):
    from django.utils import timezone

    from rentals.models import ForwardState, SmsForward
    from rentals.selectors import LIVE_SMS_SHOWN

    from ..factories import RentalFactory

    rental = RentalFactory()
    now = timezone.now()
    SmsMessage.objects.bulk_create(
        SmsMessage(rental=rental, sender="Bank", text=f"Your code is {n:04d}", received_at=now - timedelta(minutes=n),
                   dedupe_key=str(n), source="webhook")
        for n in range(LIVE_SMS_SHOWN + 5)
    )  # fmt: skip
    newest = SmsMessage.objects.get(text="Your code is 0000")
    SmsForward.objects.create(sms=newest, state=ForwardState.SENT, destinations="tgram://…/ops", sent_at=now)
    page = page_text(boss.get(url("change", rental)))
    assert page.count('class="live-sms-row"') == LIVE_SMS_SHOWN and page.count(">Your code is 0000<") == 1  # one list
    assert f"Your code is {LIVE_SMS_SHOWN - 1:04d}" in page
    assert f"Your code is {LIVE_SMS_SHOWN:04d}" not in page  # older: on the SMS list
    assert "to tgram://…/ops at" in page and "not forwarded (no chat chosen)" in page
    assert "All SMS of this rental" in page
    every_sms = page_text(boss.get(reverse("admin:rentals_smsmessage_changelist"), {"rental__id__exact": rental.pk}))
    assert f"Your code is {LIVE_SMS_SHOWN + 4:04d}" in every_sms and "to tgram://…/ops at" in every_sms
