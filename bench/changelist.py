"""Inventory and rental pages: what a page costs does not grow with the table.

The Rentals list at 1k and at 100k rentals: the same number of SQL queries for every filter, the
search and the SMS columns, the default pages and each search within 1.5x the time. A rental's page with 10k SMS
within 1.5x of one with 10.

Run: .venv/bin/python bench/changelist.py   (BENCH_DATABASE_URL=postgres://... for PostgreSQL)
"""

from __future__ import annotations

import time
from datetime import timedelta

from _setup import django_on_scratch_database, finish, make_rentals, note, planner_statistics_refreshed, report, sized

SMALL, LARGE = 1_000, sized(100_000, 10_000)
FEW_SMS, MANY_SMS = 10, sized(10_000, 2_000)
ROUNDS = sized(7, 5)  # the quickest of these: a single load on a shared machine varies by a third
MAX_TIME_RATIO = 1.5
DEFAULT_PAGES = ["", "?expiring=72h"]


def inventory_pages(user_id: int) -> dict[str, str]:
    """Every filter, the search (a number, words of a label or an SMS), and all columns."""
    from rentals.models import Country, ProviderAccount, Service

    now = time.strftime("%Y-%m-%d")
    ids = {"service": Service.objects.get(code="tg").pk, "country": Country.objects.get(provider_id=1).pk,
           "account": ProviderAccount.objects.get(name="Bench").pk}  # fmt: skip
    return {
        "default": "",
        "status active": "?status__exact=active",
        **{f"expiring {span}": f"?expiring={span}" for span in ("2h", "24h", "72h", "expired")},
        "assigned to me": "?mine=assigned",
        "rented by me": "?mine=rented",
        "end date between": f"?end_date__range__gte={now}&end_date__range__lte={now}",
        "service": f"?service__id__exact={ids['service']}",
        "country": f"?country__id__exact={ids['country']}",
        "account": f"?account__id__exact={ids['account']}",
        "assignee": f"?assignee__id__exact={user_id}",
        # Numbers as people write them: one rental's, whole (3805 00000123 is the 124th made), and a tail.
        "search a number": "?q=%2B380+50+000+0123",
        "search a tail": "?q=00123",
        "search words": "?q=shop+login",
        "search words found nowhere": "?q=parcel+desk",
    }


def page_cost(client: object, url: str) -> tuple[float, int]:
    """The quickest of ROUNDS loads (the page's own cost: anything slower met other work on the machine),
    and the queries of one load."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timings = []
    for _ in range(ROUNDS):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)  # type: ignore[attr-defined]
            timings.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return min(timings), len(queries)


def with_people_and_sms(user: object, count: int) -> None:
    """Some rentals have an SMS (the list's SMS columns) and are someone's, as in a team's inventory."""
    from django.utils import timezone

    from rentals.models import Rental

    some = Rental.objects.order_by("pk").values_list("pk", flat=True)[: count // 10]
    Rental.objects.filter(pk__in=list(some)).update(
        assignee=user, rented_by=user, label="Shop login", last_sms_at=timezone.now(),
        last_sms_text="Your code is 123456", last_sms_code="123456",
    )  # fmt: skip


def inventory_at(client: object, pages: dict[str, str], every_column: object) -> dict[str, tuple[float, int]]:
    base = "/admin/rentals/rental/"
    costs = {name: page_cost(client, base + query) for name, query in pages.items()}
    costs["all columns"] = page_cost(every_column, base)
    costs["two default pages"] = (sum(page_cost(client, base + q)[0] for q in DEFAULT_PAGES), 0)
    return costs


def rental_page_with(sms: int) -> int:
    """A rental with ``sms`` SMS; its id."""
    from django.utils import timezone

    from rentals.models import Rental, SmsMessage

    rental = Rental.objects.order_by("-pk").first()
    rental = Rental.objects.create(account=rental.account, provider_rent_id=f"sms-{sms}", number=f"38099{sms:07d}",
                                   service=rental.service, country=rental.country, hours=720,
                                   end_date=timezone.now() + timedelta(days=30))  # fmt: skip
    now = timezone.now()
    SmsMessage.objects.bulk_create(
        (SmsMessage(rental=rental, sender="Bank", text=f"Your code is {n:06d}", code=f"{n:06d}",
                    received_at=now - timedelta(seconds=n), dedupe_key=str(n), source="webhook")
         for n in range(sms)),
        batch_size=5000,
    )  # fmt: skip
    planner_statistics_refreshed()
    return rental.pk


def main() -> None:
    django_on_scratch_database()
    from django.contrib.auth.models import User
    from django.test import Client

    user = User.objects.create_superuser("bench", password="pw")
    client, every_column = Client(), Client()
    for session in (client, every_column):
        session.force_login(user)
    every_column.post("/admin/rentals/rental/columns/", {"show": "all"})  # "All columns": cost, account, ...
    make_rentals(SMALL, due_within_hours=48, due=50)
    with_people_and_sms(user, SMALL)
    planner_statistics_refreshed()
    pages = inventory_pages(user.pk)
    small = inventory_at(client, pages, every_column)
    make_rentals(LARGE - SMALL)
    with_people_and_sms(user, LARGE)
    planner_statistics_refreshed()
    large = inventory_at(client, pages, every_column)

    shown = [*pages, "all columns"]
    changed = [name for name in shown if small[name][1] != large[name][1]]
    for name in shown:
        note(f"{name}", f"{small[name][1]} -> {large[name][1]} queries, {large[name][0] / small[name][0]:.2f}x time")
    report(
        f"inventory: queries per page at {SMALL // 1000}k and {LARGE // 1000}k rentals",
        f"{len(shown) - len(changed)} of {len(shown)} pages the same"
        + (f" (not: {', '.join(changed)})" if changed else ""),
        "the same for every filter, the search and the SMS columns",
        not changed,
    )
    searches = [name for name in pages if name.startswith("search")]
    slowest = max(searches, key=lambda name: large[name][0] / small[name][0])
    ratio = large[slowest][0] / small[slowest][0]
    report(f"inventory: the slowest search, {LARGE // 1000}k vs {SMALL // 1000}k rentals", f"{ratio:.2f}x ({slowest})",
           f"<= {MAX_TIME_RATIO}x", ratio <= MAX_TIME_RATIO)  # fmt: skip
    ratio = large["two default pages"][0] / small["two default pages"][0]
    report(f"inventory: time of two default pages, {LARGE // 1000}k vs {SMALL // 1000}k rentals", f"{ratio:.2f}x",
           f"<= {MAX_TIME_RATIO}x", ratio <= MAX_TIME_RATIO)  # fmt: skip

    few, many = (
        page_cost(client, f"/admin/rentals/rental/{rental_page_with(sms)}/change/") for sms in (FEW_SMS, MANY_SMS)
    )
    report(
        f"rental page with {MANY_SMS // 1000}k SMS vs {FEW_SMS}",
        f"{many[0] / few[0]:.2f}x ({many[0] * 1000:.0f} ms vs {few[0] * 1000:.0f} ms; {many[1]} vs {few[1]} queries)",
        f"<= {MAX_TIME_RATIO}x",
        many[0] / few[0] <= MAX_TIME_RATIO,
    )
    finish()


if __name__ == "__main__":
    main()
