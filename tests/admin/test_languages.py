"""The admin in English and Ukrainian: chosen by the browser or by the user."""

import gettext
import re
from pathlib import Path

import polib
import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from ..factories import RentalFactory

LOCALE = Path(__file__).resolve().parents[2] / "locale" / "uk" / "LC_MESSAGES"


def test_every_rentdesk_string_has_a_ukrainian_translation_and_the_compiled_catalog_is_current():
    po = polib.pofile(str(LOCALE / "django.po"))
    assert [e.msgid for e in po if not e.translated() or e.fuzzy] == []
    with (LOCALE / "django.mo").open("rb") as compiled:
        catalog = gettext.GNUTranslations(compiled)

    def compiled(entry: polib.POEntry) -> bool:
        if entry.msgid_plural:
            return catalog.ngettext(entry.msgid, entry.msgid_plural, 1) == entry.msgstr_plural[0]
        return catalog.gettext(entry.msgid) == entry.msgstr

    stale = [e.msgid for e in po if not compiled(e)]
    assert stale == [], "run: python manage.py compilemessages -l uk"


def test_a_ukrainian_browser_gets_a_ukrainian_admin(boss):
    page = boss.get(reverse("admin:rentals_rental_changelist"), HTTP_ACCEPT_LANGUAGE="uk").content.decode()
    assert "Орендувати номер" in page and "Витрати" in page and 'lang="uk"' in page


def test_the_admin_index_names_every_app_and_model_in_ukrainian(boss):
    page = boss.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="uk").content.decode()
    captions = re.findall(r'<caption>\s*<a [^>]*class="section"[^>]*>([^<]+)</a>', page)
    models = re.findall(r'<th scope="row" id="[^"]+">\s*<a [^>]*>([^<]+)</a>', page)
    assert "Безпека входу" in captions and "Застосунки-автентифікатори" in models
    latin_only = [name for name in captions + models if not re.search("[\u0400-\u04ff]", name)]
    assert latin_only == ["SMS"]


def test_an_apps_page_is_titled_as_a_ukrainian_phrase(boss):
    # Django's own "Адміністрування Оренда номерів" reads as a broken phrase; ours quotes the app's name.
    page = boss.get(reverse("admin:app_list", args=["rentals"]), HTTP_ACCEPT_LANGUAGE="uk").content.decode()
    assert "<h1>Адміністрування «Оренда номерів»</h1>" in page


def test_the_auto_renew_period_is_offered_in_ukrainian(boss):
    rental = RentalFactory()
    page = boss.get(reverse("admin:rentals_rental_change", args=[rental.pk]), HTTP_ACCEPT_LANGUAGE="uk")
    select = re.search(r'<select name="auto_renew_hours".*?</select>', page.content.decode(), re.S).group(0)
    assert "1 день (24 год)" in select and " h<" not in select


def test_the_auto_renew_period_reads_in_ukrainian_to_whoever_may_only_view_it(client, db):
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.groups.add(Group.objects.get(name="Viewer"))  # may not change auto-renew: shown as text
    client.force_login(viewer)
    rental = RentalFactory(auto_renew_hours=72)
    page = client.get(reverse("admin:rentals_rental_change", args=[rental.pk]), HTTP_ACCEPT_LANGUAGE="uk")
    field = re.search(r'field-auto_renew_hours.*?<div class="readonly">(.*?)</div>', page.content.decode(), re.S)
    assert field.group(1) == "3 дні (72 год)"


@pytest.mark.django_db(transaction=True)
def test_an_extension_confirmed_in_ukrainian_extends(simulator, account, catalog):
    """The page shows the price as "0,90"; the form it sends back must read "0.9000"."""
    import uuid

    from django.test import Client

    from rentals import services

    rental = services.rental_rent(
        account=account, service=catalog["telegram"], country=catalog["ukraine"], operator="any", hours=24,
        webhook=False, nonce=uuid.uuid4(), requested_by=None, via="cli",
    ).rental  # fmt: skip
    client = Client(HTTP_ACCEPT_LANGUAGE="uk")
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    url = reverse("admin:rentals_rental_extend", args=[rental.pk])
    page = client.get(url + "?hours=24").content.decode()
    assert "0,90 USD" in page
    form = dict(re.findall(r'<input type="hidden" name="(hours|nonce|price|end_date)" value="([^"]*)"', page))
    client.post(url, form)
    rental.refresh_from_db()
    assert rental.hours == 48


def test_a_refused_api_url_is_explained_in_ukrainian(boss, account, simulator):
    url = reverse("admin:rentals_provideraccount_change", args=[account.pk])
    form = {"name": account.name, "api_url": simulator.api_url + "?api_key=x", "api_key": "",
            "events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0"}  # fmt: skip
    page = boss.post(url, form, HTTP_ACCEPT_LANGUAGE="uk").content.decode()
    assert "API-ключ вводиться в окреме поле" in page and "its own field" not in page


def test_an_accounts_page_names_its_sections_and_key_in_ukrainian(boss, account):
    page = visible_text(boss.get(reverse("admin:rentals_provideraccount_change", args=[account.pk]),
                                 HTTP_ACCEPT_LANGUAGE="uk").content.decode())  # fmt: skip
    assert "Справність" in page and "задано (…" in page
    assert "Health" not in page and "set (…" not in page


def test_a_user_can_choose_the_language(boss):
    boss.post(reverse("set_language"), {"language": "uk", "next": "/admin/"})
    page = boss.get(reverse("admin:rentals_rental_rent"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Оренда витрачає кошти з вибраного акаунта SMS.online" in page
    boss.post(reverse("set_language"), {"language": "en", "next": "/admin/"})
    page = boss.get(reverse("admin:rentals_rental_rent")).content.decode()
    assert "Renting spends money on the chosen SMS.online account" in page


# Two or more English words in a row: an untranslated phrase. Data (numbers, tokens, labels, SMS text,
# service names) is kept out of the pages below, or is one word.
ENGLISH_PHRASE = re.compile(r"\b[A-Za-z][a-z]+(?:[ ,:]+[a-z]{2,})+\b")
ALLOWED = {"SMS.online", "Rentdesk"}


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", __import__("html").unescape(html))


@pytest.mark.django_db(transaction=True)
def test_no_english_phrase_is_left_on_the_pages_people_visit_in_ukrainian(simulator, account, catalog, settings):
    import uuid

    from django.utils import timezone

    from rentals import services

    settings.SMSONLINE_POLL_RATE = 100
    boss = User.objects.create_superuser("boss", password="pw")
    client = __import__("django.test", fromlist=["Client"]).Client(HTTP_ACCEPT_LANGUAGE="uk")
    client.force_login(boss)
    rental = services.rental_rent(
        account=account, service=catalog["telegram"], country=catalog["ukraine"], operator="any", hours=24,
        webhook=False, nonce=uuid.uuid4(), requested_by=boss, via="cli", label="Магазин",
    ).rental  # fmt: skip
    simulator._post_json("sms", {"rent_id": int(rental.provider_rent_id), "text": "Код 1234", "webhook": False})
    services.rental_poll(rental=rental)
    services.catalog_sync(now=timezone.now())
    pages = [
        reverse("admin:index"),
        reverse("admin:rentals_rental_changelist"),
        reverse("admin:rentals_rental_change", args=[rental.pk]),
        reverse("admin:rentals_rental_history", args=[rental.pk]),
        reverse("admin:rentals_rental_rent"),
        reverse("admin:rentals_rental_extend", args=[rental.pk]) + "?hours=24",
        reverse("admin:rentals_rental_finish", args=[rental.pk]),
        reverse("admin:rentals_rental_cancel", args=[rental.pk]),
        reverse("admin:rentals_rental_costs"),
        reverse("admin:rentals_rentattempt_changelist"),
        reverse("admin:rentals_provideraccount_changelist"),
        reverse("admin:rentals_provideraccount_change", args=[account.pk]),
        reverse("admin:rentals_provideraccount_add"),
        reverse("admin:rentals_errorevent_changelist"),
        reverse("admin:rentals_rentattempt_change", args=[rental.attempt.pk]),
        reverse("admin:rentals_rentalextension_changelist"),
        reverse("admin:rentals_smsmessage_changelist"),
    ]
    left = {}
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        phrases = [p for p in ENGLISH_PHRASE.findall(visible_text(response.content.decode())) if p not in ALLOWED]
        if phrases:
            left[url] = phrases
    assert left == {}, "\n".join(f"{url}: {sorted(set(found))}" for url, found in left.items())
    # The rent attempt's page says its operator as the rental's page does, not SMS.online's code "any".
    attempt_page = visible_text(
        client.get(reverse("admin:rentals_rentattempt_change", args=[rental.attempt.pk])).content.decode()
    )
    assert "Оператор: Будь-який оператор" in re.sub(r"\s+", " ", attempt_page)
