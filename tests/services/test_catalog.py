"""The catalog from the provider: prices and stock, and what the rent form shows of them."""

import json
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from rentals import services
from rentals.models import Country, Offer, ProviderAccount, Service
from rentals.provider.destinations import url_origin

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fast_rate(settings):
    settings.SMSONLINE_POLL_RATE = 100


@pytest.fixture
def catalog(catalog):
    """Only the shared fixture's catalog is offered (the seeded catalog may be there too)."""
    Country.objects.exclude(pk__in=[catalog["ukraine"].pk, catalog["russia"].pk]).update(is_active=False)
    Service.objects.exclude(pk__in=[catalog["telegram"].pk, catalog["whatsapp"].pk]).delete()
    return catalog


def test_sync_stores_price_and_stock_per_service_country_and_time(simulator, account, catalog):
    simulator.set_stock(country=1, service="tg", operator="any", count=7)
    written = services.catalog_sync(now=timezone.now())
    offer = Offer.objects.get(service=catalog["telegram"], country=catalog["ukraine"], hours=24)
    assert (offer.cost, offer.available) == (Decimal("0.9000"), 7)
    assert Offer.objects.filter(country=catalog["russia"]).exists()
    assert written == Offer.objects.count()
    assert len(simulator.requests("getRentPrices")) == 2 * 9  # two active countries, nine rent times
    added = Service.objects.get(code="full")
    assert added.is_active is False  # new services wait for staff to switch them on
    assert services.catalog_sync(now=timezone.now()) == 0 and Offer.objects.count() == written  # nothing changed


def test_an_account_that_cannot_reach_sms_online_gives_the_catalog_to_the_next(simulator, account, catalog):
    """The first account's URL has a typo (or its host is down): the next account reads the catalog,
    after one request to the first, not one per country and rent time."""
    from ..conftest import SANDBOX_KEY
    from ..factories import AccountFactory

    typo = "http://127.0.0.1:9/stubs/handler_api.php"
    ProviderAccount.objects.filter(pk=account.pk).update(api_url=typo, api_key_origin=url_origin(typo))
    AccountFactory(name="Second", api_url=simulator.api_url, api_key=SANDBOX_KEY)
    assert services.catalog_sync(now=timezone.now()) > 0
    assert Offer.objects.filter(service=catalog["telegram"], country=catalog["ukraine"], hours=24).exists()
    assert len(simulator.requests("getRentPrices")) == 2 * 9


def test_sync_falls_back_when_prices_are_not_offered_and_remembers_it(simulator, account, catalog):
    simulator.dialect(unknown_actions=["getRentPrices"])
    simulator.set_stock(country=1, service="tg", operator="any", count=7)
    services.catalog_sync(now=timezone.now())
    assert len(simulator.requests("getRentServicesAndCountries")) == 18
    assert len(simulator.requests("getRentPrices")) == 1  # one BAD_ACTION, then the account knows
    offer = Offer.objects.get(service=catalog["telegram"], country=catalog["ukraine"], hours=24)
    assert (offer.cost, offer.available) == (Decimal("0.9000"), 7)
    services.catalog_sync(now=timezone.now())
    assert len(simulator.requests("getRentPrices")) == 1


@pytest.mark.parametrize("dialect", [{}, {"quant": "object", "countries_key": "counties", "lists": "array"}])
def test_no_stock_from_the_fallback_sets_the_offers_to_zero(simulator, account, catalog, dialect):
    from rentals.simulator.state import SERVICES

    simulator.dialect(unknown_actions=["getRentPrices"], **dialect)
    services.catalog_sync(now=timezone.now())
    assert Offer.objects.filter(available__gt=0).exists()
    for code in SERVICES:
        simulator.set_stock(country=1, service=code, operator="any", count=0)
    services.catalog_sync(now=timezone.now())
    ukraine = Offer.objects.filter(country=catalog["ukraine"])
    assert ukraine.exists() and set(ukraine.values_list("available", flat=True)) == {0}
    assert Offer.objects.filter(country=catalog["russia"], available__gt=0).exists()


def test_the_rent_form_carries_the_offers(client, simulator, account, catalog):
    services.catalog_sync(now=timezone.now())
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    html = client.get(reverse("admin:rentals_rental_rent")).content.decode()
    offers = json.loads(re.search(r'<script id="rent-offers" type="application/json">(.*?)</script>', html).group(1))
    key = f"{catalog['telegram'].pk}:{catalog['ukraine'].pk}:72"
    assert offers[key]["cost"] == "2.20" and offers[key]["available"] == 50


def test_a_service_no_longer_offered_has_no_stock(simulator, account, catalog):
    services.catalog_sync(now=timezone.now())
    for _ in range(18):
        simulator.force(token="NO_NUMBERS", action="getRentPrices")
    services.catalog_sync(now=timezone.now())
    assert set(Offer.objects.values_list("available", flat=True)) == {0}
