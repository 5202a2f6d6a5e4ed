"""Monthly budgets against the simulator: refused before any provider call, safe under races, alerted once."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from rentals import services
from rentals.models import (
    AttemptState,
    BudgetAlert,
    ErrorEvent,
    Offer,
    PersonBudget,
    ProviderAccount,
    Rental,
    RentalExtension,
)
from rentals.wording.pages import describe

from ..conftest import SANDBOX_KEY, manage, run_concurrently
from ..factories import AccountFactory, UserFactory, rent_number

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def priced(catalog):
    """The catalog's prices, as the catalog sync would have read them from the simulator."""
    for hours, cost in ((24, "0.90"), (72, "2.20")):
        Offer.objects.create(service=catalog["telegram"], country=catalog["ukraine"], hours=hours,
                             cost=Decimal(cost), available=100, checked_at=timezone.now())  # fmt: skip
    return catalog


def budget(account, amount):
    ProviderAccount.objects.filter(pk=account.pk).update(monthly_budget=Decimal(amount))
    account.refresh_from_db()


def test_a_rent_that_would_pass_the_account_budget_is_refused_before_any_provider_call(simulator, account, priced):
    budget(account, "1.50")
    assert rent_number(account, priced).ok
    refused = rent_number(account, priced)
    assert (refused.ok, refused.token, refused.state) == (False, "BUDGET_EXCEEDED", AttemptState.FAILED)
    assert len(simulator.requests("getRentNumber")) == 1 and refused.attempt.sent_at is None
    message = describe(refused)
    assert "monthly budget" in message and "0.90 of 1.50 USD" in message and "would cost 0.90 USD" in message
    assert ErrorEvent.objects.get(token="BUDGET_EXCEEDED").sent is False
    assert describe(services.rent_outcome_for(refused.attempt, repeated=True)).startswith("Not sent, nothing charged")


def test_a_personal_budget_follows_its_person_across_accounts(simulator, account, priced):
    olena, taras = UserFactory(username="olena"), UserFactory(username="taras")
    spare = AccountFactory(name="Spare", api_url=simulator.api_url, api_key="spare-key-0123456789")
    PersonBudget.objects.create(user=olena, monthly_budget=Decimal("1.00"))
    assert rent_number(account, priced, requested_by=olena).ok
    refused = rent_number(spare, priced, requested_by=olena)
    assert refused.token == "BUDGET_EXCEEDED" and refused.facts["budget"] == "person"
    assert "olena (personal budget)" in describe(refused)
    assert rent_number(spare, priced, requested_by=taras).ok  # nobody else's budget
    assert len(simulator.requests("getRentNumber")) == 2


def test_an_answer_that_was_lost_still_counts_so_it_cannot_pass_the_budget(simulator, account, priced, short_timeouts):
    budget(account, "1.50")
    simulator.force(delay=2)
    assert rent_number(account, priced).state == AttemptState.UNKNOWN  # SMS.online may have charged
    assert rent_number(account, priced).token == "BUDGET_EXCEEDED"
    assert len(simulator.requests("getRentNumber")) == 1


def test_with_a_budget_a_rent_of_unknown_price_is_refused(simulator, account, catalog):
    budget(account, "100")
    refused = rent_number(account, catalog)
    assert refused.token == "PRICE_UNKNOWN" and simulator.requests() == []
    assert "catalog sync" in describe(refused)
    ProviderAccount.objects.filter(pk=account.pk).update(monthly_budget=None)
    assert rent_number(account, catalog).ok  # without a budget, no price is needed


def test_an_extension_over_budget_is_refused_before_sending(simulator, account, priced):
    rental = rent_number(account, priced).rental
    budget(account, "2.00")
    refused = services.rental_extend(rental=rental, hours=72, nonce=uuid.uuid4(), requested_by=None,
                                     price_quoted=Decimal("2.20"))  # fmt: skip
    assert refused.token == "BUDGET_EXCEEDED" and "would cost 2.20 USD" in describe(refused)
    assert simulator.requests("continueRentNumber") == []
    assert RentalExtension.objects.get().state == AttemptState.FAILED


def test_an_extension_quoted_below_the_catalog_counts_at_the_catalog_price(simulator, account, priced, short_timeouts):
    """The quote comes back from the page or the script: a smaller one cannot slip past a budget, nor
    make an extension of unknown outcome count for less."""
    rental = rent_number(account, priced).rental  # 0.90 spent
    budget(account, "3.00")

    def extend():
        return services.rental_extend(rental=rental, hours=72, nonce=uuid.uuid4(), requested_by=None,
                                      price_quoted=Decimal("0.01"))  # fmt: skip

    refused = extend()
    assert refused.token == "BUDGET_EXCEEDED" and "would cost 2.20 USD" in describe(refused)
    not_in_the_catalog = services.rental_extend(rental=rental, hours=168, nonce=uuid.uuid4(), requested_by=None,
                                                price_quoted=Decimal("0.01"))  # fmt: skip
    assert not_in_the_catalog.token == "PRICE_UNKNOWN"
    assert simulator.requests("continueRentNumber") == []
    budget(account, "10.00")
    simulator.force(delay=2)
    assert extend().state == AttemptState.UNKNOWN  # SMS.online may have charged the catalog's 2.20
    month = services.month_start(timezone.now())
    assert services.budget_spent(since=month, account=account) == Decimal("3.10")


def test_auto_renew_over_budget_is_refused_before_asking_the_provider_anything(simulator, account, priced):
    owner = UserFactory(username="olena")
    rental = rent_number(account, priced, requested_by=owner).rental
    Rental.objects.filter(pk=rental.pk).update(auto_renew=True, auto_renew_hours=72, auto_renew_before_hours=25,
                                               auto_renew_max_price=Decimal("3.00"))  # fmt: skip
    budget(account, "3.00")
    simulator.reset()
    assert services.rental_auto_renew(rental_id=rental.pk).facts["renewal"] == "refused"
    assert simulator.requests() == []  # no price asked, no balance read, nothing extended
    assert RentalExtension.objects.get().error_token == "BUDGET_EXCEEDED"
    alarm = next(m for m in mail.outbox if "ACTION NEEDED" in m.subject)
    assert "monthly budget" in alarm.body and "olena@example.test" in alarm.to


def test_two_rents_at_once_cannot_both_pass_a_budget_with_room_for_one(simulator, account, priced):
    budget(account, "1.00")
    outcomes = run_concurrently(lambda: rent_number(account, priced), times=6)
    assert sorted(o.token for o in outcomes) == ["", *["BUDGET_EXCEEDED"] * 5]
    assert len(simulator.requests("getRentNumber")) == 1 and Rental.objects.count() == 1


def test_the_team_hears_once_at_80_and_once_at_100_percent(simulator, account, priced, eager_tasks):
    budget(account, "2.00")
    assert rent_number(account, priced).ok and mail.outbox == []  # 45%
    assert rent_number(account, priced).ok  # 90%
    assert [m.subject for m in mail.outbox] == ["[Rentdesk] Budget: Account Sandbox has used 90% of its monthly budget"]
    assert rent_number(account, priced).token == "BUDGET_EXCEEDED"
    assert rent_number(account, priced).token == "BUDGET_EXCEEDED"
    assert [m.subject for m in mail.outbox][1:] == ["[Rentdesk] Budget: Account Sandbox has reached its monthly budget"]
    assert "1.80 of 2.00 USD" in mail.outbox[1].body and mail.outbox[1].to == ["team@rentdesk.example.test"]


def test_a_check_that_runs_after_midnight_on_the_first_alerts_for_the_month_of_the_spend(simulator, account, priced):
    """The rent that took the budget to 90% came late on the last day of a month; its check ran after
    midnight (a busy or restarted worker). It is that month's 90%: the new month's alerts are to come."""
    import time_machine
    from celery.signals import before_task_publish

    from rentals import tasks

    queued = []

    def keep(sender=None, body=None, **kwargs):
        if sender == "rentals.tasks.check_budgets":
            queued.append(body[0])

    budget(account, "2.00")
    # Strongly: a weak receiver that dies later makes Celery swap its receiver list for a new one, which
    # the task sender, holding the old list since its first message, would not see.
    before_task_publish.connect(keep, weak=False)
    try:
        assert rent_number(account, priced).ok and rent_number(account, priced).ok
    finally:
        before_task_publish.disconnect(keep)
    this_month = services.month_start(timezone.now())
    next_month = services.month_start(this_month + timedelta(days=32))
    with time_machine.travel(next_month + timedelta(seconds=30)):
        for arguments in queued:
            tasks.check_budgets(*arguments)
    (alert,) = mail.outbox
    assert "used 90%" in alert.subject and f"1.80 of 2.00 USD spent or committed in {this_month:%Y-%m}" in alert.body
    assert list(BudgetAlert.objects.values_list("month", flat=True).distinct()) == [this_month.date()]


def test_a_personal_budget_alerts_its_person_and_leaves_the_account_alone(simulator, account, priced, eager_tasks):
    budget(account, "100")
    olena = UserFactory(username="olena")
    PersonBudget.objects.create(user=olena, monthly_budget=Decimal("1.00"))
    assert rent_number(account, priced, requested_by=olena).ok
    assert rent_number(account, priced, requested_by=olena).token == "BUDGET_EXCEEDED"
    assert [m.subject for m in mail.outbox] == [
        "[Rentdesk] Budget: Person olena has used 90% of its monthly budget",
        "[Rentdesk] Budget: Person olena has reached its monthly budget",
    ]
    assert "olena@example.test" in mail.outbox[1].to


def test_last_months_spend_does_not_count(simulator, account, priced):
    budget(account, "1.00")
    old = rent_number(account, priced).rental
    Rental.objects.filter(pk=old.pk).update(created_at=services.month_start(timezone.now()) - timedelta(seconds=1))
    assert rent_number(account, priced).ok


def test_the_costs_page_shows_spend_against_each_budget(client, simulator, account, priced):
    budget(account, "2.00")
    olena = UserFactory(username="olena")
    PersonBudget.objects.create(user=olena, monthly_budget=Decimal("10"))
    rent_number(account, priced, requested_by=olena)
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    html = client.get(reverse("admin:rentals_rental_costs")).content.decode()
    table = html[html.index('<table id="budget-table">') :]
    assert "Account Sandbox</td>\n        <td>2.00</td><td>0.90</td><td>45%</td><td>1.10</td>" in table
    assert "Person olena</td>\n        <td>10.00</td><td>0.90</td><td>9%</td><td>9.10</td>" in table


def test_add_account_sets_a_budget_and_changes_it_without_the_key(simulator, capsys, monkeypatch):
    monkeypatch.setenv("SMSONLINE_API_KEY", "fine-key-1234567")
    status, out, _ = manage("add_account", "Ops", "--api-url", simulator.api_url, "--monthly-budget", "50",
                            capsys=capsys)  # fmt: skip
    assert status == 0 and ProviderAccount.objects.get(name="Ops").monthly_budget == Decimal("50")
    monkeypatch.delenv("SMSONLINE_API_KEY")
    status, out, _ = manage("add_account", "Ops", "--set-budget", "75.5", capsys=capsys)
    assert status == 0 and "monthly budget 75.50 USD a month" in out
    assert manage("add_account", "Ops", "--set-budget", "none", capsys=capsys)[0] == 0
    assert ProviderAccount.objects.get(name="Ops").monthly_budget is None
    for wrong in ("-3", "lots", "1e30"):
        status, _, err = manage("add_account", "Ops", "--set-budget", wrong, capsys=capsys)
        assert status == 2 and "--set-budget" in err and "Traceback" not in err
    status, _, err = manage("add_account", "Nobody", "--set-budget", "5", capsys=capsys)
    assert status == 2 and "no account named 'Nobody'" in err
    monkeypatch.setenv("SMSONLINE_API_KEY", "fine-key-1234567")
    status, _, err = manage("add_account", "Ops", "--update-key", "--monthly-budget", "5", capsys=capsys)
    assert status == 2 and "use --set-budget" in err


def test_the_account_form_sets_the_budget(client, simulator, account):
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    url = reverse("admin:rentals_provideraccount_change", args=[account.pk])
    form = {"name": "Sandbox", "api_url": account.api_url, "api_key": "", "monthly_budget": "-1",
            "events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0"}  # fmt: skip
    assert client.post(url, form).status_code == 200  # shown again with the error
    client.post(url, {**form, "monthly_budget": "25"})
    assert ProviderAccount.objects.get(pk=account.pk).monthly_budget == Decimal("25")
    assert SANDBOX_KEY not in client.get(url).content.decode()
