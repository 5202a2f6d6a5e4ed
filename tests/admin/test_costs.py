"""The costs page: spend per month by account, service, country and person, and what is committed."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from rentals.models import AttemptState, Rental, RentalExtension, RentalStatus

from ..factories import AccountFactory, RentalFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
URL = reverse("admin:rentals_rental_costs")


def cells(response) -> list[list[str]]:
    table = re.search(r'<table id="spend-table">.*?</table>', response.content.decode(), re.S).group(0)
    return [re.findall(r"<t[dh]>(?:<strong>)?([^<]*)", row) for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)]


def test_spend_per_month_by_account_and_by_person(boss):
    now = timezone.now()
    main, spare = AccountFactory(name="Main"), AccountFactory(name="Spare")
    olena = UserFactory(username="olena")
    first = RentalFactory(account=main, cost=Decimal("1.50"), rented_by=olena)
    RentalFactory(account=spare, cost=Decimal("2.00"))
    old = RentalFactory(account=main, cost=Decimal("4.00"))
    Rental.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=40))
    RentalExtension.objects.create(rental=first, hours=24, state=AttemptState.SUCCEEDED, cost=Decimal("0.90"),
                                   old_rent_id=first.provider_rent_id, requested_by=olena)  # fmt: skip
    this_month, last_month = now.strftime("%Y-%m"), (now - timedelta(days=40)).strftime("%Y-%m")
    by_account = cells(boss.get(URL, {"by": "account"}))
    assert by_account[0] == ["Month", "Main", "Spare", "Total"]
    assert by_account[1] == [this_month, "2.40", "2.00", "4.40"]
    assert by_account[2] == [last_month, "4.00", "-", "4.00"]
    by_person = cells(boss.get(URL, {"by": "person"}))
    assert by_person[0] == ["Month", "(unknown)", "olena", "Total"] and by_person[1][2] == "2.40"


def test_the_chart_is_drawn_locally_and_the_committed_spend_is_shown(boss):
    RentalFactory(cost=Decimal("3.00"), end_date=timezone.now() + timedelta(days=2))
    RentalFactory(cost=Decimal("5.00"), status=RentalStatus.FINISHED)
    html = boss.get(URL).content.decode()
    assert '<svg id="spend-chart"' in html and "<rect" in html
    assert not re.search(r'<(script|link)[^>]+(src|href)="(https?:)?//', html)  # nothing from another server
    assert re.search(r"Active rentals: <strong>1</strong>.*?<strong>3.00 USD</strong>", html, re.S)


def test_the_chart_has_a_slot_for_each_of_the_last_12_months_and_a_bar_where_something_was_paid(boss):
    RentalFactory(cost=Decimal("3.00"))  # a team's first month
    html = boss.get(URL).content.decode()
    months = re.findall(r'class="bar-month">([^<]+)<', html)
    now = timezone.localtime()
    counted = [int(month[:4]) * 12 + int(month[5:]) - 1 for month in months]
    assert counted == list(range(now.year * 12 + now.month - 12, now.year * 12 + now.month))
    assert html.count("<rect") == 1 and "Nothing paid" not in html and "{#" not in html


def test_the_chart_says_when_nothing_was_paid(boss):
    html = boss.get(URL).content.decode()
    assert "Nothing paid in the last 12 months." in html and "<rect" not in html


def test_the_costs_page_needs_the_inventory_permission(client):
    client.force_login(User.objects.create_user("nobody", password="pw", is_staff=True))
    assert client.get(URL).status_code == 403
