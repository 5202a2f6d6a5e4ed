"""Requests no person would make, but anyone can: each gets a clear 4xx, never a server error.

A NUL character fails any query on PostgreSQL (it refuses NUL in text); a number past 64 bits fails
SQLite's; "²" passes ``str.isdigit`` but not ``int``. Run on both databases, as the whole suite is.
"""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from .conftest import manage
from .factories import RentalFactory
from .test_api import Script, fresh_counts  # noqa: F401 - each test starts with no API requests counted

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(client):
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/admin/rentals/rental/?status__exact=%00",
        "/admin/rentals/rentattempt/?state__exact=%00",
        "/admin/rentals/rentattempt/?error_token__exact=%00",
        "/admin/rentals/rental/?q=%00",
        "/admin/rentals/rental/%00/change/",
    ],
)
def test_a_nul_character_in_an_admin_address_is_a_bad_request(boss, path):
    response = boss.get(path)
    assert response.status_code == 400 and "NUL" in response.content.decode()


def test_a_nul_character_in_a_form_is_a_bad_request(boss):
    rental = RentalFactory()
    changelist = reverse("admin:rentals_rental_changelist")
    response = boss.post(changelist, {"action": "claim", "_selected_action": ["\x00"], "index": "0"})
    assert response.status_code == 400
    boss.post(changelist, {"action": "claim", "_selected_action": [str(rental.pk)], "index": "0"})
    rental.refresh_from_db()
    assert rental.assignee is not None  # the same form without it works


@pytest.mark.parametrize(
    "query",
    [
        "created_at__year=9999&created_at__month=12&created_at__day=31",  # the drill-down's next day overflows
        "created_at__year=99999999999999999999",
    ],
)
@pytest.mark.parametrize("model", ["rentattempt", "rentalextension", "errorevent"])
def test_a_date_drill_down_past_the_calendar_is_a_bad_request(boss, model, query):
    response = boss.get(f"/admin/rentals/{model}/?{query}")
    assert response.status_code == 400 and "out of range" in response.content.decode()


def test_ids_in_odd_digits_or_past_64_bits_find_nothing(boss):
    rental = RentalFactory(last_sms_code="4242")
    live = reverse("admin:rentals_rental_live_list")
    response = boss.get(live, {"ids": f"{rental.pk},\u00b9,99999999999999999999,-1"})
    assert response.status_code == 200 and list(response.json()["rentals"]) == [str(rental.pk)]
    assert boss.get("/admin/rentals/rental/%C2%B9/change/").status_code == 302  # "does not exist"
    assert boss.get("/admin/rentals/rental/99999999999999999999/change/").status_code == 302
    for version in ("abc", "1.5", "\u00b9"):
        assert boss.get(f"/admin/rentals/rental/{rental.pk}/history/{version}/").status_code == 404
    assert boss.get(f"/admin/rentals/rental/abc/history/{rental.pk}/").status_code == 404


def test_the_api_refuses_a_nul_a_huge_offset_and_a_huge_body_in_json(client):
    script = Script(client, User.objects.create_superuser("script-owner", password="pw"))
    assert script.get("rentals", account="\x00").status_code == 400
    refused = script.get("rentals", offset=str(2**63))
    assert refused.status_code == 400 and refused.json()["error"] == "BAD_ARGUMENTS"
    assert script.get("rentals", offset="1000000000").status_code == 200
    too_big = script.post("rentals", {"notes": "x" * 3_000_000})
    assert too_big.status_code == 413 and too_big.json()["error"] == "BODY_TOO_LARGE"


def test_send_test_sms_names_a_rental_in_odd_digits_as_not_found(capsys):
    status, _, err = manage("send_test_sms", "\u00b2", capsys=capsys)
    assert status == 2 and "No rental with id or number" in err
