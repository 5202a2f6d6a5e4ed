"""Where ops look: the provider error list, account health history and the dashboard."""

import re
from datetime import timedelta

import pytest
from celery import Celery
from django.contrib import admin
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

import rentals.tasks  # noqa: F401  (its shared tasks join every Celery app made after, as the one below)
from harness.servers import free_port
from rentals import services
from rentals.models import AccountState, ErrorEvent

from ..factories import AccountFactory, RentalFactory
from .test_admin_rent import page_text

pytestmark = pytest.mark.django_db(transaction=True)


def result_rows(response) -> str:
    """The changelist's rows only, without the filter sidebar that names every value."""
    match = re.search(r'<table id="result_list">.*?</table>', response.content.decode(), re.S)
    return match.group(0) if match else ""


def test_errors_are_listed_and_filter_by_token_account_and_date(boss):
    main, spare = AccountFactory(name="Main"), AccountFactory(name="Spare")
    ErrorEvent.objects.create(account=main, operation="getRentNumber", token="NO_NUMBERS", detail="")
    ErrorEvent.objects.create(account=spare, operation="getBalance", token="BAD_KEY", detail="")
    old = ErrorEvent.objects.create(account=main, operation="getBalance", token="ERROR_SQL", detail="")
    ErrorEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    url = reverse("admin:rentals_errorevent_changelist")
    by_token = result_rows(boss.get(url + "?token=BAD_KEY"))
    assert "BAD_KEY" in by_token and "NO_NUMBERS" not in by_token
    by_account = result_rows(boss.get(url + f"?account__id__exact={spare.pk}"))
    assert "BAD_KEY" in by_account and "NO_NUMBERS" not in by_account
    since = (timezone.now() - timedelta(days=7)).isoformat()  # as the "Past 7 days" filter link does
    recent = result_rows(boss.get(url, {"created_at__gte": since}))
    assert "NO_NUMBERS" in recent and "ERROR_SQL" not in recent


def test_the_account_page_shows_its_state_last_error_and_history(boss, simulator):
    account = AccountFactory(name="Main", api_url=simulator.api_url)
    simulator.force(token="NO_BALANCE")
    assert services.account_check_balance(account=account).token == "NO_BALANCE"
    text = page_text(boss.get(reverse("admin:rentals_provideraccount_change", args=[account.pk])))
    assert "No balance" in text and "NO_BALANCE" in text and "Health history" in text
    assert "NO_BALANCE from getBalance" in text


def test_the_dashboard_shows_what_needs_attention(boss):
    now = timezone.now()
    RentalFactory(end_date=now + timedelta(hours=3), label="Support line")
    RentalFactory(end_date=now + timedelta(hours=50))
    RentalFactory(end_date=now + timedelta(hours=200))
    troubled = AccountFactory(name="Dry", state=AccountState.NO_BALANCE, last_error_token="NO_BALANCE")
    ErrorEvent.objects.create(account=troubled, operation="getRentNumber", token="NO_BALANCE")
    ErrorEvent.objects.create(account=troubled, operation="getRentNumber", token="NO_BALANCE")
    response = boss.get(reverse("admin:index"))
    html = response.content.decode()
    assert '<span id="expiring-24h">1</span>' in html and '<span id="expiring-72h">2</span>' in html
    assert '<span id="troubled-accounts">1</span>' in html and '<span id="errors-24h">2</span>' in html
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page_text(response)))
    assert "1 rental ends within 24 hours: +" in text and "2 rentals end within 72 hours." in text
    assert "(Support line), Telegram: ends in 2" in text
    last_error = "Last error: The SMS.online account has no money left. (NO_BALANCE)"
    assert f"1 account cannot rent: Dry is out of balance. {last_error}" in text
    assert "2 provider errors in the last 24 hours: 2 × The SMS.online account has no money left. (NO_BALANCE)" in text  # noqa: RUF001
    assert 'id="dashboard-rent-button"' in html


def test_staff_who_may_see_nothing_get_no_dashboard(client):
    client.force_login(User.objects.create_user("nobody", password="pw", is_staff=True))
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200 and "rentdesk-dashboard" not in response.content.decode()


def test_running_a_scheduled_job_while_redis_is_away_says_so(boss, monkeypatch):
    # The app the admin queues jobs with, on a Redis nobody listens on (the test settings' broker is
    # in memory, which is never away).
    # Not the current app: the shared tasks of the tests that follow must still find the real one.
    away = Celery("rentdesk", broker=f"redis://127.0.0.1:{free_port()}/0", set_as_current=False)
    away.conf.broker_connection_timeout = 1
    monkeypatch.setattr(admin.site._registry[PeriodicTask], "celery_app", away)
    job = PeriodicTask.objects.get(task="rentals.tasks.poll_sms")
    url = reverse("admin:django_celery_beat_periodictask_changelist")
    response = boss.post(url, {"action": "run_tasks", "_selected_action": [job.pk]}, follow=True)
    assert response.status_code == 200
    assert "could not be queued: Redis cannot be reached" in page_text(response)
