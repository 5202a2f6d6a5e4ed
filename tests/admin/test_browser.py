"""The main flow in a real browser: log in, click "Rent number", submit, see the number.

Uses Debian's chromium (no browser download); skipped, with the reason, where none is installed.
"""

import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connections
from django.utils import timezone

from rentals import services
from rentals.models import Country, ForwardState, Rental, SmsForward, SmsMessage

CHROMIUM = shutil.which(os.environ.get("CHROMIUM", "chromium"))
# Keeps chromium off the network: this machine reaches nothing but loopback.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (Debian package 'chromium')"),
]


@pytest.fixture
def page(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls made by the test
    # itself are still synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page.set_default_timeout(15_000)
        violations = watch_the_content_security_policy(page)
        yield page
        browser.close()
        # Every page a test drove passed the Content-Security-Policy: no script, handler or style
        # the policy refused (it would have been left out, silently, for the person using it).
        assert not violations, violations
        # While Playwright's loop runs, Django keeps a separate connection for this context:
        # close it here, or the test database cannot be dropped at the end of the run.
        connections.close_all()


def watch_the_content_security_policy(page) -> list[str]:
    """What the browser refused under the Content-Security-Policy, as it says it on the console."""
    refused: list[str] = []
    page.on("console", lambda message: refused.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text else None)  # fmt: skip
    return refused


def log_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")


def choose_telegram_in_ukraine(page, base_url: str, *, hours: int) -> None:
    """From the inventory, "Rent number", then the service, country and rent time."""
    page.goto(f"{base_url}/admin/rentals/rental/")
    page.click("#rent-number-button")
    page.select_option("#id_service", label="Telegram (tg)")
    page.select_option("#id_country", label="Ukraine")
    page.select_option("#id_hours", value=str(hours))


def test_log_in_rent_a_number_and_see_it(live_server, simulator, account, catalog, settings, page):
    settings.SMSONLINE_POLL_RATE = 100
    Country.objects.exclude(pk__in=[catalog["ukraine"].pk]).update(is_active=False)
    services.catalog_sync(now=timezone.now())
    User.objects.create_superuser("boss", "boss@example.test", "correct-horse-battery")
    log_in(page, live_server.url, "boss", "correct-horse-battery")
    choose_telegram_in_ukraine(page, live_server.url, hours=72)
    page.select_option("#id_operator", label="Kyivstar (Ukraine)")
    assert page.inner_text("#rent-offer").startswith("2.20 USD, 50 numbers available")
    if screenshot_dir := os.environ.get("RENTDESK_SCREENSHOT_DIR"):
        page.screenshot(path=str(Path(screenshot_dir) / "rent-form.png"), full_page=True)
    page.click("#rent-number-form input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    rental = Rental.objects.get()
    message = page.inner_text(".messagelist .success")
    assert f"Rented {rental} until" in message
    assert rental.hours == 72 and rental.rented_by.username == "boss"
    assert f"{rental}" in page.inner_text("#content")


def test_the_rent_form_writes_its_price_as_a_ukrainian_page_does(live_server, account, catalog, boss_page):
    Country.objects.exclude(pk__in=[catalog["ukraine"].pk]).update(is_active=False)
    services.catalog_sync(now=timezone.now())
    page = boss_page
    page.context.add_cookies([{"name": "django_language", "value": "uk", "url": live_server.url}])
    page.goto(f"{live_server.url}/admin/rentals/rental/rent/")
    page.select_option("#id_service", value=str(catalog["telegram"].pk))
    page.select_option("#id_country", value=str(catalog["ukraine"].pk))
    page.select_option("#id_hours", value="72")
    assert page.inner_text("#rent-offer").startswith("2,20 USD, доступно номерів: 50")


def test_claim_filter_and_export(live_server, simulator, account, catalog, page):
    from django.contrib.auth.models import Group

    from ..factories import RentalFactory

    mine = RentalFactory(account=account, number="380671234567", label="Support line",
                         end_date=timezone.now() + timezone.timedelta(hours=5))  # fmt: skip
    RentalFactory(account=account, number="380679999999", end_date=timezone.now() + timezone.timedelta(hours=30))
    user = User.objects.create_user("olena", "olena@example.test", "correct-horse-battery", is_staff=True)
    user.groups.add(Group.objects.get(name="Operator"))
    log_in(page, live_server.url, "olena", "correct-horse-battery")
    page.goto(f"{live_server.url}/admin/rentals/rental/")
    page.check(f"input[name=_selected_action][value='{mine.pk}']")
    page.select_option("select[name=action]", "claim")
    with page.expect_navigation():  # read the page the action leads to, not the one it leaves
        page.click("button[name=index]")
    assert "You now take care of 1 more rental" in page.inner_text(".messagelist")
    with page.expect_navigation():
        page.click("text=Assigned to me")
    rows = page.inner_text("#result_list tbody")
    assert "+380671234567" in rows and "+380679999999" not in rows
    page.click("a.export_link")
    page.select_option("#id_format", label="csv")
    with page.expect_download() as download:
        page.click("input[type=submit][value=Submit]")
    exported = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "+380671234567" in exported and "Support line" in exported and "+380679999999" not in exported


@pytest.fixture
def boss_page(live_server, page):
    User.objects.create_superuser("boss", "boss@example.test", "correct-horse-battery")
    log_in(page, live_server.url, "boss", "correct-horse-battery")
    return page


def rent_for_the_browser(account, catalog, settings, live_server) -> Rental:
    """A rental whose webhook reaches this test's server, as a real deployment's would."""
    import uuid

    settings.PUBLIC_BASE_URL = live_server.url
    return services.rental_rent(
        account=account, service=catalog["telegram"], country=catalog["ukraine"], operator="any", hours=24,
        webhook=True, nonce=uuid.uuid4(), requested_by=None, via="cli", label="Магазин",
    ).rental  # fmt: skip


def test_a_code_appears_on_an_open_rental_page_and_in_the_list_without_reload(
    live_server, simulator, account, catalog, settings, eager_tasks, boss_page
):
    page = boss_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    rental = rent_for_the_browser(account, catalog, settings, live_server)
    page.goto(f"{live_server.url}/admin/rentals/rental/{rental.pk}/change/")
    assert page.is_visible("#live-sms .live-sms-waiting") and page.is_hidden("#live-sms table")  # no empty headings
    simulator._post_json("sms", {"rent_id": int(rental.provider_rent_id), "text": "Your code is 731904"})
    page.wait_for_selector("#live-sms .live-sms-row .copy-code", timeout=10_000)  # no reload
    assert page.is_hidden("#live-sms .live-sms-waiting") and page.is_visible("#live-sms table")
    row = page.inner_text("#live-sms .live-sms-row")
    assert "Your code is 731904" in row and __import__("re").search(r"\d\d:\d\d:\d\d", row)  # to the second
    page.click("#live-sms .copy-code")
    assert page.evaluate("navigator.clipboard.readText()") == "731904"
    assert page.inner_text("#live-sms .live-sms-forwarded") == "not forwarded (no chat chosen)"
    assert page.get_by_text("Your code is 731904").count() == 1  # one list of SMS on the page, not two
    # Where it was forwarded shows as it changes, without a reload.
    SmsForward.objects.create(sms=SmsMessage.objects.get(text="Your code is 731904"), state=ForwardState.SENT,
                              destinations="tgram://…/ops", sent_at=timezone.now())  # fmt: skip
    page.wait_for_selector("#live-sms .live-sms-forwarded:has-text('to tgram://…/ops at')", timeout=10_000)

    # The server goes away for a while (a restart): the page says so, and picks up again by itself.
    page.route("**/sms.json", lambda route: route.abort())
    page.wait_for_selector("#live-sms .live-sms-trouble", state="visible", timeout=10_000)
    page.unroute("**/sms.json")
    simulator._post_json("sms", {"rent_id": int(rental.provider_rent_id), "text": "Again: 909090"})
    page.wait_for_selector("#live-sms .copy-code[data-code='909090']", timeout=20_000)
    assert page.is_hidden("#live-sms .live-sms-trouble")

    page.goto(f"{live_server.url}/admin/rentals/rental/")
    simulator._post_json("sms", {"rent_id": int(rental.provider_rent_id), "text": "New code 552211"})
    page.wait_for_selector("#result_list .copy-code[data-code='552211']", timeout=10_000)
    assert "New code 552211" in page.inner_text("#result_list td.field-last_sms")


def test_the_inventory_and_the_attempts_fit_1400_pixels(live_server, simulator, account, catalog, settings, boss_page):
    from rentals.models import AttemptState, RentalExtension

    for _ in range(3):
        rental = rent_for_the_browser(account, catalog, settings, live_server)
        RentalExtension.objects.create(rental=rental, hours=720, old_rent_id=rental.provider_rent_id,
                                       state=AttemptState.FAILED, error_token="AUTO_RENEW_REFUSED",
                                       requested_by=User.objects.get(), automatic=True)  # fmt: skip
        Rental.objects.filter(pk=rental.pk).update(
            label="A label of a usual length", last_sms_code="123456", last_sms_at=timezone.now(),
            last_sms_text="Your verification code is 123456. Do not share it with anyone.",
        )  # fmt: skip
    page = boss_page
    page.set_viewport_size({"width": 1400, "height": 900})
    for path in ("rental", "rentattempt", "rentalextension"):
        page.goto(f"{live_server.url}/admin/rentals/{path}/")
        widths = page.evaluate(
            "[document.documentElement.scrollWidth, innerWidth,"
            " document.querySelector('#changelist .results').scrollWidth,"
            " document.querySelector('#changelist .results').clientWidth]"
        )
        assert widths[0] <= widths[1] and widths[2] <= widths[3], (path, widths)
    page.goto(f"{live_server.url}/admin/rentals/rental/")
    with page.expect_navigation():
        page.click("#columns-toggle")
    headers = page.inner_text("#result_list thead")
    assert "ACCOUNT" in headers.upper() and "COST" in headers.upper()  # the rest, one click away


def test_the_costs_chart_draws_its_bars_in_ukrainian(live_server, account, boss_page):
    from decimal import Decimal

    from ..factories import RentalFactory

    RentalFactory(account=account, cost=Decimal("2.2000"))
    RentalFactory(account=account, cost=Decimal("0.9000"))
    page = boss_page
    page.goto(f"{live_server.url}/admin/")
    with page.expect_navigation():
        page.select_option("#language-form select", "uk")
    page.goto(f"{live_server.url}/admin/rentals/rental/costs/")
    assert page.get_attribute("html", "lang") == "uk"
    bars = page.evaluate("Array.from(document.querySelectorAll('#spend-chart rect')).map(r => r.getBBox().height)")
    assert bars and all(height > 10 for height in bars)
    chart, heading = page.locator("#spend-chart").bounding_box(), page.locator("#content h2").first.bounding_box()
    assert chart["x"] == heading["x"]  # at the left of the page, under its heading
    value = page.evaluate("document.querySelector('#spend-chart .bar-value').getBBox().y")
    assert value >= 0  # the amount above the bar is inside the chart


def test_extend_asks_the_price_of_the_period_on_screen(live_server, simulator, account, catalog, settings, boss_page):
    rental = rent_for_the_browser(account, catalog, settings, live_server)
    page = boss_page
    page.goto(f"{live_server.url}/admin/rentals/rental/{rental.pk}/extend/?hours=24")
    assert "0.90 USD" in page.inner_text("#extend-price")
    with page.expect_navigation():
        page.select_option("#id_hours", "168")  # no "Show price" pressed
    assert "4.50 USD" in page.inner_text("#extend-price")
    assert page.get_attribute("#confirm-action-button", "value").endswith("by 168 hours")
    page.click("#confirm-action-button")
    page.wait_for_selector(".messagelist .success")
    rental.refresh_from_db()
    assert rental.hours == 24 + 168


def test_an_unknown_extension_is_settled_from_the_rental_page(
    live_server, simulator, account, catalog, settings, boss_page
):
    """SMS.online never answered an extension: the rental page says where to settle it; once checked on
    SMS.online and marked, the rental extends again."""
    rental = rent_for_the_browser(account, catalog, settings, live_server)
    page, rental_url = boss_page, f"{live_server.url}/admin/rentals/rental/{rental.pk}"

    def extend_by_a_day() -> str:
        page.goto(f"{rental_url}/extend/?hours=24")
        with page.expect_navigation():
            page.click("#confirm-action-button")
        return page.inner_text(".messagelist")

    simulator.force(action="continueRentNumber", body="<html>Gateway Timeout</html>", status=504,
                    content_type="text/html")  # fmt: skip
    assert "may have charged" in extend_by_a_day()
    page.goto(f"{rental_url}/change/")
    with page.expect_navigation():
        page.click("a.unknown-extension")
    page.check("input[name=_selected_action]")
    page.select_option("select[name=action]", "mark_not_charged")
    with page.expect_navigation():
        page.click("button[name=index]")
    assert "1 unknown extension(s) marked as not charged" in page.inner_text(".messagelist")
    assert "extended by 24 h" in extend_by_a_day()
    rental.refresh_from_db()
    assert rental.hours == 48


def test_auto_renew_is_set_on_the_rental_page_and_renews_in_the_name_of_who_set_it(
    live_server, simulator, account, catalog, settings, page
):
    from decimal import Decimal

    from django.contrib.auth.models import Group

    from rentals.models import PersonBudget

    rental = rent_for_the_browser(account, catalog, settings, live_server)
    taras = User.objects.create_user("taras", "taras@example.test", "correct-horse-battery", is_staff=True)
    taras.groups.add(Group.objects.get(name="Operator"))
    PersonBudget.objects.create(user=taras, monthly_budget=Decimal("10.00"))
    log_in(page, live_server.url, "taras", "correct-horse-battery")
    page.goto(f"{live_server.url}/admin/rentals/rental/{rental.pk}/change/")
    page.check("#id_auto_renew")
    page.select_option("#id_auto_renew_hours", "72")
    page.fill("#id_auto_renew_before_hours", "25")  # the rental ends within a day: due at once
    page.fill("#id_auto_renew_max_price", "3.00")
    with page.expect_navigation():
        page.click("input[name=_continue]")
    assert "taras" in page.inner_text(".field-auto_renew_by")
    assert services.rental_auto_renew(rental_id=rental.pk).facts["renewal"] == "renewed"
    page.reload()
    renewal = page.inner_text("#extensions-group tbody tr")
    assert "taras" in renewal and page.locator("#extensions-group tbody tr img[alt=True]").count() == 1
    page.goto(f"{live_server.url}/admin/rentals/rental/costs/")  # the renewal is in taras's month
    assert "Person taras\t10.00\t2.20\t22%\t7.80" in page.inner_text("#budget-table")


def test_a_phone_reads_the_front_page_and_a_code_without_scrolling_sideways(
    live_server, simulator, account, catalog, settings, eager_tasks, boss_page
):
    page = boss_page
    page.context.add_cookies([{"name": "django_language", "value": "uk", "url": live_server.url}])
    rental = rent_for_the_browser(account, catalog, settings, live_server)
    simulator._post_json("sms", {"rent_id": int(rental.provider_rent_id), "text": "Ваш код 731904, нікому не кажіть"})
    page.set_viewport_size({"width": 390, "height": 844})
    fits = "document.documentElement.scrollWidth <= innerWidth"

    page.goto(f"{live_server.url}/admin/")
    assert page.evaluate(fits)
    names = page.locator("#rentdesk-health th")
    assert names.count() == 3 and all(box["height"] < 30 for box in (names.nth(i).bounding_box() for i in range(3)))

    page.goto(f"{live_server.url}/admin/rentals/rental/{rental.pk}/change/")
    text = page.locator("#live-sms .live-sms-text")
    assert text.inner_text() == "Ваш код 731904, нікому не кажіть"
    assert page.evaluate(fits) and text.bounding_box()["x"] + text.bounding_box()["width"] <= 390
    assert page.locator("#live-sms .copy-code").bounding_box()["x"] + 100 <= 390

    page.goto(f"{live_server.url}/admin/rentals/rental/")  # the list: number, label, time left and code
    code = page.locator("#result_list .copy-code")
    assert code.inner_text().startswith("731904") and code.bounding_box()["x"] + code.bounding_box()["width"] <= 390
    assert page.is_hidden("#result_list td.field-service") and page.is_visible("#result_list td.field-time_left")
    assert page.evaluate(fits)

    page.goto(f"{live_server.url}/admin/rentals/rental/costs/")  # the chart scrolls in its own box,
    bar = page.locator("#spend-chart rect")  # opened at this month's bar
    assert (
        page.evaluate(fits) and bar.count() == 1 and 0 <= bar.bounding_box()["x"] <= 390 - bar.bounding_box()["width"]
    )


def test_every_main_page_passes_the_content_security_policy(
    live_server, simulator, account, catalog, settings, eager_tasks, boss_page
):
    """django-csp's policy runs no inline script or style: each page's own behaviour still works
    (the language menu, the live list, the rent form's price), and the console shows no refusal."""
    page = boss_page
    header = page.goto(f"{live_server.url}/admin/").headers["content-security-policy"]
    assert "script-src 'self'" in header and "'unsafe-inline'" not in header
    services.catalog_sync(now=timezone.now())
    rental = rent_for_the_browser(account, catalog, settings, live_server)
    simulator._post_json("sms", {"rent_id": int(rental.provider_rent_id), "text": "Your code is 731904"})
    for path in [
        "/admin/", "/admin/rentals/rental/", f"/admin/rentals/rental/{rental.pk}/change/",
        f"/admin/rentals/rental/{rental.pk}/history/", "/admin/rentals/rental/rent/", "/admin/rentals/rental/costs/",
        f"/admin/rentals/rental/{rental.pk}/extend/", "/admin/rentals/rental/export/", "/admin/rentals/smsmessage/",
        "/admin/rentals/rentattempt/", f"/admin/rentals/provideraccount/{account.pk}/change/", "/admin/two-factor/",
        "/admin/django_celery_beat/periodictask/", "/admin/auth/user/add/", "/api/docs",
    ]:  # fmt: skip
        assert page.goto(f"{live_server.url}{path}").status < 400, path
        page.wait_for_load_state("networkidle")
    # Behaviour that lived in inline scripts: the rent form's price line, the language menu.
    page.goto(f"{live_server.url}/admin/rentals/rental/rent/")
    page.select_option("#id_service", label="Telegram (tg)")
    page.select_option("#id_country", label="Ukraine")
    assert "USD" in page.inner_text("#rent-offer")
    page.select_option("#language-form select", "uk")
    page.wait_for_selector("html[lang='uk']")
    assert page.context.cookies()[0]["name"]  # the timezone cookie (rentdesk.js) among them
    assert any(cookie["name"] == "rentdesk_tz" for cookie in page.context.cookies())


@pytest.mark.parametrize("language", ["en", "uk"])
def test_all_columns_fit_1400_pixels_and_a_copied_code_keeps_its_button(
    live_server, simulator, account, catalog, settings, boss_page, language
):
    """Every column at 1400 by 900 pixels: nothing to scroll sideways, the code button whole, and "copied"
    changes neither the button's width nor the row's height."""
    from decimal import Decimal

    from ..factories import CountryFactory, RentalFactory, ServiceFactory

    # Names as long as the catalog has them (Ukrainian runs longer): a service of any sender, a country
    # of two words.
    any_sender = ServiceFactory(code="full", name="Any sender")
    united_kingdom = CountryFactory(provider_id=16, name="United Kingdom")
    for index in range(3):
        RentalFactory(account=account, service=any_sender if index else catalog["telegram"],
                      country=united_kingdom if index else catalog["ukraine"], operator="kyivstar",
                      number=f"38067123456{index}", label="A label of a usual length for a number",
                      cost=Decimal("12.3400"), last_sms_code="12345678", last_sms_at=timezone.now(),
                      last_sms_text="Your verification code is 12345678. Do not share it with anyone.",
                      assignee=User.objects.get(), rented_by=User.objects.get())  # fmt: skip
    page = boss_page
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{live_server.url}/admin/rentals/rental/")
    results = "document.querySelector('#changelist .results')"
    assert page.evaluate(f"{results}.scrollWidth <= {results}.clientWidth"), "the usual columns scroll sideways"
    with page.expect_navigation():
        page.click("#columns-toggle")
    assert page.locator("#result_list thead th.column-account").count() == 1
    assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
    if screenshot_dir := os.environ.get("RENTDESK_SCREENSHOT_DIR"):
        page.screenshot(path=str(Path(screenshot_dir) / f"all-columns-{language}.png"), full_page=True)
    assert page.evaluate(f"{results}.scrollWidth <= {results}.clientWidth"), "the list scrolls sideways"
    button = page.locator("#result_list .copy-code").first
    box = button.bounding_box()
    assert box["x"] + box["width"] <= page.evaluate(f"{results}.getBoundingClientRect().right")  # not cut
    row = page.locator("#result_list tbody tr").first
    height = row.bounding_box()["height"]
    button.click()
    page.wait_for_function(  # "copied" shows, whether as the button's text or laid over it
        "b => /copied|скопійовано/.test(b.textContent + getComputedStyle(b, '::before').content)",
        arg=button.element_handle(),
    )
    assert page.evaluate("navigator.clipboard.readText()") == "12345678"
    assert button.bounding_box()["width"] == box["width"] and row.bounding_box()["height"] == height
    assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")


def test_the_rent_form_lists_the_countries_cheapest_first_and_a_click_chooses_one(
    live_server, simulator, account, catalog, settings, boss_page
):
    from decimal import Decimal

    from rentals.models import Offer

    settings.SMSONLINE_POLL_RATE = 100
    services.catalog_sync(now=timezone.now())
    # The catalog's prices and stock differ from country to country, and not in the order of their names.
    offers = list(Offer.objects.filter(service=catalog["telegram"], hours=72).order_by("-country__name"))
    for index, offer in enumerate(offers):
        Offer.objects.filter(pk=offer.pk).update(cost=Decimal("1.10") + index, available=7 + index)
    page = boss_page
    page.goto(f"{live_server.url}/admin/rentals/rental/rent/")
    assert page.is_hidden("#rent-countries")  # no service chosen: nothing to compare
    page.select_option("#id_service", label="Telegram (tg)")
    page.select_option("#id_hours", value="72")
    rows = page.locator("#rent-countries tbody tr")
    assert rows.count() >= 2
    listed = [rows.nth(i).inner_text().split("\t") for i in range(rows.count())]
    assert [(price, stock) for _, price, stock in listed] == [
        (f"{1.10 + index:.2f} USD", f"{7 + index} numbers available") for index in range(len(offers))
    ]  # cheapest first, each with its stock
    assert [name.split(" (")[0] for name, _, _ in listed] == [o.country.display_name for o in offers]
    name, price, stock = listed[-1]  # the dearest, to show the click is what chose it
    country = rows.nth(len(listed) - 1).get_attribute("data-country")
    rows.nth(len(listed) - 1).click()
    if screenshot_dir := os.environ.get("RENTDESK_SCREENSHOT_DIR"):
        page.screenshot(path=str(Path(screenshot_dir) / "rent-form-countries.png"), full_page=True)
    assert page.input_value("#id_country") == country
    assert page.inner_text("#rent-offer").startswith(f"{price}, {stock}")
    assert "chosen" in rows.nth(len(listed) - 1).get_attribute("class")
    page.click("#rent-number-form input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    rental = Rental.objects.get()
    assert str(rental.country_id) == country and rental.country.display_name in name and rental.hours == 72
    assert rental.assignee.username == "boss"  # the renter takes care of it unless the form names someone


# Desktop notifications as the page makes them, recorded; and a tab put in the background on demand.
NOTIFICATIONS_AND_A_HIDDEN_TAB = """
(() => {
  window.__notifications = [];
  const Real = window.Notification;
  class Recorded {
    constructor(title, options) { window.__notifications.push({ title, body: (options || {}).body }); }
    close() {}
    static get permission() { return Real ? Real.permission : "denied"; }
    static requestPermission() {
      window.__asked = (window.__asked || 0) + 1;
      return Real.requestPermission();
    }
  }
  window.Notification = Recorded;
  Object.defineProperty(Document.prototype, "hidden", { configurable: true, get: () => !!window.__hidden });
  Object.defineProperty(Document.prototype, "visibilityState", {
    configurable: true, get: () => (window.__hidden ? "hidden" : "visible"),
  });
})();
"""


def wait_for_title(page, start: str) -> None:
    """Until the tab's title starts so (a background tab checks every 10 s); page.wait_for_function
    would evaluate a string, which the Content-Security-Policy refuses."""
    for _ in range(150):
        if page.title().startswith(start):
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"the title is still {page.title()!r}")


def watching(page, url: str) -> None:
    """Open the page and wait until its code finder has read its first answer: only then does it ask
    with `?after=` (every 1.5 s while seen), and only from then on does it know which SMS are new and
    whether to offer notifications. Waited for once the old page is gone: its checks would match too."""
    page.goto(url)
    with page.expect_request(lambda request: "new-sms.json?after=" in request.url):
        pass


def away_on_the_front_page(page, base_url: str) -> None:
    """The person's Rentdesk tab on another page, then in the background (they went to another site)."""
    page.context.grant_permissions(["notifications"], origin=base_url)
    page.add_init_script(NOTIFICATIONS_AND_A_HIDDEN_TAB)
    watching(page, f"{base_url}/admin/")  # it knows where it starts
    page.evaluate("window.__hidden = true; document.dispatchEvent(new Event('visibilitychange'))")


def test_a_code_for_my_rental_finds_me_in_a_background_tab(
    live_server, simulator, account, catalog, settings, eager_tasks, boss_page
):
    page = boss_page
    rental = rent_for_the_browser(account, catalog, settings, live_server)
    Rental.objects.filter(pk=rental.pk).update(assignee=User.objects.get(username="boss"))
    away_on_the_front_page(page, live_server.url)
    simulator._post_json("sms", {"rent_id": int(rental.provider_rent_id), "text": "Your code is 4321"})
    wait_for_title(page, "(1) 4321 \u2013 ")
    assert page.evaluate("window.__notifications") == [{"title": "4321", "body": f"Code for {rental}"}]
    # Back in the tab: the title is the page's own again.
    page.evaluate("window.__hidden = false; document.dispatchEvent(new Event('visibilitychange'))")
    assert not page.title().startswith("(")


# The page's own timers stopped, as Chrome all but stops them in a tab hidden for 5 minutes (one wake-up a
# minute): what still wakes the code finder is its worker's clock.
PAGE_TIMERS_STOPPED = """
(() => {
  window.setTimeout = () => 0;
  window.setInterval = () => 0;
})();
"""


def test_a_background_tab_keeps_checking_on_its_workers_clock_when_the_pages_timers_stop(
    live_server, simulator, account, catalog, settings, eager_tasks, boss_page
):
    page = boss_page
    rental = rent_for_the_browser(account, catalog, settings, live_server)
    Rental.objects.filter(pk=rental.pk).update(assignee=User.objects.get(username="boss"))
    page.add_init_script(PAGE_TIMERS_STOPPED)
    away_on_the_front_page(page, live_server.url)
    simulator._post_json("sms", {"rent_id": int(rental.provider_rent_id), "text": "Your code is 5555"})
    wait_for_title(page, "(1) 5555 \u2013 ")


def test_no_desktop_notification_for_who_turned_them_off(
    live_server, simulator, account, catalog, settings, eager_tasks, boss_page
):
    from rentals.models import ForwardingPreference

    page = boss_page
    boss = User.objects.get(username="boss")
    page.goto(f"{live_server.url}/admin/rentals/forwardingpreference/add/")
    page.uncheck("#id_desktop_notifications")
    page.click("input[name=_save]")
    assert ForwardingPreference.objects.get(user=boss).desktop_notifications is False
    rental = rent_for_the_browser(account, catalog, settings, live_server)
    Rental.objects.filter(pk=rental.pk).update(assignee=boss)
    away_on_the_front_page(page, live_server.url)
    simulator._post_json("sms", {"rent_id": int(rental.provider_rent_id), "text": "Your code is 8765"})
    wait_for_title(page, "(1) 8765 \u2013 ")  # the title still tells
    assert page.evaluate("window.__notifications") == []


def test_the_browser_is_asked_for_notifications_once_at_a_click_not_on_load(live_server, boss_page):
    page = boss_page
    page.add_init_script(NOTIFICATIONS_AND_A_HIDDEN_TAB)
    watching(page, f"{live_server.url}/admin/")
    assert page.evaluate("Notification.permission") == "default"
    assert page.evaluate("window.__asked || 0") == 0  # not on load
    page.click("#content h1, #content")
    assert page.evaluate("window.__asked || 0") == 1
    watching(page, f"{live_server.url}/admin/rentals/rental/")
    page.click("#content h1, #content")
    assert page.evaluate("window.__asked || 0") == 0  # once, not on every page
