"""Polling many rentals on one account: within the account's rate across processes, rentals awaiting a
code first, and every rental polled before its interval runs out (bench/polling.py measures it at scale)."""

import itertools
import threading
import time
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from rentals import services
from rentals.models import ProviderAccount, Rental
from rentals.schedule import POLL_CYCLE
from rentals.selectors import POLL_IDLE_EVERY, DuePolls, rentals_due_for_poll
from rentals.services.pacing import AccountPacing

from ..factories import AccountFactory, RentalFactory

pytestmark = pytest.mark.django_db(transaction=True)


def moments_of(pacing: AccountPacing, *, threads: int, each: int, urgent: bool = False) -> list[float]:
    """When each request was let go, from ``threads`` threads (as many workers would) asking ``each`` time."""
    moments: list[float] = []
    barrier = threading.Barrier(threads)

    def ask() -> None:
        barrier.wait()
        try:
            for _ in range(each):
                pacing.wait(urgent=urgent)
                moments.append(time.monotonic())
        finally:
            connections.close_all()

    workers = [threading.Thread(target=ask) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sorted(moments)


def test_requests_from_several_processes_keep_the_account_rate_together():
    account = AccountFactory()
    moments = moments_of(AccountPacing(account.pk, per_second=20), threads=3, each=4)
    gaps = [later - earlier for earlier, later in itertools.pairwise(moments)]
    # 1/20 s apart; a thread notes its moment a little after it is let go, so one gap may look shorter.
    assert len(moments) == 12 and moments[-1] - moments[0] >= 11 * 0.05 * 0.98 and min(gaps) > 0.03


def test_a_request_for_a_rental_awaiting_its_code_goes_before_those_already_waiting():
    account = AccountFactory()
    ProviderAccount.objects.filter(pk=account.pk).update(next_request_at=timezone.now() + timedelta(seconds=0.5))
    pacing = AccountPacing(account.pk, per_second=4)  # a moment every 0.25 s
    finished: list[str] = []

    def background() -> None:
        pacing.wait()
        finished.append("catalog sync")
        connections.close_all()

    waiting = threading.Thread(target=background)
    waiting.start()
    time.sleep(0.2)  # the catalog sync waits for the booked moment already
    pacing.wait(urgent=True)
    finished.append("awaiting a code")
    waiting.join()
    assert finished == ["awaiting a code", "catalog sync"]


def test_requests_that_are_not_urgent_still_go_while_urgent_ones_take_every_moment():
    """More rentals awaiting a code than the rate polls book every moment; reconciliation (or the
    catalog sync) still gets its turn, after giving way for a while, and does not wait them all out."""
    account = AccountFactory()
    pacing = AccountPacing(account.pk, per_second=20)  # a moment every 0.05 s
    urgent_requests = 60  # 3 s of every moment booked
    urgent_sent: list[float] = []

    def awaiting_codes() -> None:
        try:
            for _ in range(urgent_requests):
                pacing.wait(urgent=True)
                urgent_sent.append(time.monotonic())
        finally:
            connections.close_all()

    polling = threading.Thread(target=awaiting_codes)
    polling.start()
    time.sleep(0.2)  # the urgent requests book every moment
    pacing.wait()  # reconciliation's getRentList
    reconciled_while_urgent_sent = len(urgent_sent)
    polling.join()
    assert 0 < reconciled_while_urgent_sent < urgent_requests // 2


def test_rentals_awaiting_a_code_come_first_then_the_longest_unpolled():
    now = timezone.now()
    account = AccountFactory()
    idle = RentalFactory(account=account, rented_at=now - timedelta(hours=3), hours=720,
                         end_date=now + timedelta(days=20))  # fmt: skip
    Rental.objects.filter(pk=idle.pk).update(last_polled_at=now - timedelta(hours=1), last_sms_at=now)
    awaiting = RentalFactory(account=account, rented_at=now - timedelta(minutes=5))
    Rental.objects.filter(pk=awaiting.pk).update(last_polled_at=now - timedelta(seconds=10))
    assert rentals_due_for_poll(now=now) == {account.pk: DuePolls(awaiting=[awaiting.pk], idle=[idle.pk])}


def test_a_rental_is_due_on_the_last_cycle_that_surely_reaches_it_within_its_interval():
    now = timezone.now()
    idle = RentalFactory(rented_at=now - timedelta(hours=3), hours=720, end_date=now + timedelta(days=20))
    # A cycle may take until it ends to reach a rental: the next one ends two cycles from now.
    last_safe_cycle = POLL_IDLE_EVERY - 2 * POLL_CYCLE
    Rental.objects.filter(pk=idle.pk).update(
        last_polled_at=now - last_safe_cycle + timedelta(seconds=1), last_sms_at=now
    )
    assert rentals_due_for_poll(now=now) == {}  # the next cycle still reaches it in time
    Rental.objects.filter(pk=idle.pk).update(last_polled_at=now - last_safe_cycle - timedelta(seconds=1))
    assert rentals_due_for_poll(now=now) == {idle.account_id: DuePolls([], [idle.pk])}  # the next might be late
    awaiting = RentalFactory(rented_at=now - timedelta(minutes=5))
    Rental.objects.filter(pk=awaiting.pk).update(last_polled_at=now - timedelta(seconds=1))
    assert rentals_due_for_poll(now=now)[awaiting.account_id].awaiting == [awaiting.pk]  # every 20 s: every cycle


def test_a_cycle_polls_no_more_than_the_account_rate_allows_in_it(settings):
    settings.SMSONLINE_POLL_RATE = 2
    assert services.polls_per_cycle() == 2 * POLL_CYCLE.total_seconds()


def test_a_cycle_stops_when_the_next_one_begins(simulator, account, catalog):
    rental = RentalFactory(account=account)
    late = timezone.now() - POLL_CYCLE  # the task started as its cycle ended (a busy worker)
    assert services.account_poll(account_id=account.pk, rental_ids=[rental.pk], cycle_started=late) == 0
    assert simulator.requests("getRentStatus") == []
    rental.refresh_from_db()
    assert rental.last_polled_at is None  # still due: the next cycle polls it


def test_extension_prices_asked_again_and_again_keep_the_account_rate(simulator, account, catalog, settings):
    """A page reloaded or a script asking in a loop: the quotes take their turns with the account's
    other requests, so SMS.online's limit (whose 429 would stop the account's rents too) is not hit."""
    import uuid

    settings.SMSONLINE_POLL_RATE = 5  # a moment every 0.2 s
    rented = services.rental_rent(
        account=account, service=catalog["telegram"], country=catalog["ukraine"], operator="any", hours=24,
        webhook=False, nonce=uuid.uuid4(), requested_by=None, via="cli",
    )  # fmt: skip
    for _ in range(6):
        assert services.rental_extension_quote(rental=rented.rental, hours=24).price is not None
    asked = sorted(request["at"] for request in simulator.requests("continueRentInfo"))
    gaps = [later - earlier for earlier, later in itertools.pairwise(asked)]
    assert len(asked) == 6 and min(gaps) > 0.2 * 0.9
