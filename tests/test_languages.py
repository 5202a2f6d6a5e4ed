"""The admin in English and Ukrainian: chosen by the browser or by the user."""

import gettext
from pathlib import Path

import polib
import pytest
from django.contrib.auth.models import User
from django.urls import reverse

LOCALE = Path(__file__).resolve().parent.parent / "locale" / "uk" / "LC_MESSAGES"


def test_every_rentdesk_string_has_a_ukrainian_translation_and_the_compiled_catalog_is_current():
    po = polib.pofile(str(LOCALE / "django.po"))
    assert [e.msgid for e in po if not e.translated() or e.fuzzy] == []
    with (LOCALE / "django.mo").open("rb") as compiled:
        catalog = gettext.GNUTranslations(compiled)
    stale = [e.msgid for e in po if catalog.gettext(e.msgid) != e.msgstr]
    assert stale == [], "run: python manage.py compilemessages"


@pytest.fixture
def boss(client, db):
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    return client


def test_a_ukrainian_browser_gets_a_ukrainian_admin(boss):
    page = boss.get(reverse("admin:rentals_rental_changelist"), HTTP_ACCEPT_LANGUAGE="uk").content.decode()
    assert "Орендувати номер" in page and "Витрати" in page and 'lang="uk"' in page


def test_a_user_can_choose_the_language(boss):
    boss.post(reverse("set_language"), {"language": "uk", "next": "/admin/"})
    page = boss.get(reverse("admin:rentals_rental_rent"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Оренда витрачає кошти з вибраного акаунта SMS.online" in page
    boss.post(reverse("set_language"), {"language": "en", "next": "/admin/"})
    page = boss.get(reverse("admin:rentals_rental_rent")).content.decode()
    assert "Renting spends money on the chosen SMS.online account" in page
