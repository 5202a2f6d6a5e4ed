"""Figures as they are: a rent attempt's page shows the rent it made, and an account's balance follows
each rent, extension and refund at once, not at the next scheduled check."""

import html
import os
import re
import subprocess
import sys
import uuid
from decimal import Decimal

import pytest
import redis
from celery.signals import before_task_publish
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import formats, timezone

from rentals import services, tasks
from rentals.models import Rental, RentAttempt
from rentals.services.followups import BALANCE_CHECK_QUEUED
from rentals.wording.formats import local_time

from ..conftest import PROJECT, database_url_of_this_test, start_celery, wait_until
from ..factories import UserFactory, rent_number

pytestmark = pytest.mark.django_db(transaction=True)

BALANCE_CHECK = "rentals.tasks.check_account_balance"


@pytest.fixture
def olena(db):
    person = UserFactory(username="olena", is_staff=True)
    for codename in ("rent_number", "extend_rental", "end_rental"):
        person.user_permissions.add(Permission.objects.get(codename=codename))
    return person


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def end_date_shown(page: str) -> str:
    return re.search(r'End date:?</label> <div class="readonly">([^<]*)</div>', page).group(1).strip()


def balance_shown(client) -> Decimal:
    """The balance in the accounts list, as a person reads it."""
    page = client.get(reverse("admin:rentals_provideraccount_changelist")).content.decode()
    cell = re.search(r'<td class="field-balance[^"]*">([^<]*)</td>', page).group(1)
    return Decimal(cell.strip().replace("\xa0", "").replace(" ", "").replace(",", "."))


def test_an_attempts_page_shows_the_end_date_its_rent_returned_after_an_extension(
    boss, simulator, account, catalog, olena
):
    outcome = rent_number(account, catalog, requested_by=olena, via="admin")
    rented_until = outcome.rental.end_date
    extended = services.rental_extend(
        rental=outcome.rental, hours=24, nonce=uuid.uuid4(), requested_by=olena, price_quoted=None
    )
    assert extended.ok and Rental.objects.get().end_date > rented_until
    page = text(boss.get(reverse("admin:rentals_rentattempt_change", args=[outcome.attempt.pk])))
    assert f"until {local_time(rented_until)} on Sandbox" in page
    assert local_time(Rental.objects.get().end_date) not in page
    assert end_date_shown(page) == formats.localize(timezone.template_localtime(rented_until))


def test_an_attempt_reconciliation_settled_shows_the_end_date_it_estimated(
    boss, simulator, account, catalog, olena, short_timeouts
):
    simulator.force(delay=2.0)  # the answer is lost; reconciliation finds the rent
    attempt = rent_number(account, catalog, requested_by=olena, via="admin").attempt
    services.account_reconcile(account_id=account.pk, now=timezone.now())
    rental = Rental.objects.get()
    estimated = rental.end_date
    services.rental_extend(rental=rental, hours=24, nonce=uuid.uuid4(), requested_by=olena, price_quoted=None)
    page = text(boss.get(reverse("admin:rentals_rentattempt_change", args=[attempt.pk])))
    assert end_date_shown(page) == formats.localize(timezone.template_localtime(estimated))


@pytest.fixture
def queued_checks(settings, redis_url):
    """Balance checks queued while the broker's Redis holds the flags (no worker: they stay queued)."""
    settings.CELERY_BROKER_URL = redis_url
    flags = redis.Redis.from_url(redis_url)
    for key in flags.scan_iter(BALANCE_CHECK_QUEUED.format(account_id="*")):
        flags.delete(key)
    published: list[dict] = []

    def count(sender: str, headers: dict, **kwargs: object) -> None:
        if sender == BALANCE_CHECK:
            published.append(headers)

    before_task_publish.connect(count, weak=False)
    yield published
    before_task_publish.disconnect(count)


def test_a_burst_of_rents_queues_one_balance_check_and_a_refund_after_it_started_another(
    boss, simulator, account, catalog, olena, queued_checks
):
    services.account_check_balance(account=account)
    simulator.force(token="NO_NUMBERS", wire="json_msg")
    assert (
        not rent_number(account, catalog, requested_by=olena, via="admin").ok and queued_checks == []
    )  # refused: no money moved
    rentals = [rent_number(account, catalog, requested_by=olena, via="admin").rental for _ in range(3)]
    assert len(queued_checks) == 1 and queued_checks[0]["eta"] is not None  # a few seconds later
    assert balance_shown(boss) == Decimal("100.00")  # until the check runs
    tasks.check_account_balance(account.pk)  # as the worker runs it
    spent = sum(rental.cost for rental in rentals)
    assert balance_shown(boss) == Decimal("100.00") - spent
    # The check has started: a refund after it queues a check of its own, and the balance shows it.
    assert services.rental_cancel(rental=rentals[0], now=timezone.now(), requested_by=olena).ok
    assert len(queued_checks) == 2
    tasks.check_account_balance(account.pk)
    assert balance_shown(boss) == Decimal("100.00") - spent + rentals[0].cost


def test_a_command_line_rent_moves_the_balance_shown_within_seconds_through_a_real_worker(
    boss, simulator, account, catalog, olena, redis_url, tmp_path
):
    services.account_check_balance(account=account)  # read before: 100
    assert balance_shown(boss) == Decimal("100.00")
    flags = redis.Redis.from_url(redis_url)
    flags.delete(BALANCE_CHECK_QUEUED.format(account_id=account.pk))
    log = tmp_path / "worker.log"
    worker = start_celery(["worker", "--concurrency", "1"], redis_url=redis_url, outbox=tmp_path / "outbox", log=log)
    try:
        assert wait_until(lambda: " ready." in log.read_text(), seconds=60), log.read_text()[-3000:]
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "REDIS_URL": redis_url,
               "DATABASE_URL": database_url_of_this_test(), "RENTDESK_ENV_FILE": os.devnull}  # fmt: skip
        argv = ["--account", "Sandbox", "--service", "tg", "--country", "1", "--as", "olena", "--json"]
        done = subprocess.run([sys.executable, "manage.py", "rent_number", *argv], cwd=PROJECT, env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        cost = Rental.objects.get().cost
        moved = wait_until(lambda: balance_shown(boss) == Decimal("100.00") - cost, seconds=60)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    output = log.read_text()
    assert moved, output[-3000:]
    assert f"{BALANCE_CHECK}[" in output and RentAttempt.objects.get().requested_by == olena
