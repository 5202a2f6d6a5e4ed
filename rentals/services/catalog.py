"""The catalog from the provider: prices and stock per service, country and rent time.

SMS.online offers about 180 countries at nine rent times: a pass is some 1,600 getRentPrices, over
13 minutes at the default pace. So a pass runs as a chain of steps (``rentals.tasks.sync_catalog_chunk``),
each a few seconds long, and CatalogSync keeps how far it read:
- one run at a time: a run holds a lease that its steps renew; a sync asked for while a run holds it
  does nothing, and a run whose worker died lets it lapse;
- resumable: a run cut off (worker killed, time limit, every account refused) leaves the pass where it
  stopped, and the next sync goes on from there rather than from the first country;
- cheap when nothing changed: an offer is written only when its price or stock changed; the others
  get the time of this reading in one statement per country and rent time.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Q

from ..models import RENT_HOURS, AccountState, CatalogSync, Country, Offer, ProviderAccount, Service
from ..provider.client import SmsOnlineClient
from ..provider.errors import AccountError, DestinationRefused, ProviderError, ProviderUnreachable, RateLimited
from ..provider.parsing import ServiceOffer
from .accounts import account_record_error, provider_client_for
from .pacing import account_pacing

logger = logging.getLogger(__name__)

# A step asks for at most this many prices and starts none after this many seconds: at the default
# pace (2 requests a second) it lasts about 4 s, and at most one wait longer (5 s while rentals
# awaiting a code take every moment of the account: pacing.GIVES_WAY_AT_MOST).
CHUNK_REQUESTS = 40
CHUNK_SECONDS = 4.0
# A run keeps the sync this long after its last step or reading. Its next step is queued at once, so
# only a run whose worker died, or whose next step was lost, lets the lease lapse.
RUN_LEASE = timedelta(minutes=2)
SYNC_ROW = 1
COST_PLACES = Decimal("0.0001")  # Offer.cost's


@dataclass(frozen=True)
class CatalogChunk:
    """What one step did: the price requests it made, the offers it wrote (added, or price or stock
    changed), and whether the pass goes on in another step."""

    requests: int = 0
    written: int = 0
    more: bool = False


def catalog_sync(*, now: datetime) -> int:
    """A whole pass in this process, step after step (the shell, tests); workers run the same steps as
    short tasks (``rentals.tasks.sync_catalog``). Returns the offers written; 0 when a run holds the sync.
    Every step takes ``now`` as its time: a pass here that outlasts RUN_LEASE may be taken over by a
    worker's sync, and then stops where it is (one sync at a time still)."""
    run = catalog_sync_start(now=now)
    written, more = 0, run is not None
    while more:
        step = catalog_sync_chunk(run=run, now=now)
        written, more = written + step.written, step.more
    return written


def catalog_sync_start(*, now: datetime) -> uuid.UUID | None:
    """Claim the sync for a new run, which goes on with the pass under way or begins one. None, and a
    line in the log, while another run holds it: one sync at a time."""
    CatalogSync.objects.get_or_create(pk=SYNC_ROW)
    run = uuid.uuid4()
    lapsed = Q(leased_until__isnull=True) | Q(leased_until__lte=now)
    if not CatalogSync.objects.filter(lapsed, pk=SYNC_ROW).update(run=run, leased_until=now + RUN_LEASE):
        holder = CatalogSync.objects.get(pk=SYNC_ROW)
        logger.info("catalog sync: run %s holds it until %s; this one does nothing", holder.run, holder.leased_until)
        return None
    begun = CatalogSync.objects.filter(pk=SYNC_ROW, run=run, pass_started_at__isnull=True).update(
        pass_started_at=now, reached_country=None, reached_hours=None, requests=0, offers_written=0
    )
    sync = CatalogSync.objects.get(pk=SYNC_ROW)
    where = "from the first country" if begun else f"after country {sync.reached_country}, {sync.reached_hours} h"
    logger.info("catalog sync: run %s reads the pass begun at %s %s", run, sync.pass_started_at, where)
    return run


def catalog_sync_chunk(*, run: uuid.UUID, now: datetime, at_most: int = CHUNK_REQUESTS) -> CatalogChunk:
    """The run's next step: up to ``at_most`` prices (or CHUNK_SECONDS' worth) after the last one the
    pass read, from the first account that can talk to the provider; the pass ends with its last price.

    An account that cannot (its URL unreachable, its key refused or unreadable, told to wait) gives way
    to the next: a typo in the first account's URL would otherwise leave every rent form without
    prices. When none can, the run ends and the pass waits where it stopped for the next sync."""
    if not CatalogSync.objects.filter(pk=SYNC_ROW, run=run).update(leased_until=now + RUN_LEASE):
        logger.info("catalog sync: run %s no longer holds the sync; its step does nothing", run)
        return CatalogChunk()
    step = _Step(run=run, now=now)
    todo = _unread(limit=at_most)
    for account in _readers():
        if not todo or step.stopped:
            break
        todo = step.read(account, todo)
    if step.superseded:
        return step.outcome(more=False)
    if todo and not step.stopped:
        _run_end(run, finished=False, now=now)
        return step.outcome(more=False)
    if todo or _unread(limit=1):
        return step.outcome(more=True)
    _run_end(run, finished=True, now=now)
    return step.outcome(more=False)


class _Step:
    """One step's reading: its time, what it asked and wrote, and whether it must stop."""

    def __init__(self, *, run: uuid.UUID, now: datetime) -> None:
        self.run, self.now = run, now
        self.deadline = time.monotonic() + CHUNK_SECONDS
        self.requests = self.written = 0
        self.superseded = False

    @property
    def stopped(self) -> bool:
        return self.superseded or time.monotonic() >= self.deadline

    def outcome(self, *, more: bool) -> CatalogChunk:
        return CatalogChunk(requests=self.requests, written=self.written, more=more)

    def read(self, account: ProviderAccount, todo: list[tuple[Country, int]]) -> list[tuple[Country, int]]:
        """Read ``todo`` with ``account`` until the step must stop; the pairs left. An account that
        cannot talk to the provider leaves them all to the next."""
        client: SmsOnlineClient | None = None
        pacing = account_pacing(account.pk)  # shared with the account's polling: rentals awaiting a code go first
        answered = 0
        for index, (country, hours) in enumerate(todo):
            if self.stopped:
                return todo[index:]
            pacing.wait()
            offers: dict[str, ServiceOffer] | None
            try:
                client = client or provider_client_for(account)
                offers = client.get_rent_prices(country=country.provider_id, hours=hours)
            except ProviderError as error:
                if _gives_way(account, error, first=not answered):
                    return todo[index:]
                answered += not isinstance(error, ProviderUnreachable)
                offers = None  # this price waits for the next pass
            else:
                answered += 1
            self._record(account, country, hours, offers)
        return []

    def _record(self, account: ProviderAccount, country: Country, hours: int, offers: dict | None) -> None:
        """Store what was read and move the pass past it, together; nothing when another run holds the
        sync now (a lease that lapsed under a slow request)."""
        with transaction.atomic():
            written = 0 if offers is None else _store(country=country, hours=hours, offers=offers, now=self.now)
            moved = CatalogSync.objects.filter(pk=SYNC_ROW, run=self.run).update(
                reached_country=country.provider_id, reached_hours=hours, reader=account,
                leased_until=self.now + RUN_LEASE, requests=F("requests") + 1,
                offers_written=F("offers_written") + written,
            )  # fmt: skip
            if not moved:
                transaction.set_rollback(True)
                self.superseded = True
                return
        self.requests += 1
        self.written += written


def _gives_way(account: ProviderAccount, error: ProviderError, *, first: bool) -> bool:
    """Whether ``account`` leaves the catalog to the next account after ``error``."""
    if isinstance(error, (AccountError, RateLimited, DestinationRefused)):
        # Every further request would meet the same refusal (or none can go, as when the stored key
        # cannot be read or the URL is not one a key may go to).
        logger.info("catalog sync: account %s: %s", account.pk, error.token)
        if error.was_sent:
            account_record_error(account=account, error=error, operation="getRentPrices")
        return True
    if isinstance(error, ProviderUnreachable) and first:
        # Its first request of the step: this account's URL does not lead to SMS.online now.
        logger.info("catalog sync: account %s: %s", account.pk, error.token)
        return True
    logger.info("catalog sync: a price: %s", error.token)
    return False


def _readers() -> list[ProviderAccount]:
    """The accounts that may read, the one that read last first (not again one that gave way)."""
    reader_id = CatalogSync.objects.filter(pk=SYNC_ROW).values_list("reader_id", flat=True).first()
    accounts = ProviderAccount.objects.filter(state=AccountState.OK).order_by("pk")
    return sorted(accounts, key=lambda account: account.pk != reader_id)


def _unread(*, limit: int) -> list[tuple[Country, int]]:
    """The pass's next ``limit`` (country, rent time) pairs, in provider id order, after the last read."""
    reached = CatalogSync.objects.filter(pk=SYNC_ROW).values_list("reached_country", "reached_hours").first()
    countries = Country.objects.filter(is_active=True).order_by("provider_id")
    if reached and reached[0] is not None:
        countries = countries.filter(provider_id__gte=reached[0])
    pairs = [
        (country, hours)
        for country in countries[: limit // len(RENT_HOURS) + 2]
        for hours in RENT_HOURS
        if not reached or reached[0] is None or (country.provider_id, hours) > reached
    ]
    return pairs[:limit]


def _run_end(run: uuid.UUID, *, finished: bool, now: datetime) -> None:
    """Give the sync up; a finished pass is recorded as the last one, an unfinished one waits as it is."""
    sync = CatalogSync.objects.filter(pk=SYNC_ROW, run=run)
    if not finished:
        sync.update(run=None, leased_until=None)
        logger.info("catalog sync: no account could talk to the provider; the next sync goes on from here")
        return
    sync.update(
        run=None, leased_until=None, pass_started_at=None, reached_country=None, reached_hours=None,
        last_pass_started_at=F("pass_started_at"), last_pass_finished_at=now,
        last_pass_requests=F("requests"), last_pass_offers_written=F("offers_written"),
    )  # fmt: skip
    done = CatalogSync.objects.get(pk=SYNC_ROW)
    logger.info(
        "catalog sync: pass finished: %s requests, %s offers written", done.last_pass_requests,
        done.last_pass_offers_written,
    )  # fmt: skip


def _store(*, country: Country, hours: int, offers: dict[str, ServiceOffer], now: datetime) -> int:
    """Keep what the provider offers in ``country`` for ``hours``; returns the offers written (added,
    or price or stock changed). Every offer there gets ``now`` as its reading time, in one statement."""
    here = Offer.objects.filter(country=country, hours=hours)
    stored = {code: (pk, cost, available) for pk, code, cost, available in
              here.values_list("pk", "service__code", "cost", "available")}  # fmt: skip
    read = {code: (_cost(offer.cost), offer.count) for code, offer in offers.items()}
    # What the provider no longer offers here has no stock now (NO_NUMBERS answers with no list at all).
    gone = [pk for code, (pk, _, available) in stored.items() if code not in read and available != 0]
    changed = [
        Offer(pk=stored[code][0], cost=cost, available=count)
        for code, (cost, count) in read.items()
        if code in stored and stored[code][1:] != (cost, count)
    ]
    added = {code: read[code] for code in read.keys() - stored.keys()}
    here.filter(pk__in=gone).update(available=0)
    Offer.objects.bulk_update(changed, ["cost", "available"])
    services = _services(added)
    Offer.objects.bulk_create(
        Offer(service=services[code], country=country, hours=hours, cost=cost, available=count, checked_at=now)
        for code, (cost, count) in added.items()
    )
    here.update(checked_at=now)
    return len(gone) + len(changed) + len(added)


def _cost(cost: Decimal | None) -> Decimal | None:
    """The price as Offer.cost keeps it, so an unchanged price compares equal to the stored one."""
    return None if cost is None else cost.quantize(COST_PLACES)


def _services(codes: dict[str, object]) -> dict[str, Service]:
    """The services of ``codes``; those the catalog lacks are added switched off, for staff to review."""
    services = {service.code: service for service in Service.objects.filter(code__in=list(codes))}
    for code in codes.keys() - services.keys():
        services[code], _ = Service.objects.get_or_create(code=code, defaults={"name": code, "is_active": False})
    return services
