"""Reconciliation against the simulator's rent list: lost answers, outside rents, duplicates."""

import json
import threading
import uuid
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from harness.servers import wait_until
from rentals import services
from rentals.models import AttemptState, Rental, RentalExtension, RentAttempt
from rentals.wording.attention import attention_words
from rentals.wording.pages import describe

from ..conftest import SANDBOX_KEY
from ..factories import AccountFactory, RentalFactory, rent_number

pytestmark = pytest.mark.django_db(transaction=True)


def reconcile(account):
    return services.account_reconcile(account_id=account.pk, now=timezone.now())


def test_a_lost_answer_is_adopted_and_its_attempt_resolved(simulator, account, catalog, short_timeouts):
    simulator.force(delay=2.0)  # the provider rents, the answer comes too late
    outcome = rent_number(account, catalog, webhook=True)
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
    rent_number(account, catalog, webhook=True)
    assert RentAttempt.objects.get().state == AttemptState.SUCCEEDED and Rental.objects.count() == 1


def test_a_lost_answer_pushed_off_the_first_page_of_the_list_is_found_on_the_next(
    simulator, account, catalog, short_timeouts
):
    """The provider lists ten rents a page, newest first: twelve rents after a lost answer push its
    rent to the second page before reconciliation looks."""
    simulator.force(delay=2.0)
    lost = rent_number(account, catalog, webhook=True).attempt
    assert lost.state == AttemptState.UNKNOWN
    for _ in range(12):
        assert rent_number(account, catalog, webhook=True).ok
    assert reconcile(account).resolved_attempts == [lost.pk]
    lost.refresh_from_db()
    assert lost.state == AttemptState.SUCCEEDED and Rental.objects.count() == 13
    assert [r.get("page") for r in simulator.requests("getRentList")] == [None, "1"]  # no further than needed
    reconcile(account)
    assert len(simulator.requests("getRentList")) == 3  # nothing open: the first page only


def test_a_provider_that_ignores_the_page_is_asked_once_more_at_most(simulator, account, catalog, short_timeouts):
    simulator.force(delay=2.0)
    rent_number(account, catalog, webhook=True)
    for _ in range(12):
        rent_number(account, catalog, webhook=True)
    first_page = requests.get(simulator.api_url, params={"api_key": SANDBOX_KEY, "action": "getRentList"}, timeout=5)
    simulator.force(action="getRentList")  # the first page as usual, then the same page again for "page=1"
    simulator.force(action="getRentList", body=first_page.text, content_type="application/json")
    assert reconcile(account).resolved_attempts == []
    assert len(simulator.requests("getRentList")) == 3  # ours, and reconciliation's two
    assert RentAttempt.objects.filter(state=AttemptState.UNKNOWN).count() == 1  # left for the next cycle


def test_a_rent_made_outside_rentdesk_is_adopted_with_a_note(simulator, account):
    params = {"api_key": SANDBOX_KEY, "action": "getRentNumber", "service": "wa", "country": "1", "rent_time": "72"}
    requests.get(simulator.api_url, params=params, timeout=5)
    reconcile(account)
    rental = Rental.objects.get()
    assert (
        rental.service is None and rental.hours == 72 and "Rented outside Rentdesk" in attention_words(rental.attention)
    )


def test_a_retry_after_a_lost_answer_is_flagged_as_a_possible_duplicate(simulator, account, catalog, short_timeouts):
    simulator.force(delay=2.0)
    rent_number(account, catalog, webhook=True)
    second = rent_number(account, catalog, webhook=True).rental
    reconcile(account)
    adopted = Rental.objects.exclude(pk=second.pk).get()
    note = attention_words(adopted.attention)
    assert f"Possibly a duplicate of {second}" in note and "cancel within" in note


def test_rentals_already_known_are_left_alone(simulator, account, catalog):
    rent_number(account, catalog, webhook=True)
    assert reconcile(account).adopted_rentals == [] and Rental.objects.count() == 1


def test_a_rent_in_flight_is_not_adopted_as_made_elsewhere(simulator, account, catalog):
    RentAttempt.objects.create(account=account, service=catalog["telegram"], country=catalog["ukraine"], hours=24,
                               via="admin", sent_at=timezone.now())  # fmt: skip
    params = {"api_key": SANDBOX_KEY, "action": "getRentNumber", "service": "tg", "country": "1", "rent_time": "24"}
    requests.get(simulator.api_url, params=params, timeout=5)
    assert reconcile(account).adopted_rentals == [] and Rental.objects.count() == 0


def test_a_rent_in_flight_is_not_given_to_an_older_unknown_attempt(simulator, account, catalog):
    """The first attempt's answer was lost and it rented nothing; a second is at SMS.online when
    reconciliation reads the list. The listed rent is the second's, whatever the first was."""
    given_up = RentAttempt.objects.create(
        account=account, service=catalog["telegram"], country=catalog["ukraine"], hours=24, via="admin",
        sent_at=timezone.now() - timedelta(minutes=1), state=AttemptState.UNKNOWN,
    )  # fmt: skip
    RentAttempt.objects.create(account=account, service=catalog["telegram"], country=catalog["ukraine"], hours=24,
                               via="admin", sent_at=timezone.now())  # fmt: skip
    params = {"api_key": SANDBOX_KEY, "action": "getRentNumber", "service": "tg", "country": "1", "rent_time": "24"}
    requests.get(simulator.api_url, params=params, timeout=5)
    assert reconcile(account).resolved_attempts == [] and Rental.objects.count() == 0
    given_up.refresh_from_db()
    assert given_up.state == AttemptState.UNKNOWN and given_up.rental is None


def answered_late(call, simulator, action):
    """Run ``call`` in a thread while SMS.online carries ``action`` out at once and answers 3 s late; wait
    until it has acted, and return the thread with the call's outcome in ``thread.outcome``."""
    simulator.force(delay=3.0, action=action)
    thread = threading.Thread(target=lambda: setattr(thread, "outcome", call()))
    thread.start()
    assert wait_until(lambda: simulator.requests(action), seconds=10)
    return thread


def test_an_answer_after_its_attempt_was_given_up_and_reconciled_keeps_the_rental(simulator, account, catalog):
    """The call outlasted the time after which an attempt is given up as unknown (a slow DNS lookup, a
    body trickling in), and reconciliation found its rent meanwhile. Then the answer comes."""
    call = answered_late(lambda: rent_number(account, catalog, webhook=True), simulator, "getRentNumber")
    assert services.attempts_resolve_stale(now=timezone.now() + timedelta(hours=1)) == 1
    assert len(reconcile(account).resolved_attempts) == 1
    call.join()
    attempt, rental = RentAttempt.objects.get(), Rental.objects.get()
    assert call.outcome.ok and attempt.state == AttemptState.SUCCEEDED and attempt.rental == rental


def test_an_extension_answered_after_reconciliation_settled_it_counts_its_hours_once(simulator, account, catalog):
    rental = rent_number(account, catalog, webhook=True).rental
    extend = lambda: services.rental_extend(  # noqa: E731
        rental=rental, hours=24, nonce=uuid.uuid4(), requested_by=None, price_quoted=None
    )
    call = answered_late(extend, simulator, "continueRentNumber")
    assert services.attempts_resolve_stale(now=timezone.now() + timedelta(hours=1)) == 1
    assert len(reconcile(account).resolved_extensions) == 1
    call.join()
    rental.refresh_from_db()
    assert call.outcome.ok and rental.hours == 48


def test_an_answer_arriving_after_reconciliation_adopted_its_rent_completes_that_rental(simulator, account, catalog):
    adopted = Rental.objects.create(
        account=account, provider_rent_id="424242", number="380501112233", hours=24,
        end_date=timezone.now() + timedelta(hours=24), attention="Rented outside Rentdesk",
    )  # fmt: skip
    body = {"status": "success", "phone": {"id": 424242, "endDate": "2030-01-01T00:00:00", "number": "380501112233"}}
    simulator.force(body=json.dumps(body), content_type="application/json")
    outcome = rent_number(account, catalog, webhook=True)
    adopted.refresh_from_db()
    assert outcome.ok and outcome.rental == adopted and Rental.objects.count() == 1
    assert adopted.service == catalog["telegram"] and adopted.attention == ""
    assert RentAttempt.objects.get().state == AttemptState.SUCCEEDED


def test_an_extension_with_an_unknown_outcome_blocks_another_and_is_settled_by_reconciliation(
    simulator, account, catalog, short_timeouts
):
    rental = rent_number(account, catalog, webhook=True).rental
    simulator._post_json("advance", {"seconds": 25 * 3600})  # ended: extending re-orders it under a new id
    simulator.force(delay=2.0, action="continueRentNumber")
    first = services.rental_extend(rental=rental, hours=24, nonce=uuid.uuid4(), requested_by=None, price_quoted=None)
    second = services.rental_extend(rental=rental, hours=24, nonce=uuid.uuid4(), requested_by=None, price_quoted=None)
    assert not first.ok and "may have charged" in describe(first)
    assert second.token == "EXTENSION_OPEN" and len(simulator.requests("continueRentNumber")) == 1
    result = reconcile(account)
    rental.refresh_from_db()
    (sim_rent,) = [rent for rent in simulator.rents() if rent["state"] == "active"]  # the old id stays, finished
    assert result.resolved_extensions and result.adopted_rentals == [] and Rental.objects.count() == 1
    assert rental.provider_rent_id == str(sim_rent["id"]) and rental.status == "active"


def test_stale_pending_extensions_stop_blocking(account):
    rental = RentalFactory(account=account)
    RentalExtension.objects.create(rental=rental, hours=24, old_rent_id="1", sent_at=timezone.now())
    RentalExtension.objects.filter(rental=rental).update(created_at=timezone.now() - timedelta(hours=1))
    services.attempts_resolve_stale(now=timezone.now())
    assert RentalExtension.objects.get().state == AttemptState.UNKNOWN


def test_a_rent_that_an_extension_reordered_is_not_adopted_while_the_extension_is_in_flight(simulator, account):
    import requests

    params = {"api_key": SANDBOX_KEY, "action": "getRentNumber", "service": "tg", "country": "1", "rent_time": "4"}
    phone = requests.get(simulator.api_url, params=params, timeout=5).json()["phone"]
    rental = RentalFactory(account=AccountFactory(name="Other"), number=phone["number"])
    Rental.objects.filter(pk=rental.pk).update(account=account)
    RentalExtension.objects.create(rental=rental, hours=24, old_rent_id=rental.provider_rent_id)  # pending
    assert services.account_reconcile(account_id=account.pk, now=timezone.now()).adopted_rentals == []
