"""Auto-renew against the simulator: within the ceiling and the balance, once per end date, loud failures."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from rentals import services
from rentals.models import Rental, RentalExtension

from .conftest import SANDBOX_KEY
from .factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def rental(simulator, account, catalog):
    rental = services.rental_rent(
        account=account, service=catalog["telegram"], country=catalog["ukraine"], operator="any", hours=24,
        webhook=False, nonce=uuid.uuid4(), requested_by=UserFactory(username="olena"), via="cli", label="Payments",
    ).rental  # fmt: skip
    Rental.objects.filter(pk=rental.pk).update(
        auto_renew=True, auto_renew_hours=72, auto_renew_before_hours=25, auto_renew_max_price=Decimal("3.00")
    )
    rental.refresh_from_db()
    return rental


def test_a_due_rental_is_renewed_once(simulator, rental):
    assert services.rentals_due_for_renewal(now=timezone.now()) == [rental.pk]
    old_end = rental.end_date
    assert services.rental_auto_renew(rental_id=rental.pk) == "renewed"
    assert services.rental_auto_renew(rental_id=rental.pk) == "not due"  # a redelivered task
    rental.refresh_from_db()
    assert rental.end_date == old_end + timedelta(hours=72)
    assert len(simulator.requests("continueRentNumber")) == 1 and mail.outbox == []
    assert services.rentals_due_for_renewal(now=timezone.now()) == []  # the new end is far away


def test_not_due_before_its_renewal_time(rental):
    Rental.objects.filter(pk=rental.pk).update(auto_renew_before_hours=2)
    assert services.rentals_due_for_renewal(now=timezone.now()) == []


@pytest.mark.parametrize(
    ("setup", "words"),
    [("ceiling", "above the ceiling of 1.00 USD"), ("balance", "does not cover the price")],
)
def test_a_refused_renewal_alarms_once_and_spends_nothing(simulator, rental, setup, words):
    if setup == "ceiling":
        Rental.objects.filter(pk=rental.pk).update(auto_renew_max_price=Decimal("1.00"))
    else:
        simulator.set_account(SANDBOX_KEY, balance="0.50")
    assert services.rental_auto_renew(rental_id=rental.pk) == "refused"
    assert services.rental_auto_renew(rental_id=rental.pk) == "already handled"
    assert simulator.requests("continueRentNumber") == []
    (alarm,) = mail.outbox
    assert "ACTION NEEDED" in alarm.subject and words in alarm.body and "olena@example.test" in alarm.to
    assert RentalExtension.objects.get().error_token == "AUTO_RENEW_REFUSED"


def test_an_unknown_outcome_alarms_that_it_may_have_charged(simulator, rental, short_timeouts):
    simulator.force(delay=2.0, action="continueRentNumber")
    assert services.rental_auto_renew(rental_id=rental.pk) == "failed"
    assert len(simulator.requests("continueRentNumber")) == 1
    assert "may have charged" in mail.outbox[0].body
