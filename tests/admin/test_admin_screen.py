"""The desk as a person reads it: one way of writing a moment, numbers in their groups, who takes care of
a new number, what an ended rental still lets one change, the schedule's tables out of the way, the
language menu at the login, and the rent form that remembers the last choice."""

import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from rentals.models import Rental, RentalStatus, RentAttempt

from ..conftest import SANDBOX_KEY
from ..factories import RentalFactory
from .test_admin_rent import RENT_URL, rent_form, staff

pytestmark = pytest.mark.django_db(transaction=True)

KYIV = {"rentdesk_tz": "Europe/Kyiv"}


def words(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.mark.parametrize("language", ["en", "uk"])
def test_a_moment_reads_as_the_live_view_and_the_emails_write_it_in_the_persons_timezone(
    admin_client, account, language
):
    rental = RentalFactory(account=account, end_date=datetime(2026, 12, 6, 23, 8, tzinfo=UTC))
    admin_client.cookies.load({**KYIV, "django_language": language})
    page = words(admin_client.get(reverse("admin:rentals_rental_change", args=[rental.pk])))
    assert "2026-12-07 01:08 EET" in page
    assert "a.m." not in page and "Dec." not in page and "груд" not in page
    admin_client.post(reverse("admin:rentals_rental_columns"), {"show": "all"})
    assert "2026-12-07 01:08 EET" in words(admin_client.get(reverse("admin:rentals_rental_changelist")))


def test_a_number_shows_in_its_groups_and_copies_as_its_digits(admin_client, account):
    from rentals.phone_numbers import number_groups

    RentalFactory(account=account, number="380671234567")
    page = admin_client.get(reverse("admin:rentals_rental_changelist")).content.decode()
    shown = re.search(r'<span class="phone-number">(.*?)</span></span></span>', page).group(1) + "</span>"
    # Groups are spans the stylesheet spaces apart: the text itself (what a copy takes) has no spaces.
    assert re.findall(r'number-group">(\d+)<', shown) == ["67", "123", "4567"]
    assert re.sub(r"<[^>]+>", "", shown) == "+380671234567"
    assert number_groups("4915123456789") == ["+49", "1512", "3456789"]  # each country its own way
    assert number_groups("999") == ["+999"]  # one libphonenumber cannot read stays whole


def test_a_number_reads_in_its_groups_in_every_list_page_message_and_mail(admin_client, simulator, account, catalog):
    import uuid

    from rentals import services
    from rentals.phone_numbers import spaced_number
    from rentals.wording import notices

    from .test_admin_rent import page_text

    rented = page_text(admin_client.post(RENT_URL, rent_form(account, catalog), follow=True))
    rental = Rental.objects.get()
    assert f"Rented {spaced_number(rental.number)} until" in rented  # the admin's message
    Rental.objects.filter(pk=rental.pk).update(number="380671234567")  # one libphonenumber knows, to read
    rental.refresh_from_db()
    grouped = "+380 67 123 4567"
    assert f"<h2>{grouped}</h2>" in page_text(
        admin_client.get(reverse("admin:rentals_rental_change", args=[rental.pk]))
    )
    simulator._post_json("sms", {"rent_id": int(rental.provider_rent_id), "text": "Code 1234", "webhook": False})
    services.rental_poll(rental=rental)
    admin_client.post(reverse("admin:rentals_rental_extend", args=[rental.pk]), {"hours": 4, "nonce": uuid.uuid4()})
    attempt = RentAttempt.objects.get()
    for page in ("admin:rentals_smsmessage_changelist", "admin:rentals_rentattempt_changelist",
                 "admin:rentals_rentalextension_changelist"):  # fmt: skip
        assert grouped in page_text(admin_client.get(reverse(page))), page
    assert grouped in page_text(admin_client.get(reverse("admin:rentals_rentattempt_change", args=[attempt.pk])))
    assert notices.expiry_reminder(rental, now=rental.created_at).subject.startswith(f"[Rentdesk] {grouped} ends")
    assert f"The rented number {grouped} ends" in notices.expiry_reminder(rental, now=rental.created_at).body


def test_the_renter_takes_care_of_the_number_unless_the_form_names_someone_else(client, simulator, account, catalog):
    renter = staff("olena", "rent_number", "change_rental")
    colleague = User.objects.create_user("taras", is_staff=True)
    User.objects.create_user("left", is_staff=True, is_active=False)
    client.force_login(renter)
    form = client.get(RENT_URL).content.decode()
    assert re.search(rf'<option value="{renter.pk}" selected>olena</option>', form)  # the default
    assert f'<option value="{colleague.pk}">taras</option>' in form and ">left<" not in form
    client.post(RENT_URL, rent_form(account, catalog, assignee=renter.pk))
    client.post(RENT_URL, rent_form(account, catalog, assignee=colleague.pk))
    client.post(RENT_URL, rent_form(account, catalog, assignee=""))
    assert [r.assignee for r in Rental.objects.order_by("pk")] == [renter, colleague, None]
    assert [r.rented_by for r in Rental.objects.order_by("pk")] == [renter] * 3
    refused = client.post(RENT_URL, rent_form(account, catalog, assignee=User.objects.get(username="left").pk))
    assert refused.status_code == 200 and Rental.objects.count() == 3  # an inactive person is no choice


def test_a_rent_from_the_api_or_the_command_line_is_assigned_to_its_renter_if_staff(simulator, account, catalog):
    import uuid

    from rentals import services

    def rent(person):
        return services.rental_rent(
            account=account, service=catalog["telegram"], country=catalog["ukraine"], operator="any", hours=24,
            webhook=False, nonce=uuid.uuid4(), requested_by=person, via="api",
        ).rental  # fmt: skip

    assert rent(User.objects.create_user("api-staff", is_staff=True)).assignee.username == "api-staff"
    assert rent(User.objects.create_user("not-staff")).assignee is None and rent(None).assignee is None


def change_form_data(client, url: str, **changes) -> dict:
    """The rental's page as it would be sent back, with ``changes``: its editable fields and inlines."""
    context = client.get(url).context
    form = context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    for formset in context["inline_admin_formsets"]:
        management = formset.formset.management_form
        data.update({management.add_prefix(name): management[name].value() for name in management.fields})
    return {**data, **changes, "_save": "Save"}


@pytest.mark.parametrize("status", [RentalStatus.FINISHED, RentalStatus.CANCELLED, RentalStatus.REVOKED,
                                    RentalStatus.EXPIRED])  # fmt: skip
def test_an_ended_rentals_reminder_and_auto_renew_are_read_only(admin_client, account, status):
    active = RentalFactory(account=account)
    page = admin_client.get(reverse("admin:rentals_rental_change", args=[active.pk])).content.decode()
    assert 'name="reminders_enabled"' in page and 'name="auto_renew"' in page  # while it runs, they are settings
    rental = RentalFactory(account=account, status=status, reminders_enabled=True)
    url = reverse("admin:rentals_rental_change", args=[rental.pk])
    page = admin_client.get(url).content.decode()
    for name in ("reminders_enabled", "auto_renew", "auto_renew_hours", "auto_renew_max_price"):
        assert f'name="{name}"' not in page, name
    assert 'name="label"' in page  # what it was for stays a note one may correct
    saved = admin_client.post(url, change_form_data(admin_client, url, label="kept", reminders_enabled="",
                              auto_renew="on", auto_renew_hours=24, auto_renew_before_hours=2,
                              auto_renew_max_price="5"))  # fmt: skip
    assert saved.status_code == 302
    rental.refresh_from_db()
    assert rental.label == "kept" and rental.reminders_enabled and not rental.auto_renew


SCHEDULE_TABLES = ("Clocked", "Crontabs", "Intervals", "Solar events")


def test_the_schedule_tables_are_off_the_front_page_and_reached_from_the_periodic_tasks(admin_client, client):
    front = words(admin_client.get(reverse("admin:index")))
    assert "Periodic tasks" in front
    assert not [name for name in SCHEDULE_TABLES if name in front], front
    app = words(admin_client.get(reverse("admin:app_list", args=["django_celery_beat"])))
    assert not [name for name in SCHEDULE_TABLES if name in app]
    tasks = admin_client.get(reverse("admin:django_celery_beat_periodictask_changelist")).content.decode()
    assert reverse("admin:django_celery_beat_crontabschedule_changelist") in tasks  # who may change them
    assert admin_client.get(reverse("admin:django_celery_beat_crontabschedule_changelist")).status_code == 200
    manager = User.objects.create_user("manager", password="pw", is_staff=True)
    manager.groups.add(Group.objects.get(name="Manager"))  # runs the jobs, not their timing tables
    client.force_login(manager)
    tasks = client.get(reverse("admin:django_celery_beat_periodictask_changelist")).content.decode()
    assert "crontabschedule" not in tasks


def test_the_login_page_has_the_headers_language_menu(client):
    page = client.get(reverse("admin:login"))
    assert 'id="language-form"' in page.content.decode() and 'value="uk"' in page.content.decode()
    client.post(reverse("set_language"), {"language": "uk", "next": reverse("admin:login")})
    assert "Увійти" in client.get(reverse("admin:login")).content.decode()


def test_the_rent_form_offers_each_persons_last_choice_again_in_any_session(client, simulator, account, catalog):
    from django.test import Client

    from ..factories import AccountFactory

    second = AccountFactory(name="Zeta", api_url=simulator.api_url, api_key=SANDBOX_KEY)  # not the default
    olena = staff("olena", "rent_number")
    client.force_login(olena)
    choice = {"account": second.pk, "service": catalog["whatsapp"].pk, "country": catalog["ukraine"].pk,
              "operator": catalog["kyivstar"].pk, "hours": 72}  # fmt: skip
    client.post(RENT_URL, {**rent_form(second, catalog), **choice})
    laptop = Client()  # another device: a session of its own
    laptop.force_login(olena)
    form = laptop.get(RENT_URL).context["form"]
    assert {name: form[name].value() for name in choice} == choice
    taras = Client()  # a colleague's form is not prefilled with hers
    taras.force_login(staff("taras", "rent_number"))
    assert taras.get(RENT_URL).context["form"]["service"].value() is None
    chosen_by_link = laptop.get(RENT_URL, {"account": account.pk}).context["form"]  # the accounts' action
    assert chosen_by_link["account"].value() == str(account.pk) and chosen_by_link["hours"].value() == 72


def test_a_rent_settled_by_reconciliation_goes_to_the_assignee_the_form_named(
    simulator, account, catalog, short_timeouts
):
    import uuid

    from django.utils import timezone

    from rentals import services

    renter, colleague = (User.objects.create_user(name, is_staff=True) for name in ("olena", "taras"))
    simulator.force(delay=2.0)  # SMS.online rents, its answer comes too late: the outcome is unknown
    services.rental_rent(
        account=account, service=catalog["telegram"], country=catalog["ukraine"], operator="any", hours=24,
        webhook=False, nonce=uuid.uuid4(), requested_by=renter, via="admin", assignee=colleague,
    )  # fmt: skip
    assert not Rental.objects.exists()
    services.account_reconcile(account_id=account.pk, now=timezone.now())
    assert Rental.objects.get().assignee == colleague


@pytest.mark.parametrize(("language", "point"), [("en", "."), ("uk", ",")])
def test_money_in_a_form_has_its_cents_and_takes_the_languages_decimal_separator(
    admin_client, account, language, point
):
    from decimal import Decimal

    from rentals.models import PersonBudget, ProviderAccount

    ProviderAccount.objects.filter(pk=account.pk).update(low_balance_threshold=100, monthly_budget=250)
    rental = RentalFactory(account=account, auto_renew_max_price=Decimal("0.455"))  # a price's own places stay
    admin_client.cookies.load({"django_language": language})
    page = admin_client.get(reverse("admin:rentals_provideraccount_change", args=[account.pk])).content.decode()
    assert f'name="low_balance_threshold" value="100{point}00"' in page
    assert f'name="monthly_budget" value="250{point}00"' in page and "0000" not in page
    page = admin_client.get(reverse("admin:rentals_rental_change", args=[rental.pk])).content.decode()
    assert f'name="auto_renew_max_price" value="0{point}455"' in page
    olena = User.objects.create_user("olena", is_staff=True)
    admin_client.post(reverse("admin:rentals_personbudget_add"), {"user": olena.pk, "monthly_budget": f"120{point}50"})
    assert PersonBudget.objects.get().monthly_budget == Decimal("120.50")
