"""The catalog sync at provider scale: one run at a time, resumable, in short steps, cheap when nothing
changed, and a provider-sized catalog of 180 countries read whole over real HTTP."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from celery.signals import task_prerun
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from rentals import services, tasks
from rentals.models import RENT_HOURS, AccountState, CatalogSync, Country, Offer, ProviderAccount
from rentals.services.catalog import CHUNK_REQUESTS, RUN_LEASE

from ..conftest import start_celery, task_sender, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fast_rate(settings):
    settings.SMSONLINE_POLL_RATE = 1000


def offered(*provider_ids: int) -> list[Country]:
    """Only these countries are active (the seeded catalog may be there too)."""
    for provider_id in provider_ids:
        Country.objects.get_or_create(provider_id=provider_id, defaults={"name": f"Country {provider_id}"})
    Country.objects.exclude(provider_id__in=provider_ids).update(is_active=False)
    Country.objects.filter(provider_id__in=provider_ids).update(is_active=True)
    return list(Country.objects.filter(provider_id__in=provider_ids))


def asked(simulator, since: int = 0) -> list[tuple[int, int]]:
    """The (country, rent time) of each getRentPrices the simulator received, from the ``since``-th on."""
    return [(int(r["country"]), int(r["rent_time"])) for r in simulator.requests("getRentPrices")[since:]]


def every_pair(*provider_ids: int) -> set[tuple[int, int]]:
    return {(country, hours) for country in provider_ids for hours in RENT_HOURS}


def catalog_stale() -> bool:
    return services.stale_provider_data(now=timezone.now())[0]


def test_a_sync_asked_for_while_one_runs_does_nothing(simulator, account):
    offered(0, 1)
    simulator.force(action="getRentPrices", delay=1)  # the first price is slow: the first sync is still reading
    first = threading.Thread(target=lambda: (services.catalog_sync(now=timezone.now()), connection.close()))
    first.start()
    assert wait_until(lambda: simulator.requests("getRentPrices"), seconds=10)
    assert services.catalog_sync(now=timezone.now()) == 0
    assert tasks.sync_catalog() == "a catalog sync is running: nothing to do"
    first.join(timeout=60)
    pairs = asked(simulator)
    assert len(pairs) == 2 * 9 and set(pairs) == every_pair(0, 1)  # read once, by the first
    assert not catalog_stale()


def test_a_run_whose_worker_died_is_taken_over_where_it_stopped_once_its_lease_lapses(simulator, account):
    offered(0, 1, 2)
    now = timezone.now()
    run = services.catalog_sync_start(now=now)
    step = services.catalog_sync_chunk(run=run, now=now, at_most=9)
    assert (step.requests, step.more) == (9, True) and set(asked(simulator)) == every_pair(0)
    # Its worker dies here: no further step comes. Until its lease lapses, nobody else starts.
    assert services.catalog_sync_start(now=now + RUN_LEASE / 2) is None
    assert catalog_stale()
    services.catalog_sync(now=now + RUN_LEASE + timedelta(seconds=1))
    assert asked(simulator, since=9) == sorted(every_pair(1, 2))  # from where it stopped, not from the first
    assert Offer.objects.filter(country__provider_id=0).count() == 9 * 6
    assert not catalog_stale()
    # The dead run's step, delivered again at last, finds the sync no longer its own.
    assert services.catalog_sync_chunk(run=run, now=now + RUN_LEASE * 2) == services.CatalogChunk()
    assert len(asked(simulator)) == 27


def test_a_pass_cut_off_by_a_refused_key_goes_on_where_it_stopped(simulator, account):
    offered(0, 1, 2)
    for _ in range(9):
        simulator.force(action="getRentPrices")  # these nine are answered as usual
    simulator.force(action="getRentPrices", token="BAD_KEY")
    services.catalog_sync(now=timezone.now())
    account.refresh_from_db()
    assert account.state == AccountState.BAD_KEY and catalog_stale()
    assert CatalogSync.objects.get().reached_country == 0

    services.account_reset_state(account=account, cause="key fixed")
    services.catalog_sync(now=timezone.now())
    again = asked(simulator, since=10)
    assert len(again) == 18 and set(again) == every_pair(1, 2)  # country 0 is not asked again
    assert set(Offer.objects.values_list("country__provider_id", flat=True)) == {0, 1, 2}
    assert not catalog_stale()


def test_a_pass_runs_as_short_tasks_each_queueing_the_next(simulator, account, eager_tasks):
    ids = simulator.offer_countries(12)
    offered(*ids)
    ran = Counter()

    def count(sender, **kwargs):
        ran[sender.name] += 1

    task_prerun.connect(count)
    try:
        tasks.sync_catalog.delay()
    finally:
        task_prerun.disconnect(count)
    pairs = asked(simulator)
    assert len(pairs) == 12 * 9 and set(pairs) == every_pair(*ids)
    assert ran["rentals.tasks.sync_catalog"] == 1
    assert ran["rentals.tasks.sync_catalog_chunk"] >= -(-12 * 9 // CHUNK_REQUESTS)  # no step asks more than its share
    assert CatalogSync.objects.get().last_pass_requests == 12 * 9 and not catalog_stale()


def test_a_worker_reads_a_pass_in_tasks_that_queue_each_other_and_runs_one_sync_at_a_time(
    simulator, account, redis_url, tmp_path, monkeypatch
):
    ids = simulator.offer_countries(12)
    offered(*ids)
    monkeypatch.setenv("SMSONLINE_POLL_RATE", "100")  # the most the setting takes
    log = tmp_path / "worker.log"
    worker = start_celery(["worker", "--concurrency", "1"], redis_url=redis_url, outbox=tmp_path / "outbox", log=log)
    client = task_sender(redis_url)
    try:
        assert wait_until(lambda: " ready." in log.read_text(), seconds=60), log.read_text()[-3000:]
        for _ in range(2):  # the schedule and a worker that starts, say
            client.send_task("rentals.tasks.sync_catalog")
        finished = wait_until(lambda: not catalog_stale(), seconds=120)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    output = log.read_text()
    assert finished, output[-3000:]
    pairs = asked(simulator)
    assert len(pairs) == 12 * 9 and set(pairs) == every_pair(*ids), output[-3000:]
    assert "'a catalog sync is running: nothing to do'" in output
    steps = [line for line in output.splitlines() if "sync_catalog_chunk[" in line and " succeeded " in line]
    assert len(steps) >= -(-12 * 9 // CHUNK_REQUESTS), output[-3000:]


def test_a_pass_over_an_unchanged_catalog_writes_no_offer(simulator, account):
    offered(0, 1)
    assert services.catalog_sync(now=timezone.now()) == 2 * 9 * 6
    read_again = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        assert services.catalog_sync(now=read_again) == 0
    statements = [query["sql"] for query in queries]
    writes = [sql for sql in statements if sql.startswith(('INSERT INTO "rentals_offer"', 'UPDATE "rentals_offer"'))]
    assert len(writes) == 2 * 9 and all(q.startswith('UPDATE "rentals_offer" SET "checked_at" =') for q in writes)
    assert set(Offer.objects.values_list("checked_at", flat=True)) == {read_again}  # each offer says it was read
    assert CatalogSync.objects.get().last_pass_offers_written == 0

    simulator.set_stock(country=1, service="tg", operator="any", count=3)
    assert services.catalog_sync(now=timezone.now()) == 9  # that service there, at each rent time
    telegram_there = Offer.objects.filter(country__provider_id=1, service__code="tg")
    assert set(telegram_there.values_list("available", flat=True)) == {3}


def test_a_provider_sized_catalog_is_read_whole_over_real_http(simulator, account):
    ids = simulator.offer_countries(180)
    offered(*ids)
    run, steps = services.catalog_sync_start(now=timezone.now()), 0
    while services.catalog_sync_chunk(run=run, now=timezone.now()).more:
        steps += 1
    pairs = asked(simulator)
    assert len(pairs) == 180 * 9 and set(pairs) == every_pair(*ids)  # every country, each rent time once
    assert Offer.objects.count() == 180 * 9 * 6 and steps >= 180 * 9 // CHUNK_REQUESTS - 1
    sync = CatalogSync.objects.get()
    assert (sync.last_pass_requests, sync.pass_started_at, sync.run) == (180 * 9, None, None)
    assert ProviderAccount.objects.get().state == AccountState.OK
