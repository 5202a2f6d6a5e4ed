"""Rentdesk against what the real service and its clones send, not only what our simulator sends by default.

Each variant is set on the simulator through its control plane (``dialect``, ``force``), so the client,
the services and the admin meet the same bytes the family's members write.
"""

import email.utils
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from rentals import selectors, services
from rentals.models import AttemptState, ErrorEvent, ProviderAccount, Rental, RentalStatus, RentAttempt
from rentals.provider import errors
from rentals.reasons import reason_words
from rentals.wording.attention import attention_words
from rentals.wording.pages import describe

from ..admin.test_admin_rent import page_text
from ..conftest import SANDBOX_KEY
from ..factories import rent_number
from .test_provider_client import make_client

pytestmark = pytest.mark.django_db(transaction=True)

# The two forms a rent action's own error takes in the family: the JSON envelope (the default) and text.
RENT_ERROR_FORMS = ["json_message", "text"]


@pytest.fixture(params=RENT_ERROR_FORMS)
def rent_errors(request, simulator):
    simulator.dialect(rent_errors=request.param)
    return request.param


# --- the extension price by the family's names ------------------------------------------------


@pytest.mark.parametrize(
    ("unknown", "asked"),
    [
        ([], ["continueRentInfo"]),
        (["getContinueRentPriceNumber"], ["continueRentInfo"]),
        (["continueRentInfo"], ["continueRentInfo", "getContinueRentPriceNumber"]),
    ],
)
def test_the_extend_page_gets_a_price_from_a_provider_that_knows_one_name(
    boss, simulator, rental, rent_errors, unknown, asked
):
    simulator.dialect(unknown_actions=unknown)
    page = boss.get(reverse("admin:rentals_rental_extend", args=[rental.pk]) + "?hours=72")
    assert "Price: <strong>2.20 USD</strong> for 72 hours" in page_text(page)
    price_requests = [
        r for r in simulator.requests() if r["action"] in ("continueRentInfo", "getContinueRentPriceNumber")
    ]
    assert [r["action"] for r in price_requests] == asked
    if "getContinueRentPriceNumber" in asked:
        # The older name reads rent_time, or time in some members: both, as on every rent action.
        assert (price_requests[-1]["rent_time"], price_requests[-1]["time"]) == ("72", "72")
    else:
        assert price_requests[0]["hours"] == "72"


def test_the_fallback_costs_one_request_once_per_account(simulator, rental):
    simulator.dialect(unknown_actions=["continueRentInfo"])
    for hours in (4, 24, 72):
        quote = services.rental_extension_quote(rental=rental, hours=hours)
        assert quote.ok and quote.price is not None
    assert len(simulator.requests("continueRentInfo")) == 1
    assert len(simulator.requests("getContinueRentPriceNumber")) == 3
    account = ProviderAccount.objects.get(pk=rental.account_id)
    assert account.provider_actions == {"extension_price": "getContinueRentPriceNumber"}


def test_a_provider_that_knows_neither_name_is_explained(simulator, rental):
    simulator.dialect(unknown_actions=["continueRentInfo", "getContinueRentPriceNumber"])
    quote = services.rental_extension_quote(rental=rental, hours=4)
    assert quote.price is None and "did not recognise the request" in describe(quote)


@pytest.mark.parametrize("unknown", [["continueRentInfo"], ["getContinueRentPriceNumber"]])
def test_auto_renew_gets_its_price_from_either_name(simulator, account, catalog, unknown):
    rental = rent_number(account, catalog).rental
    Rental.objects.filter(pk=rental.pk).update(
        auto_renew=True, auto_renew_hours=72, auto_renew_before_hours=25, auto_renew_max_price=Decimal("3.00")
    )
    simulator.dialect(unknown_actions=unknown)
    assert services.rental_auto_renew(rental_id=rental.pk).facts["renewal"] == "renewed"
    assert len(simulator.requests("continueRentNumber")) == 1 and mail.outbox == []


# --- HTTP 429 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["", "Too Many Requests", "<html>429</html>", '{"status":"error","message":"ERROR_SQL"}']
)
def test_a_429_on_get_rent_number_is_a_failed_attempt_after_one_request(simulator, account, catalog, body):
    simulator.force(body=body, status=429, headers={"Retry-After": "30"})
    outcome = rent_number(account, catalog)
    attempt = RentAttempt.objects.get()
    assert not outcome.ok and outcome.token == "RATE_LIMITED" and "Nothing was charged" in describe(outcome)
    assert attempt.state == AttemptState.FAILED and attempt.error_token == "RATE_LIMITED"
    assert len(simulator.requests("getRentNumber")) == 1 and Rental.objects.count() == 0
    assert RentAttempt.objects.filter(state=AttemptState.UNKNOWN).count() == 0


def test_the_account_waits_out_retry_after_then_rents(simulator, account, catalog):
    simulator.force(body="slow down", status=429, headers={"Retry-After": "1"})
    assert rent_number(account, catalog).token == "RATE_LIMITED"
    refused = rent_number(account, catalog)  # within the second: not even sent
    assert refused.token == "RATE_LIMITED" and len(simulator.requests("getRentNumber")) == 1
    assert refused.attempt.sent_at is None and describe(refused).startswith("Not sent")
    assert ErrorEvent.objects.filter(token="RATE_LIMITED", sent=False).exists()
    ProviderAccount.objects.filter(pk=account.pk).update(rate_limited_until=timezone.now() - timedelta(seconds=1))
    assert rent_number(account, catalog).ok and len(simulator.requests("getRentNumber")) == 2


@pytest.mark.parametrize(
    ("retry_after", "seconds"),
    [(None, 5), ("12", 12), ("http-date", 90), ("not a date", 5), ("999999999", 3600), ("-3", 5), ("\u00b2", 5)],
)
def test_retry_after_in_seconds_or_as_an_http_date(simulator, retry_after, seconds):
    headers = {}
    if retry_after == "http-date":
        headers["Retry-After"] = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    elif retry_after is not None:
        headers["Retry-After"] = retry_after
    simulator.force(body="", status=429, headers=headers)
    before = datetime.now(UTC)
    with pytest.raises(errors.RateLimited) as raised:
        make_client(simulator.api_url).get_balance()
    waited = (raised.value.retry_until - before).total_seconds()
    assert seconds - 2 <= waited <= seconds + 2
    assert raised.value.kind == "transient" and not raised.value.is_unknown_outcome


def test_polling_stops_for_the_account_while_it_is_rate_limited(simulator, account, catalog):
    rentals = [rent_number(account, catalog).rental for _ in range(3)]
    simulator.force(body="", status=429, headers={"Retry-After": "60"}, action="getRentStatus")
    services.account_poll(account_id=account.pk, rental_ids=[r.pk for r in rentals], cycle_started=timezone.now())
    assert len(simulator.requests("getRentStatus")) == 1  # the other two were not asked
    assert selectors.rentals_due_for_poll(now=timezone.now()) == {}
    assert ErrorEvent.objects.filter(token="RATE_LIMITED").count() == 1


# --- other tokens the clones send -------------------------------------------------------------


def test_early_cancel_denied_is_explained_and_the_rental_stays(boss, simulator, rental):
    simulator.dialect(early_cancel_denied_seconds=120)
    response = boss.post(reverse("admin:rentals_rental_cancel", args=[rental.pk]), {"post": "yes"}, follow=True)
    assert "does not allow cancelling in the first minutes" in page_text(response)
    rental.refresh_from_db()
    assert rental.status == RentalStatus.ACTIVE
    assert errors.error_for_token("EARLY_CANCEL_DENIED").kind == "transient"


def test_a_balance_timeout_never_says_money_may_have_moved(boss, simulator, account, short_timeouts):
    simulator.force(delay=2.0, action="getBalance")
    response = boss.post(
        reverse("admin:rentals_provideraccount_changelist"),
        {"action": "check_balance", "_selected_action": [account.pk]},
        follow=True,
    )
    text = page_text(response)
    assert "UNKNOWN_OUTCOME" in text and "spends no money" in text and "may have charged" not in text


def test_a_rent_timeout_still_says_it_may_have_charged(simulator, account, catalog, short_timeouts):
    simulator.force(delay=2.0, action="getRentNumber")
    assert "may have charged" in describe(rent_number(account, catalog))


def test_an_unknown_rent_is_read_in_both_forms(simulator, rent_errors):
    simulator.force(token="INVALID_PHONE", wire=rent_errors)
    with pytest.raises(errors.RentUnknown) as raised:
        make_client(simulator.api_url).get_rent_status(rent_id="1")
    assert raised.value.token == "INVALID_PHONE"


def test_no_id_rent_is_a_request_fault_not_a_lost_rent(simulator, account, catalog, rent_errors):
    """NO_ID_RENT: the provider saw no id in the request (contract section 4), which says nothing of the
    rent. Every rental polled meanwhile would otherwise be marked lost, each with its alert."""
    rentals = [rent_number(account, catalog).rental for _ in range(2)]
    simulator.force(token="NO_ID_RENT", wire=rent_errors, action="getRentStatus")
    services.account_poll(account_id=account.pk, rental_ids=[r.pk for r in rentals], cycle_started=timezone.now())
    assert not Rental.objects.filter(provider_lost_at__isnull=False).exists() and mail.outbox == []
    account.refresh_from_db()
    assert account.last_error_token == "NO_ID_RENT" and account.state == "ok"


@pytest.mark.parametrize("token", ["STATUS_WAIT_CODE", "STATUS_FINISH", "STATUS_CANCEL", "STATUS_REVOKE"])
def test_rent_status_tokens_are_states_in_both_forms(simulator, rent_errors, token):
    simulator.force(token=token, wire=rent_errors)
    status = make_client(simulator.api_url).get_rent_status(rent_id="1")
    expected = {"STATUS_WAIT_CODE": "active", "STATUS_FINISH": "finished", "STATUS_CANCEL": "cancelled"}
    assert status.state == expected.get(token, "revoked") and status.messages == []


def test_the_whole_journey_in_the_text_dialect_too(simulator, account, catalog, rent_errors):
    """Rent, read an SMS, extend and finish, with errors in whichever form the provider writes them."""
    rental = rent_number(account, catalog).rental
    assert services.rental_poll(rental=rental).rent_state == "active"  # STATUS_WAIT_CODE in that form
    simulator._post_json("sms", {"rent_id": int(rental.provider_rent_id), "text": "Code 5150", "webhook": False})
    assert services.rental_poll(rental=rental).new_messages == 1
    assert services.rental_extension_quote(rental=rental, hours=4).price == Decimal("0.3000")
    assert services.rental_finish(rental=rental, requested_by=None).ok
    rental.refresh_from_db()
    assert rental.status == RentalStatus.FINISHED and rental.last_sms_code == "5150"


# --- a rental whose rent the provider no longer knows ----------------------------------------


@pytest.fixture
def owner(db):
    return User.objects.create_user("olena", email="olena@example.test")


@pytest.mark.parametrize("token", ["INVALID_PHONE"])
def test_a_lost_rental_is_marked_alerted_once_and_shown(boss, simulator, account, catalog, owner, token):
    rental = rent_number(account, catalog, requested_by=owner).rental
    for _ in range(2):
        simulator.force(token=token, wire="json_message", action="getRentStatus")
        Rental.objects.filter(pk=rental.pk).update(last_polled_at=None)
        services.account_poll(account_id=account.pk, rental_ids=[rental.pk], cycle_started=timezone.now())
    rental.refresh_from_db()
    assert rental.provider_lost_at is not None and rental.status == RentalStatus.ACTIVE
    assert "no longer knows this rent" in attention_words(rental.attention)
    (alert,) = mail.outbox
    assert f"{rental}" in alert.subject and "olena@example.test" in alert.to
    assert reason_words(rental.history.first().history_change_reason) == (
        f"SMS.online no longer knows rent {rental.provider_rent_id} ({token})"
    )
    dashboard = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page_text(boss.get(reverse("admin:index")))))
    assert f"SMS.online no longer knows 1 rental, so its SMS cannot be read: {rental}" in dashboard


def test_a_lost_rental_is_checked_hourly_not_every_cycle_and_found_again(simulator, account, catalog):
    rental = rent_number(account, catalog).rental
    simulator.force(token="INVALID_PHONE", wire="json_message", action="getRentStatus")
    services.account_poll(account_id=account.pk, rental_ids=[rental.pk], cycle_started=timezone.now())
    now = timezone.now()
    assert selectors.rentals_due_for_poll(now=now + timedelta(minutes=10)) == {}
    assert selectors.rentals_due_for_poll(now=now + timedelta(minutes=61)) == {
        account.pk: selectors.DuePolls(awaiting=[rental.pk], idle=[])  # no SMS yet: a code may still come
    }
    services.rental_poll(rental=Rental.objects.get(pk=rental.pk))  # the provider knows it again
    rental.refresh_from_db()
    assert rental.provider_lost_at is None and rental.attention == ""
    assert reason_words(rental.history.first().history_change_reason) == "SMS.online knows the rent again"


def test_a_rate_limited_account_key_is_never_shown(simulator, account, catalog):
    simulator.force(body=f"too many requests for {SANDBOX_KEY}", status=429)
    outcome = rent_number(account, catalog)
    assert SANDBOX_KEY not in describe(outcome) and SANDBOX_KEY not in RentAttempt.objects.get().error_detail
