"""Years of data: the inventory list, the dashboard (the admin's index) and the costs page with 1M
rentals and 10M SMS cost what they cost with 10k: the same queries, and within 2x the time on
PostgreSQL (3x on SQLite). The inventory's searches cost what they cost with 10k within 1.5x, for a
person of the Viewer role: the search target, which runs to 100k rentals on SQLite (the quick size)
and to 1M on PostgreSQL; SQLite's figure at 1M is printed without it. A person who may read SMS also
finds rentals by their SMS' text, which no index serves (its cost is printed beside).

The desk grows as a team's does: the same 1,000 active rentals, and behind them the ended ones of the
past four years (a quarter of them in the costs page's twelve months), ten SMS each. The costs page
reads closed months from their sums (rentals/spend.py): they are summed after each growth, as the
hourly task would, and the current month is summed live. The rows are
written by one INSERT ... SELECT over a series (generate_series on PostgreSQL, a recursive CTE on
SQLite), copying a template row made through the ORM: the ORM row by row would take hours.

Run: .venv/bin/python bench/big_tables.py   (BENCH_DATABASE_URL=postgres://... for PostgreSQL)
"""

from __future__ import annotations

import time

from _setup import django_on_scratch_database, finish, note, planner_statistics_refreshed, report, sized

ACTIVE = 1_000
SMALL, LARGE = 10_000, sized(1_000_000, 100_000)
SMS_PER_RENTAL = 10
HISTORY_MINUTES = 4 * 365 * 24 * 60  # ended rentals were made over the past four years
ROUNDS = sized(7, 5)
PAGES = {"inventory": "/admin/rentals/rental/", "dashboard": "/admin/", "costs": "/admin/rentals/rental/costs/"}
# One rental in ten is labelled "Shop login" (as in changelist.py), the others have no label; the active
# ones are numbered 399000000001...
LABELLED = "CASE WHEN n % 10 = 0 THEN '{}' ELSE '{}' END"
SEARCHES = {
    "search a number": "/admin/rentals/rental/?q=%2B399+000+000+123",
    "search a tail": "/admin/rentals/rental/?q=000123",
    "search words": "/admin/rentals/rental/?q=shop+login",
    "search words found nowhere": "/admin/rentals/rental/?q=parcel+desk",
}
MAX_SEARCH_RATIO = 1.5
SEARCH_TARGET_ON_SQLITE_UP_TO = 100_000


def series(count: int) -> str:
    """A FROM item giving n = 1..count."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"generate_series(1, {count}) AS g(n)"
    return f"(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {count}) SELECT n FROM s) g"  # noqa: S608


def minutes_ago(expression: str) -> str:
    """SQL for the moment ``expression`` minutes before now, as Django stores it."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"(now() - ({expression}) * interval '1 minute')"
    return f"strftime('%Y-%m-%d %H:%M:%f', 'now', printf('%d minutes', -({expression})))"


def copies(model: type, template_id: int, count: int, overrides: dict[str, str]) -> None:
    """``count`` copies of the template row, some columns given as SQL of ``n`` (1..count)."""
    from django.db import connection

    columns = [field.column for field in model._meta.concrete_fields if field.column != "id"]
    values = [overrides.get(column, f"t.{connection.ops.quote_name(column)}") for column in columns]
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(map(connection.ops.quote_name, columns))}) "  # noqa: S608
            f"SELECT {', '.join(values)} FROM {table} t, {series(count)} WHERE t.id = {template_id}"
        )  # our own SQL: the model's columns and numbers, nothing from outside


def templates() -> tuple[int, int]:
    """An ended rental and its SMS, made through the ORM: the rows the bulk copies follow."""
    from decimal import Decimal

    from django.utils import timezone

    from rentals.models import Country, ProviderAccount, Rental, RentalStatus, Service, SmsMessage

    account = ProviderAccount.objects.create(
        name="Bench", api_url="http://127.0.0.1:9/stubs/handler_api.php", api_key_ciphertext="x"
    )
    now = timezone.now()
    rental = Rental.objects.create(
        account=account, provider_rent_id="template", number="399000000000", service=Service.objects.get(code="tg"),
        country=Country.objects.get(provider_id=1), hours=720, end_date=now, status=RentalStatus.FINISHED,
        cost=Decimal("1.5"), label="Shop login", last_sms_at=now, last_sms_text="Your code is 123456",
        last_sms_code="123456",
    )  # fmt: skip
    sms = SmsMessage.objects.create(rental=rental, sender="Bank", text="Your code is 123456", code="123456",
                                    received_at=now, dedupe_key="template", source="webhook")  # fmt: skip
    return rental.pk, sms.pk


def rentals_added(template_id: int, count: int, *, first: int, active: bool) -> None:
    """``count`` rentals numbered from ``first``: active ones ending in the next 60 days, or ended ones
    made over the past four years."""
    from rentals.models import Rental

    number = f"CAST({390_000_000_000 + first} + n AS TEXT)"
    made = f"(n * {HISTORY_MINUTES // max(count, 1)}) % {HISTORY_MINUTES} + 1440" if not active else "n % 1440"
    ends = "-(n % 86400) - 60" if active else f"({made}) - 43200"
    copies(Rental, template_id, count, {
        "provider_rent_id": f"CAST({first} + n AS TEXT)", "number": number, "number_reversed": f"REVERSE({number})",
        "status": "'active'" if active else "'finished'", "created_at": minutes_ago(made),
        "end_date": minutes_ago(ends), "ended_at": "NULL" if active else minutes_ago(ends), "webhook_token": "NULL",
        "label": LABELLED.format("Shop login", ""), "search_words": LABELLED.format("shop login\n", "\n"),  # as saved
    })  # fmt: skip


def sms_added(template_id: int, count: int, rentals: tuple[int, int], *, first_key: int) -> None:
    """``count`` SMS spread over the rentals whose ids are in ``rentals`` (first, last)."""
    from rentals.models import SmsMessage

    first, last = rentals
    copies(SmsMessage, template_id, count, {
        "rental_id": f"{first} + n % {last - first + 1}", "dedupe_key": f"CAST({first_key} + n AS TEXT)",
        "received_at": minutes_ago("n % 2000000"), "created_at": minutes_ago("n % 2000000"),
    })  # fmt: skip


def desk_grown_to(template: tuple[int, int], rentals: int) -> None:
    """Ended rentals and SMS added until the desk holds ``rentals`` and ten SMS each."""
    from django.db.models import Max, Min

    from rentals.models import Rental, SmsMessage

    started = time.perf_counter()
    have, sms = Rental.objects.count(), SmsMessage.objects.count()
    rentals_added(template[0], rentals - have, first=have, active=False)
    ids = Rental.objects.aggregate(first=Min("pk"), last=Max("pk"))
    sms_added(template[1], rentals * SMS_PER_RENTAL - sms, (ids["first"], ids["last"]), first_key=sms)
    planner_statistics_refreshed()
    note(f"made {rentals:,} rentals and {rentals * SMS_PER_RENTAL:,} SMS", f"{time.perf_counter() - started:.0f} s")
    months_summed()


def months_summed() -> None:
    """The closed months summed, as the hourly task keeps them: the rows above were written by SQL,
    past the services that mark a changed month, so every month is summed afresh."""
    from django.utils import timezone

    from rentals import services
    from rentals.models import SpendMonth

    started = time.perf_counter()
    SpendMonth.objects.all().delete()
    count = services.spend_months_summarise(now=timezone.now())
    note(f"summed the spend of {count} closed months", f"{time.perf_counter() - started:.1f} s")


def main() -> None:
    django_on_scratch_database()
    from django.contrib.auth.models import User
    from django.test import Client

    user = User.objects.create_superuser("bench", password="pw")
    client, viewer = Client(), Client()
    client.force_login(user)
    viewer.force_login(a_viewer())
    template = templates()
    rentals_added(template[0], ACTIVE, first=10**6 * 9, active=True)
    desk_grown_to(template, SMALL)
    for url in PAGES.values():  # the process's first loads compile templates and read the URLconf
        client.get(url)
    viewer.get(SEARCHES["search words"])
    small = pages_cost(client, viewer)
    desk_grown_to(template, LARGE)
    large = pages_cost(client, viewer)

    from django.db import connection

    most = 2.0 if connection.vendor == "postgresql" else 3.0
    sizes = f"{LARGE // 1000}k rentals, {LARGE * SMS_PER_RENTAL / 1e6:g}M SMS vs {SMALL // 1000}k"
    for name in PAGES:
        (fast, few), (slow, many) = small[name], large[name]
        ratio = slow / fast
        figure = f"{ratio:.2f}x ({slow * 1000:.0f} ms vs {fast * 1000:.0f} ms), {few} -> {many} queries"
        target = "the same queries; <= 2x on PostgreSQL, 3x on SQLite"
        report(f"{name} page at {sizes}", figure, target, ratio <= most and few == many)
    searches_reported(small, large, sizes)
    finish()


def a_viewer() -> object:
    from django.contrib.auth.models import Group, User

    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.groups.add(Group.objects.get(name="Viewer"))
    return viewer


def pages_cost(client: object, viewer: object) -> dict[str, tuple[float, int]]:
    """Each page's cost (``changelist.page_cost``); the searches as a viewer, and words as a reader of SMS."""
    from changelist import page_cost

    costs = {name: page_cost(client, url) for name, url in PAGES.items()}
    costs |= {name: page_cost(viewer, url) for name, url in SEARCHES.items()}
    costs["search words, with SMS"] = page_cost(client, SEARCHES["search words"])
    return costs


def searches_reported(small: dict[str, tuple[float, int]], large: dict[str, tuple[float, int]], sizes: str) -> None:
    for name in [*SEARCHES, "search words, with SMS"]:
        note(name, f"{small[name][1]} -> {large[name][1]} queries, {large[name][0] / small[name][0]:.2f}x time "
                   f"({large[name][0] * 1000:.0f} ms vs {small[name][0] * 1000:.0f} ms)")  # fmt: skip
    slowest = max(SEARCHES, key=lambda name: large[name][0] / small[name][0])
    ratio = large[slowest][0] / small[slowest][0]
    same = all(small[name][1] == large[name][1] for name in SEARCHES)
    from django.db import connection

    if connection.vendor != "postgresql" and LARGE > SEARCH_TARGET_ON_SQLITE_UP_TO:
        note(f"inventory: the slowest search at {sizes}, as a viewer (no target on SQLite past "
             f"{SEARCH_TARGET_ON_SQLITE_UP_TO // 1000}k rentals)", f"{ratio:.2f}x ({slowest})")  # fmt: skip
        return
    report(f"inventory: the slowest search at {sizes}, as a viewer", f"{ratio:.2f}x ({slowest})"
           + ("" if same else ", queries not the same"), f"the same queries; <= {MAX_SEARCH_RATIO}x",
           ratio <= MAX_SEARCH_RATIO and same)  # fmt: skip


if __name__ == "__main__":
    main()
