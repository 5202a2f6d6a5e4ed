"""Reconciliation against the simulator's rent list: lost answers, outside rents, duplicates."""

import uuid
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from rentals import services
from rentals.models import AttemptState, Rental, RentAttempt

from .conftest import SANDBOX_KEY

pytestmark = pytest.mark.django_db(transaction=True)


def rent(account, catalog):
    return services.rental_rent(
        account=account, service=catalog["telegram"], country=catalog["ukraine"], operator="any", hours=24,
        webhook=True, nonce=uuid.uuid4(), requested_by=None, via="cli",
    )  # fmt: skip


def reconcile(account):
    return services.account_reconcile(account_id=account.pk, now=timezone.now())


def test_a_lost_answer_is_adopted_and_its_attempt_resolved(simulator, account, catalog, short_timeouts):
    simulator.force(delay=2.0)  # the provider rents, the answer comes too late
    outcome = rent(account, catalog)
    assert outcome.attempt.state == AttemptState.UNKNOWN and Rental.objects.count() == 0
    result = reconcile(account)
    attempt = RentAttempt.objects.get()
    rental = Rental.objects.get()
    (sim_rent,) = simulator.rents()
    assert result.resolved_attempts == [attempt.pk] and attempt.state == AttemptState.SUCCEEDED
    assert attempt.rental == rental and "Resolved by reconciliation" in attempt.error_detail
    assert (rental.provider_rent_id, rental.number) == (str(sim_rent["id"]), sim_rent["number"])
    assert abs(rental.end_date - (attempt.sent_at + timedelta(hours=24))) < timedelta(seconds=5)
    assert rental.webhook_token == attempt.webhook_token and rental.service == catalog["telegram"]
    assert reconcile(account).adopted_rentals == []  # nothing twice


def test_an_unknown_outcome_triggers_reconciliation_at_once(simulator, account, catalog, short_timeouts, eager_tasks):
    simulator.force(delay=2.0)
    rent(account, catalog)
    assert RentAttempt.objects.get().state == AttemptState.SUCCEEDED and Rental.objects.count() == 1


def test_a_rent_made_outside_rentdesk_is_adopted_with_a_note(simulator, account):
    params = {"api_key": SANDBOX_KEY, "action": "getRentNumber", "service": "wa", "country": "1", "rent_time": "72"}
    requests.get(simulator.api_url, params=params, timeout=5)
    reconcile(account)
    rental = Rental.objects.get()
    assert rental.service is None and rental.hours == 72 and "Rented outside Rentdesk" in rental.attention


def test_a_retry_after_a_lost_answer_is_flagged_as_a_possible_duplicate(simulator, account, catalog, short_timeouts):
    simulator.force(delay=2.0)
    rent(account, catalog)
    second = rent(account, catalog).rental
    reconcile(account)
    adopted = Rental.objects.exclude(pk=second.pk).get()
    assert f"Possibly a duplicate of +{second.number}" in adopted.attention and "cancel within" in adopted.attention


def test_rentals_already_known_are_left_alone(simulator, account, catalog):
    rent(account, catalog)
    assert reconcile(account).adopted_rentals == [] and Rental.objects.count() == 1
