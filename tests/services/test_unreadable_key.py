"""An account whose stored API key this server cannot decrypt (API_KEY_ENCRYPTION_KEYS lost or changed):
every operation that would talk to SMS.online sends nothing, says API_KEY_UNREADABLE, and keeps it
on the account where ops look; none raises, and the account's state is left as SMS.online last said."""

import uuid

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from rentals import services
from rentals.models import AccountState, AttemptState, ErrorEvent, Rental, RentalExtension, RentalStatus
from rentals.outcomes import State
from rentals.wording.pages import describe

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "API_KEY_UNREADABLE"


@pytest.fixture
def unreadable(settings, simulator, account, catalog):
    """A rented number, then the server's encryption keys replaced: the account's key is unreadable."""
    rental = services.rental_rent(
        account=account, service=catalog["telegram"], country=catalog["ukraine"], operator="any", hours=24,
        webhook=False, nonce=uuid.uuid4(), requested_by=None, via="cli",
    ).rental  # fmt: skip
    settings.API_KEY_ENCRYPTION_KEYS = ["x7Z3jz0sUNkN0qkxbRxWzPYiM1X7VhTGvB0N_7mLsHE="]
    return rental


def nothing_sent_since_the_rent(simulator):
    return [request["action"] for request in simulator.requests()] == ["getRentNumber"]


def assert_kept_on_the_account_and_nothing_sent(simulator, rental, operation):
    account = rental.account
    account.refresh_from_db()
    assert nothing_sent_since_the_rent(simulator)
    assert (account.state, account.last_error_token) == (AccountState.OK, TOKEN)
    assert ErrorEvent.objects.filter(operation=operation, token=TOKEN, sent=False).exists()


def test_a_rent_is_refused_without_sending(simulator, unreadable, catalog):
    outcome = services.rental_rent(
        account=unreadable.account, service=catalog["telegram"], country=catalog["ukraine"], operator="any",
        hours=24, webhook=True, nonce=uuid.uuid4(), requested_by=None, via="cli",
    )  # fmt: skip
    assert (outcome.state, outcome.token) == (AttemptState.FAILED, TOKEN)
    assert outcome.attempt.sent_at is None
    assert_kept_on_the_account_and_nothing_sent(simulator, unreadable, "getRentNumber")


def test_an_extension_and_its_price_are_refused_without_sending(simulator, unreadable):
    quote = services.rental_extension_quote(rental=unreadable, hours=24)
    assert (quote.price, quote.token, quote.state) == (None, TOKEN, State.FAILED)  # not worth asking again
    assert "cannot be decrypted" in describe(quote)
    outcome = services.rental_extend(
        rental=unreadable, hours=24, nonce=uuid.uuid4(), requested_by=None, price_quoted=None
    )
    assert (outcome.state, outcome.token) == (AttemptState.FAILED, TOKEN)
    assert RentalExtension.objects.get().sent_at is None
    assert_kept_on_the_account_and_nothing_sent(simulator, unreadable, "continueRentNumber")


def test_finishing_is_refused_without_sending_and_the_number_stays_active(simulator, unreadable):
    outcome = services.rental_finish(rental=unreadable, requested_by=None)
    unreadable.refresh_from_db()
    assert (outcome.state, outcome.token, unreadable.status) == (AttemptState.FAILED, TOKEN, RentalStatus.ACTIVE)
    assert_kept_on_the_account_and_nothing_sent(simulator, unreadable, "setRentStatus")


def test_the_scheduled_jobs_skip_the_account_without_failing(simulator, unreadable):
    account_id = unreadable.account_id
    services.account_refresh_health(account_id=account_id)
    assert services.account_poll(account_id=account_id, rental_ids=[unreadable.pk], cycle_started=timezone.now()) == 0
    assert services.account_reconcile(account_id=account_id, now=timezone.now()).adopted_rentals == []
    assert services.catalog_sync(now=timezone.now()) == 0
    assert_kept_on_the_account_and_nothing_sent(simulator, unreadable, "getBalance")


def test_auto_renew_is_refused_with_the_reason(simulator, unreadable):
    Rental.objects.filter(pk=unreadable.pk).update(auto_renew=True, auto_renew_before_hours=25, auto_renew_max_price=10)
    assert services.rental_auto_renew(rental_id=unreadable.pk).facts["renewal"] == "refused"
    assert "cannot be decrypted" in RentalExtension.objects.get().error_detail
    assert nothing_sent_since_the_rent(simulator)


def test_the_admin_says_why_a_balance_check_or_an_sms_check_could_not_go(client, simulator, unreadable):
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    changelist = reverse("admin:rentals_provideraccount_changelist")
    form = {"action": "check_balance", "_selected_action": [unreadable.account_id]}
    page = client.post(changelist, form, follow=True).content.decode()
    # The sentence first, the token after it for those who look it up.
    said = "The account&#x27;s API key cannot be decrypted with this server&#x27;s API_KEY_ENCRYPTION_KEYS."
    assert f"Sandbox: {said}" in page and "again. (API_KEY_UNREADABLE)" in page
    page = client.post(reverse("admin:rentals_rental_check_sms", args=[unreadable.pk]), follow=True).content.decode()
    assert said in page and "again. (API_KEY_UNREADABLE)" in page and "API_KEY_UNREADABLE:" not in page
    assert nothing_sent_since_the_rent(simulator)
