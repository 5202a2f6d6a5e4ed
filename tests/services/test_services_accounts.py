"""Account health against the simulator: balances, low-balance alerts, state recovery, events."""

from datetime import timedelta
from decimal import Decimal

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.utils import timezone

from rentals import services, tasks
from rentals.models import AccountEvent, AccountState, ErrorEvent
from rentals.outcomes import State
from rentals.provider import errors

from ..conftest import SANDBOX_KEY, run_concurrently
from ..factories import AccountFactory, RentalFactory

pytestmark = pytest.mark.django_db(transaction=True)


def check(account):
    services.account_refresh_health(account_id=account.pk)
    account.refresh_from_db()
    return account


def state_changes(account):
    return list(
        AccountEvent.objects.filter(account=account, kind=AccountEvent.Kind.STATE_CHANGED)
        .order_by("created_at")
        .values_list("old_state", "new_state")
    )


def test_the_balance_and_its_time_are_recorded(simulator, account):
    simulator.set_account(SANDBOX_KEY, balance="17.25")
    check(account)
    assert account.balance == Decimal("17.25") and account.balance_checked_at is not None


def test_a_low_balance_alerts_once_per_crossing(simulator, account):
    account.low_balance_threshold = Decimal("5")
    account.save()
    simulator.set_account(SANDBOX_KEY, balance="4.00")
    check(account)
    check(account)
    assert len(mail.outbox) == 1 and "Low balance on Sandbox" in mail.outbox[0].subject
    simulator.set_account(SANDBOX_KEY, balance="50.00")
    check(account)
    simulator.set_account(SANDBOX_KEY, balance="3.00")
    check(account)
    assert len(mail.outbox) == 2
    kinds = list(AccountEvent.objects.filter(account=account).order_by("created_at").values_list("kind", flat=True))
    assert kinds == ["low_balance", "balance_recovered", "low_balance"]


def test_a_good_balance_after_no_balance_clears_the_state(simulator, account):
    services.account_change_state(account=account, state=AccountState.NO_BALANCE, cause="NO_BALANCE from getRentNumber")
    simulator.set_account(SANDBOX_KEY, balance="20.00")
    assert check(account).state == AccountState.OK
    assert state_changes(account) == [("ok", "no_balance"), ("no_balance", "ok")]
    assert AccountEvent.objects.filter(account=account).first().cause == "getBalance: 20.0000"


def test_an_empty_balance_sets_no_balance(simulator, account):
    simulator.set_account(SANDBOX_KEY, balance="0")
    assert check(account).state == AccountState.NO_BALANCE


def test_a_ban_whose_time_has_passed_is_cleared_with_an_event(account):
    services.account_change_state(
        account=account, state=AccountState.BANNED, cause="BANNED", banned_until=timezone.now() - timedelta(seconds=1)
    )
    future = AccountFactory(
        name="Still banned", state=AccountState.BANNED, banned_until=timezone.now() + timedelta(days=1)
    )
    assert services.accounts_clear_expired_bans(now=timezone.now()) == 1
    assert services.accounts_clear_expired_bans(now=timezone.now()) == 0
    account.refresh_from_db()
    future.refresh_from_db()
    assert account.state == AccountState.OK and future.state == AccountState.BANNED
    assert AccountEvent.objects.filter(account=account).first().cause == "ban time passed"


def test_a_new_key_clears_a_bad_key_state(simulator, account):
    simulator.force(token="BAD_KEY")
    check(account)
    assert account.state == AccountState.BAD_KEY
    services.account_set_api_key(account=account, api_key="the-right-key-123456")
    account.refresh_from_db()
    assert account.state == AccountState.OK
    assert state_changes(account) == [("ok", "bad_key"), ("bad_key", "ok")]


def test_a_balance_check_error_is_recorded_where_ops_look(simulator, account):
    simulator.force(token="ACCOUNT_INACTIVE", wire="json_error")
    check(account)
    event = ErrorEvent.objects.get()
    assert (event.account, event.operation, event.token, event.sent) == (
        account,
        "getBalance",
        "ACCOUNT_INACTIVE",
        True,
    )
    assert account.state == AccountState.INACTIVE and account.last_error_token == "ACCOUNT_INACTIVE"


def test_an_unreachable_provider_is_left_to_the_task_to_retry(account):
    services.account_set_api_key(
        account=account, api_key=SANDBOX_KEY, api_url="http://127.0.0.1:9/stubs/handler_api.php"
    )
    outcome = services.account_refresh_health(account_id=account.pk)
    assert isinstance(outcome.error, errors.ProviderUnreachable) and outcome.state is State.UNKNOWN
    with pytest.raises(Retry):  # the task asks Celery to try again later
        tasks.check_account_balance.apply(args=[account.pk], throw=True)
    assert ErrorEvent.objects.filter(token=outcome.token).count() == 2  # each check kept where ops look


def test_concurrent_balance_checks_alert_once(simulator, account):
    account.low_balance_threshold = Decimal("5")
    account.save()
    simulator.set_account(SANDBOX_KEY, balance="1.00")
    run_concurrently(lambda: services.account_refresh_health(account_id=account.pk))
    assert len(mail.outbox) == 1
    assert AccountEvent.objects.filter(kind=AccountEvent.Kind.LOW_BALANCE).count() == 1


def test_concurrent_ban_clearing_and_expiry_change_things_once(account):
    services.account_change_state(
        account=account, state=AccountState.BANNED, cause="BANNED", banned_until=timezone.now() - timedelta(seconds=1)
    )
    RentalFactory(end_date=timezone.now() - timedelta(minutes=1))
    now = timezone.now()
    assert sum(run_concurrently(lambda: services.accounts_clear_expired_bans(now=now))) == 1
    assert sum(run_concurrently(lambda: services.rentals_expire(now=now))) == 1
    assert AccountEvent.objects.filter(account=account, new_state=AccountState.OK).count() == 1


def test_a_low_balance_alert_that_could_not_be_sent_is_tried_again(simulator, account, settings):
    account.low_balance_threshold = Decimal("5")
    account.save()
    simulator.set_account(SANDBOX_KEY, balance="1.00")
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1  # nothing listens
    check(account)
    assert account.low_balance_alerted_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    check(account)
    assert len(mail.outbox) == 1 and account.low_balance_alerted_at is not None


def test_a_key_change_keeps_its_time(account):
    before = account.api_key_changed_at
    services.account_set_api_key(account=account, api_key="another-key-123456")
    account.refresh_from_db()
    assert account.api_key_changed_at and account.api_key_changed_at != before
