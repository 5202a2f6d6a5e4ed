"""Closed months' spend kept in sums: the costs page and /metrics show what summing every rental and
extension shows, for readers in any timezone, before and after refunds and late extensions."""

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from rentals import selectors, services
from rentals.models import AttemptState, ProviderAccount, Rental, RentalExtension, RentalStatus, SpendMonth
from rentals.spend import month_start_in, next_month

from ..factories import AccountFactory, CountryFactory, RentalFactory, ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db
TEAM = "Europe/Kyiv"
READERS = ["Europe/Kyiv", "UTC", "Asia/Kolkata", "America/Los_Angeles", "Pacific/Chatham"]
REFUNDED = (RentalStatus.CANCELLED, RentalStatus.REVOKED)
STATUSES = [RentalStatus.ACTIVE, RentalStatus.FINISHED, RentalStatus.EXPIRED, *REFUNDED]


def month_edges(now: datetime) -> list[datetime]:
    """The first instants of the last 15 months in each reader's timezone: where rows change month."""
    edges = []
    for name in READERS:
        start = month_start_in(now, ZoneInfo(name))
        for _ in range(15):
            edges.append(start)
            start = month_start_in(start - timedelta(days=1), ZoneInfo(name))
    return edges


def random_desk(seed: int, now: datetime) -> list[Rental]:
    chance = random.Random(seed)
    accounts = [AccountFactory(name=f"Acc {n}") for n in range(2)]
    services_ = [ServiceFactory(code=f"sv{n}", name=f"Service {n}") for n in range(2)] + [None]
    countries = [CountryFactory(provider_id=900 + n, name=f"Land {n}") for n in range(2)] + [None]
    people = [UserFactory(username=f"person{n}") for n in range(3)] + [None]
    edges = month_edges(now)
    rentals = []
    for n in range(160):
        if n % 2:  # a minute either side of some month's first instant, in some reader's timezone
            made = chance.choice(edges) + timedelta(seconds=chance.randint(-90, 90))
        else:
            made = now - timedelta(minutes=chance.randint(1, 420 * 24 * 60))
        cost = None if chance.random() < 0.1 else Decimal(chance.randint(0, 50000)) / 10000
        rental = RentalFactory(
            account=chance.choice(accounts), service=chance.choice(services_), country=chance.choice(countries),
            rented_by=chance.choice(people), cost=cost, status=chance.choice(STATUSES),
            end_date=now + timedelta(days=1), rented_at=made,
        )  # fmt: skip
        rentals.append(rental)
        for _ in range(chance.choice([0, 0, 1, 2])):
            extension = RentalExtension.objects.create(
                rental=rental, hours=24, old_rent_id=rental.provider_rent_id, requested_by=chance.choice(people),
                state=chance.choice([AttemptState.SUCCEEDED, AttemptState.SUCCEEDED, AttemptState.FAILED]),
                cost=None if chance.random() < 0.15 else Decimal(chance.randint(0, 30000)) / 10000,
            )  # fmt: skip
            later = min(made + timedelta(minutes=chance.randint(0, 90 * 24 * 60)), now)
            RentalExtension.objects.filter(pk=extension.pk).update(created_at=later)
    return rentals


def summed_one_by_one(group: str, since: datetime) -> list[tuple[str, str, Decimal]]:
    """Every paid rent and extension added up here, one by one, in the reader's timezone."""
    name_of = {
        "account": lambda r, p: r.account.name, "service": lambda r, p: r.service and r.service.name,
        "country": lambda r, p: r.country and r.country.name, "person": lambda r, p: p and p.username,
    }  # fmt: skip
    totals: dict[tuple[str, str], Decimal] = {}
    paid = [(r, r.rented_by, r.created_at, r.cost) for r in Rental.objects.exclude(status__in=REFUNDED)]
    extensions = RentalExtension.objects.filter(state=AttemptState.SUCCEEDED).exclude(rental__status__in=REFUNDED)
    paid += [(e.rental, e.requested_by, e.created_at, e.cost) for e in extensions]
    for rental, person, made, cost in paid:
        if cost is None or made < since:
            continue
        index = (timezone.localtime(made).strftime("%Y-%m"), name_of[group](rental, person) or "(unknown)")
        totals[index] = totals.get(index, Decimal(0)) + cost
    return [(month, name, amount) for (month, name), amount in sorted(totals.items())]


def shown(group: str, since: datetime) -> list[tuple[str, str, Decimal]]:
    return [(row.month, row.group, row.amount) for row in selectors.spend_by_month(group=group, since=since)]


def assert_same_figures(now: datetime) -> None:
    for reader in READERS:
        with timezone.override(ZoneInfo(reader)):
            local = timezone.localtime(now)
            twelve_months = month_start_in(now - timedelta(days=335), ZoneInfo(reader))
            for since in (twelve_months, datetime(2000, 1, 1, tzinfo=UTC), now - timedelta(days=100)):
                for group in selectors.SPEND_GROUPS:
                    assert shown(group, since) == summed_one_by_one(group, since), (reader, local, since, group)
    expected = {name: Decimal(0) for name in ProviderAccount.objects.values_list("name", flat=True)}
    for _month, name, amount in summed_one_by_one("account", datetime(2000, 1, 1, tzinfo=UTC)):
        expected[name] += amount
    assert {f.name: f.spend for f in selectors.accounts_for_metrics()} == expected


@pytest.mark.parametrize("seed", [1, 2])
def test_kept_months_show_what_every_rental_adds_up_to(settings, seed):
    settings.TIME_ZONE = TEAM
    now = timezone.now()
    random_desk(seed, now)
    assert services.spend_months_summarise(now=now) >= 13
    assert SpendMonth.objects.filter(stale=False).count() >= 13
    assert_same_figures(now)


def test_a_revoke_or_a_cancel_of_a_rental_from_a_closed_month_shows_at_once_and_after_summing(settings):
    settings.TIME_ZONE = TEAM
    now = timezone.now()
    rentals = random_desk(3, now)
    services.spend_months_summarise(now=now)
    old = [r for r in rentals if r.status in (RentalStatus.ACTIVE, RentalStatus.EXPIRED) and r.cost
           and r.created_at < now - timedelta(days=70)]  # fmt: skip
    services.rental_mark_ended(rental=old[0], status=RentalStatus.REVOKED, polled_id=old[0].provider_rent_id)
    services.rental_mark_ended(rental=old[1], status=RentalStatus.CANCELLED, polled_id=old[1].provider_rent_id)
    assert_same_figures(now)
    assert services.spend_months_summarise(now=now) >= 1
    assert_same_figures(now)


def test_only_months_closed_for_the_grace_period_are_summed(settings):
    settings.TIME_ZONE = TEAM
    now = timezone.now()
    this_month = month_start_in(now, ZoneInfo(TEAM))
    RentalFactory(cost=Decimal("2"), rented_at=this_month - timedelta(days=40))
    RentalFactory(cost=Decimal("3"), rented_at=this_month + timedelta(minutes=1))
    services.spend_months_summarise(now=this_month + services.SUMMARY_GRACE - timedelta(seconds=1))
    kept = set(SpendMonth.objects.values_list("starts_at", flat=True))
    assert this_month not in kept and month_start_in(this_month - timedelta(days=1), ZoneInfo(TEAM)) not in kept
    assert next_month(month_start_in(this_month - timedelta(days=40), ZoneInfo(TEAM))) not in kept


@pytest.mark.django_db(transaction=True)
def test_an_extension_of_a_closed_month_settled_late_by_reconciliation_counts_at_once(
    settings, simulator, account, catalog, short_timeouts
):
    settings.TIME_ZONE = TEAM
    rental = services.rental_rent(
        account=account, service=catalog["telegram"], country=catalog["ukraine"], operator="any", hours=24,
        webhook=True, nonce=uuid.uuid4(), requested_by=None, via="cli",
    ).rental  # fmt: skip
    simulator._post_json("advance", {"seconds": 25 * 3600})  # ended: extending re-orders it under a new id
    simulator.force(delay=2.0, action="continueRentNumber")
    unknown = services.rental_extend(rental=rental, hours=24, nonce=uuid.uuid4(), requested_by=None, price_quoted=None)
    assert unknown.extension.state == AttemptState.UNKNOWN
    now = timezone.now()
    months_ago = now - timedelta(days=70)  # sent then, its answer lost: its month has closed since
    Rental.objects.filter(pk=rental.pk).update(created_at=months_ago - timedelta(hours=1))
    RentalExtension.objects.filter(pk=unknown.extension.pk).update(created_at=months_ago)
    services.spend_months_summarise(now=now)
    before = shown("account", datetime(2000, 1, 1, tzinfo=UTC))
    assert services.account_reconcile(account_id=account.pk, now=timezone.now()).resolved_extensions
    assert RentalExtension.objects.get(pk=unknown.extension.pk).cost
    assert shown("account", datetime(2000, 1, 1, tzinfo=UTC)) != before
    assert_same_figures(timezone.now())


@pytest.fixture
def rental_of_a_closed_month(settings, simulator, account, catalog, short_timeouts) -> Rental:
    """A rent on the simulator, recorded as made 70 days ago (its month closed since, with another paid
    rental: a month nothing was paid in is read live), its rent over at the provider (extending it
    re-orders it under the next id)."""
    settings.TIME_ZONE = TEAM
    rental = services.rental_rent(
        account=account, service=catalog["telegram"], country=catalog["ukraine"], operator="any", hours=24,
        webhook=True, nonce=uuid.uuid4(), requested_by=None, via="cli",
    ).rental  # fmt: skip
    simulator._post_json("advance", {"seconds": 25 * 3600})
    Rental.objects.filter(pk=rental.pk).update(created_at=timezone.now() - timedelta(days=70))
    RentalFactory(account=account, cost=Decimal("1.25"), rented_at=timezone.now() - timedelta(days=70))
    rental.refresh_from_db()
    assert rental.cost
    return rental


def extended_again(rental: Rental) -> None:
    outcome = services.rental_extend(rental=rental, hours=24, nonce=uuid.uuid4(), requested_by=None, price_quoted=None)
    assert outcome.ok
    assert Rental.objects.get(pk=rental.pk).status == RentalStatus.ACTIVE


@pytest.mark.django_db(transaction=True)
def test_a_rental_of_a_closed_month_found_cancelled_when_finished_is_refunded_at_once(
    simulator, rental_of_a_closed_month
):
    services.spend_months_summarise(now=timezone.now())
    simulator.force(action="setRentStatus", token="ALREADY_CANCEL")
    assert services.rental_finish(rental=rental_of_a_closed_month, requested_by=None).ok
    assert Rental.objects.get(pk=rental_of_a_closed_month.pk).status == RentalStatus.CANCELLED
    assert_same_figures(timezone.now())


@pytest.mark.django_db(transaction=True)
def test_a_revoked_rental_of_a_closed_month_extended_again_is_paid_again_at_once(rental_of_a_closed_month):
    rental = rental_of_a_closed_month
    services.rental_mark_ended(rental=rental, status=RentalStatus.REVOKED, polled_id=rental.provider_rent_id)
    services.spend_months_summarise(now=timezone.now())  # the refund kept in its month's sums
    rental.refresh_from_db()
    extended_again(rental)
    assert_same_figures(timezone.now())


@pytest.mark.django_db(transaction=True)
def test_a_placeholder_adopted_in_a_closed_month_gives_way_to_its_rental_without_counting_twice(
    account, rental_of_a_closed_month
):
    rental = rental_of_a_closed_month
    # Reconciliation saw the re-ordered rent in the provider's list first and adopted it as made elsewhere.
    placeholder = RentalFactory(account=account, provider_rent_id=str(int(rental.provider_rent_id) + 1),
                                cost=Decimal("7.5"), rented_at=timezone.now() - timedelta(days=40))  # fmt: skip
    services.spend_months_summarise(now=timezone.now())
    extended_again(rental)
    assert not Rental.objects.filter(pk=placeholder.pk).exists()
    assert_same_figures(timezone.now())


def test_refunded_rentals_are_not_spend():
    from rentals.selectors import spend_by_month

    RentalFactory(cost=Decimal("2"))
    RentalFactory(cost=Decimal("5"), status=RentalStatus.CANCELLED)
    RentalFactory(cost=Decimal("7"), status=RentalStatus.REVOKED)
    rows = spend_by_month(group="account", since=timezone.now() - timedelta(days=1))
    assert sum(row.amount for row in rows) == Decimal("2")
