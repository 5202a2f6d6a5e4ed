"""Auto-renew against the simulator: within the ceiling and the balance, once per end date, loud failures."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from rentals import services
from rentals.models import AttemptState, ErrorEvent, PersonBudget, Rental, RentalExtension
from rentals.reasons import reason_words
from rentals.services.api_tokens import api_token_create

from ..conftest import SANDBOX_KEY
from ..factories import RentalFactory, UserFactory, rent_number

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def auto_renewing_rental(simulator, account, catalog):
    """Olena's "Payments" number, renewed for 72 hours when 25 are left, at up to 3.00."""
    rental = rent_number(account, catalog, requested_by=UserFactory(username="olena"), label="Payments").rental
    Rental.objects.filter(pk=rental.pk).update(
        auto_renew=True, auto_renew_hours=72, auto_renew_before_hours=25, auto_renew_max_price=Decimal("3.00")
    )
    rental.refresh_from_db()
    return rental


def test_a_due_rental_is_renewed_once(simulator, auto_renewing_rental):
    assert services.rentals_due_for_renewal(now=timezone.now()) == [auto_renewing_rental.pk]
    old_end = auto_renewing_rental.end_date
    assert services.rental_auto_renew(rental_id=auto_renewing_rental.pk).facts["renewal"] == "renewed"
    assert (
        services.rental_auto_renew(rental_id=auto_renewing_rental.pk).facts["renewal"] == "not due"
    )  # a redelivered task
    auto_renewing_rental.refresh_from_db()
    assert auto_renewing_rental.end_date == old_end + timedelta(hours=72)
    assert len(simulator.requests("continueRentNumber")) == 1 and mail.outbox == []
    assert services.rentals_due_for_renewal(now=timezone.now()) == []  # the new end is far away


def test_a_renewal_shorter_than_its_time_before_the_end_is_not_repeated_at_once(simulator, account, catalog):
    """Set before the forms refused it: renew by 4 hours, 24 hours before the end, on a rent of 4 hours.
    One renewal still leaves the end within 24 hours; beat after beat must not renew it again and again."""
    rental = services.rental_rent(
        account=account, service=catalog["telegram"], country=catalog["ukraine"], operator="any", hours=4,
        webhook=False, nonce=uuid.uuid4(), requested_by=UserFactory(), via="cli",
    ).rental  # fmt: skip
    Rental.objects.filter(pk=rental.pk).update(
        auto_renew=True, auto_renew_hours=4, auto_renew_before_hours=24, auto_renew_max_price=Decimal("3.00")
    )
    for _ in range(8):  # beats, each queuing whatever is due
        for rental_id in services.rentals_due_for_renewal(now=timezone.now()):
            services.rental_auto_renew(rental_id=rental_id)
    assert len(simulator.requests("continueRentNumber")) == 1
    rental.refresh_from_db()
    assert rental.end_date > timezone.now() + timedelta(hours=7)


def test_the_forms_refuse_renewing_earlier_than_one_renewal_adds(client, auto_renewing_rental):
    from rentals.forms import AutoRenewForm

    form = AutoRenewForm({"hours": "4", "before_hours": "24", "max_price": "3.00"})
    assert not form.is_valid() and "Renew at most 4 hours before the end" in form.errors["before_hours"][0]
    assert AutoRenewForm({"hours": "24", "before_hours": "24", "max_price": "3.00"}).is_valid()
    client.force_login(operator("taras"))
    inlines = ("messages", "extensions", "reminders")
    no_inlines = {f"{inline}-{n}_FORMS": "0" for inline in inlines for n in ("TOTAL", "INITIAL")}
    page = client.post(
        reverse("admin:rentals_rental_change", args=[auto_renewing_rental.pk]),
        {"label": auto_renewing_rental.label, "reminders_enabled": "on", "auto_renew": "on", "auto_renew_hours": "4",
         "auto_renew_before_hours": "24", "auto_renew_max_price": "3.00", **no_inlines},
    ).content.decode()  # fmt: skip
    assert "Renew at most 4 hours before the end" in page
    auto_renewing_rental.refresh_from_db()
    assert auto_renewing_rental.auto_renew_hours == 72  # unchanged


def test_not_due_before_its_renewal_time(auto_renewing_rental):
    Rental.objects.filter(pk=auto_renewing_rental.pk).update(auto_renew_before_hours=2)
    assert services.rentals_due_for_renewal(now=timezone.now()) == []


@pytest.mark.parametrize(
    ("setup", "words"),
    [("ceiling", "above the ceiling of 1.00 USD"), ("balance", "does not cover the price")],
)
def test_a_refused_renewal_alarms_once_and_spends_nothing(simulator, auto_renewing_rental, setup, words):
    if setup == "ceiling":
        Rental.objects.filter(pk=auto_renewing_rental.pk).update(auto_renew_max_price=Decimal("1.00"))
    else:
        simulator.set_account(SANDBOX_KEY, balance="0.50")
    assert services.rental_auto_renew(rental_id=auto_renewing_rental.pk).facts["renewal"] == "refused"
    assert services.rental_auto_renew(rental_id=auto_renewing_rental.pk).facts["renewal"] == "already handled"
    assert simulator.requests("continueRentNumber") == []
    (alarm,) = mail.outbox
    assert "ACTION NEEDED" in alarm.subject and words in alarm.body and "olena@example.test" in alarm.to
    assert RentalExtension.objects.get().error_token == "AUTO_RENEW_REFUSED"


def test_an_unknown_outcome_alarms_that_it_may_have_charged(simulator, auto_renewing_rental, short_timeouts):
    simulator.force(delay=2.0, action="continueRentNumber")
    assert services.rental_auto_renew(rental_id=auto_renewing_rental.pk).facts["renewal"] == "failed"
    assert len(simulator.requests("continueRentNumber")) == 1
    assert "may have charged" in mail.outbox[0].body


@pytest.mark.parametrize(("sent", "words"), [(False, "nothing was charged"), (True, "may have extended it")])
def test_a_renewal_whose_process_stopped_alarms_once(simulator, auto_renewing_rental, sent, words):
    """The worker was killed mid-renewal: its extension stays pending, and its nonce is spent, so no
    later run renews the rental for this end date. Someone must hear."""
    RentalExtension.objects.create(
        rental=auto_renewing_rental,
        hours=72,
        old_rent_id=auto_renewing_rental.provider_rent_id,
        automatic=True,
        nonce=services.renewal_nonce(auto_renewing_rental),
        sent_at=timezone.now() if sent else None,
    )
    later = timezone.now() + timedelta(hours=1)
    assert services.attempts_resolve_stale(now=later) == 1
    assert services.attempts_resolve_stale(now=later) == 0
    (alarm,) = mail.outbox
    assert "ACTION NEEDED" in alarm.subject and words in alarm.body and "olena@example.test" in alarm.to
    assert services.rental_auto_renew(rental_id=auto_renewing_rental.pk).facts["renewal"] == "already handled"
    assert simulator.requests("continueRentNumber") == [] and len(mail.outbox) == 1


def test_the_renewal_nonce_cannot_be_worked_out_from_the_page(auto_renewing_rental, settings):
    """The extension page takes any nonce: a renewal's, worked out from the rental's id and end date
    (both on the page), would stop that renewal for good. It is keyed with the secret key."""
    nonce = services.renewal_nonce(auto_renewing_rental)
    assert services.renewal_nonce(Rental.objects.get(pk=auto_renewing_rental.pk)) == nonce  # one renewal per end date
    settings.SECRET_KEY = "another-secret-key-of-fifty-characters-or-so-0123456789"
    assert services.renewal_nonce(auto_renewing_rental) != nonce


def test_a_renewal_handled_before_the_secret_key_was_rotated_stays_handled(simulator, auto_renewing_rental, settings):
    Rental.objects.filter(pk=auto_renewing_rental.pk).update(auto_renew_max_price=Decimal("0.10"))
    assert services.rental_auto_renew(rental_id=auto_renewing_rental.pk).facts["renewal"] == "refused"
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "another-secret-key-of-fifty-characters-or-so-0123456789"
    assert services.rental_auto_renew(rental_id=auto_renewing_rental.pk).facts["renewal"] == "already handled"
    assert len(mail.outbox) == 1 and RentalExtension.objects.count() == 1


# --- on whose behalf it renews ----------------------------------------------------------------------


def operator(username):
    user = User.objects.create_user(username, email=f"{username}@example.test", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="Operator"))
    return user


def save_rental_page(client, rental, **changes):
    """The rental's page saved as a person would: what it shows, with ``changes`` typed in."""
    rental.refresh_from_db()
    form = {
        "label": rental.label, "notes": rental.notes, "assignee": "", "reminders_enabled": "on",
        "sms_chat_urls": "", "auto_renew_hours": rental.auto_renew_hours,
        "auto_renew_before_hours": rental.auto_renew_before_hours,
        "auto_renew_max_price": rental.auto_renew_max_price or "",
        **({"auto_renew": "on"} if rental.auto_renew else {}),
        "messages-TOTAL_FORMS": "0", "messages-INITIAL_FORMS": "0", "extensions-TOTAL_FORMS": "0",
        "extensions-INITIAL_FORMS": "0", "reminders-TOTAL_FORMS": "0", "reminders-INITIAL_FORMS": "0",
        **changes,
    }  # fmt: skip
    if form.get("auto_renew") is None:
        form.pop("auto_renew")
    response = client.post(reverse("admin:rentals_rental_change", args=[rental.pk]), form)
    assert response.status_code == 302, response.content.decode()[:3000]
    rental.refresh_from_db()


def test_whoever_turns_auto_renew_on_or_changes_it_is_the_one_it_renews_for(client, auto_renewing_rental):
    Rental.objects.filter(pk=auto_renewing_rental.pk).update(auto_renew=False, auto_renew_max_price=None)
    taras, olena = operator("taras"), operator("olena-ops")
    client.force_login(taras)
    save_rental_page(client, auto_renewing_rental, auto_renew="on", auto_renew_max_price="3.00")
    assert auto_renewing_rental.auto_renew and auto_renewing_rental.auto_renew_by == taras
    page = client.get(reverse("admin:rentals_rental_change", args=[auto_renewing_rental.pk])).content.decode()
    assert "Auto-renew set by" in page and "taras" in page
    client.force_login(olena)
    save_rental_page(client, auto_renewing_rental, label="Payments, EU")  # not an auto-renew setting
    assert auto_renewing_rental.auto_renew_by == taras
    save_rental_page(
        client, auto_renewing_rental, auto_renew_max_price="4.00"
    )  # a higher ceiling is olena's to answer for
    assert auto_renewing_rental.auto_renew_by == olena
    save_rental_page(client, auto_renewing_rental, auto_renew=None)
    assert not auto_renewing_rental.auto_renew and auto_renewing_rental.auto_renew_by is None


def test_a_renewal_is_refused_by_the_personal_budget_of_whoever_set_it(simulator, auto_renewing_rental):
    taras = operator("taras")
    Rental.objects.filter(pk=auto_renewing_rental.pk).update(auto_renew_by=taras)
    PersonBudget.objects.create(user=taras, monthly_budget=Decimal("2.00"))  # the ceiling is 3.00
    simulator.reset()
    assert services.rental_auto_renew(rental_id=auto_renewing_rental.pk).facts["renewal"] == "refused"
    assert simulator.requests() == []  # no price asked, no balance read, nothing extended
    refused = RentalExtension.objects.get()
    assert (refused.error_token, refused.requested_by, refused.automatic) == ("BUDGET_EXCEEDED", taras, True)
    alarm = next(message for message in mail.outbox if "ACTION NEEDED" in message.subject)
    assert "Budget of person taras" in alarm.body and "taras@example.test" in alarm.to


def test_a_renewal_counts_in_the_month_of_whoever_set_it(simulator, auto_renewing_rental):
    taras = operator("taras")
    Rental.objects.filter(pk=auto_renewing_rental.pk).update(auto_renew_by=taras)
    PersonBudget.objects.create(user=taras, monthly_budget=Decimal("10.00"))
    assert services.rental_auto_renew(rental_id=auto_renewing_rental.pk).facts["renewal"] == "renewed"
    renewal = RentalExtension.objects.get()
    assert (renewal.state, renewal.requested_by, renewal.automatic) == (AttemptState.SUCCEEDED, taras, True)
    spent = services.budget_spent(since=services.month_start(timezone.now()), person=taras)
    assert spent == renewal.cost > 0


def test_auto_renew_set_by_someone_who_may_no_longer_extend_spends_nothing(simulator, auto_renewing_rental):
    taras = operator("taras")
    Rental.objects.filter(pk=auto_renewing_rental.pk).update(auto_renew_by=taras)
    User.objects.filter(pk=taras.pk).update(is_active=False)  # left the team
    simulator.reset()
    assert services.rental_auto_renew(rental_id=auto_renewing_rental.pk).facts["renewal"] == "refused"
    assert simulator.requests() == []
    (alarm,) = mail.outbox
    assert "set by taras, who may no longer extend rentals" in alarm.body and "olena@example.test" in alarm.to


def test_auto_renew_set_by_someone_no_longer_staff_spends_nothing(simulator, auto_renewing_rental):
    taras = operator("taras")
    Rental.objects.filter(pk=auto_renewing_rental.pk).update(auto_renew_by=taras)
    User.objects.filter(pk=taras.pk).update(is_staff=False)  # written straight to the table: no admin save
    simulator.reset()
    assert services.rental_auto_renew(rental_id=auto_renewing_rental.pk).facts["renewal"] == "refused"
    assert simulator.requests() == []
    (alarm,) = mail.outbox
    assert "set by taras, who may no longer extend rentals" in alarm.body


def user_page_saved(client, person: User, **changes) -> None:
    """The person's page in the user admin, saved by a superuser with ``changes``."""
    form = {"username": person.username, "email": person.email, "date_joined_0": "2025-01-01",
            "date_joined_1": "00:00:00", "groups": [group.pk for group in person.groups.all()],
            **({"is_active": "on"} if person.is_active else {}), **({"is_staff": "on"} if person.is_staff else {}),
            **changes}  # fmt: skip
    form = {name: value for name, value in form.items() if value is not None}
    saved = client.post(reverse("admin:auth_user_change", args=[person.pk]), form)
    assert saved.status_code == 302, saved.content.decode()[:2000]


@pytest.mark.parametrize("change", [{"is_staff": None}, {"is_active": None}])
def test_taking_staff_status_away_does_what_deleting_does(simulator, auto_renewing_rental, client, change):
    taras = operator("taras")
    token, _plain = api_token_create(user=taras, name="taras's script")
    Rental.objects.filter(pk=auto_renewing_rental.pk).update(auto_renew_by=taras, assignee=taras)
    client.force_login(User.objects.create_superuser("boss", "boss@example.test", "pw"))
    user_page_saved(client, taras, first_name="Taras")  # another change: nothing is let go
    auto_renewing_rental.refresh_from_db()
    assert (auto_renewing_rental.assignee, auto_renewing_rental.auto_renew_by) == (taras, taras) and not mail.outbox
    user_page_saved(client, taras, **change)
    auto_renewing_rental.refresh_from_db()
    assert (auto_renewing_rental.assignee, auto_renewing_rental.auto_renew, auto_renewing_rental.auto_renew_by) == (
        None,
        False,
        None,
    )
    reasons = [reason_words(record.history_change_reason) for record in auto_renewing_rental.history.all()[:2]]
    assert "released: taras is no longer active staff" in reasons
    assert "auto-renew switched off: taras, who set it, is no longer active staff" in reasons
    token.refresh_from_db()
    assert token.revoked_at is not None
    (alarm,) = mail.outbox
    assert "Auto-renew was switched off: taras, who set it, is no longer active staff" in alarm.body
    simulator.reset()
    assert (
        services.rental_auto_renew(rental_id=auto_renewing_rental.pk).facts["renewal"] == "not due"
        and simulator.requests() == []
    )


def test_only_active_staff_are_offered_or_accepted_as_assignees(client, auto_renewing_rental):
    olena = operator("olena-ops")
    gone = operator("gone")
    User.objects.filter(pk=gone.pk).update(is_active=False)
    outsider = User.objects.create_user("outsider", password="pw")  # not staff
    client.force_login(olena)
    page = client.get(reverse("admin:rentals_rental_change", args=[auto_renewing_rental.pk])).content.decode()
    choices = page[page.index('name="assignee"') :].split("</select>")[0]
    assert ">olena-ops<" in choices and ">gone<" not in choices and ">outsider<" not in choices
    for person in (gone, outsider):
        refused = client.post(reverse("admin:rentals_rental_change", args=[auto_renewing_rental.pk]),
                              {"label": auto_renewing_rental.label, "assignee": person.pk})  # fmt: skip
        assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert Rental.objects.get(pk=auto_renewing_rental.pk).assignee is None
    save_rental_page(client, auto_renewing_rental, assignee=olena.pk)
    assert auto_renewing_rental.assignee == olena


def test_deleting_the_person_who_set_auto_renew_switches_it_off_and_says_so(simulator, auto_renewing_rental, client):
    """Deleted, rather than deactivated: the renewals would otherwise go on in nobody's name, with no
    personal budget to hold them."""
    taras = operator("taras")
    Rental.objects.filter(pk=auto_renewing_rental.pk).update(auto_renew_by=taras)
    client.force_login(User.objects.create_superuser("boss", "boss@example.test", "pw"))
    deleted = client.post(reverse("admin:auth_user_delete", args=[taras.pk]), {"post": "yes"})
    assert deleted.status_code == 302 and not User.objects.filter(pk=taras.pk).exists()
    auto_renewing_rental.refresh_from_db()
    assert (auto_renewing_rental.auto_renew, auto_renewing_rental.auto_renew_by) == (False, None)
    assert "taras, who set it, was deleted" in reason_words(auto_renewing_rental.history.first().history_change_reason)
    simulator.reset()
    assert (
        services.rental_auto_renew(rental_id=auto_renewing_rental.pk).facts["renewal"] == "not due"
        and simulator.requests() == []
    )
    (alarm,) = mail.outbox
    assert "Auto-renew was switched off: taras, who set it, was deleted" in alarm.body
    assert {"olena@example.test", "taras@example.test"} <= set(alarm.to)


def test_rentals_renewing_before_the_upgrade_are_renewed_for_whoever_last_set_them(auto_renewing_rental):
    from django.db.migrations.executor import MigrationExecutor

    taras, olena = operator("taras"), operator("olena-ops")
    for who, change in ((taras, {"auto_renew_max_price": Decimal("3.50")}), (olena, {"label": "EU payments"})):
        auto_renewing_rental.refresh_from_db()
        for field, value in change.items():
            setattr(auto_renewing_rental, field, value)
        auto_renewing_rental._history_user = who  # as the admin's save records it
        auto_renewing_rental.save()
    by_hand = RentalExtension.objects.create(rental=auto_renewing_rental, hours=24, old_rent_id="1", requested_by=olena,
                                             state=AttemptState.SUCCEEDED)  # fmt: skip
    renewed = RentalExtension.objects.create(
        rental=auto_renewing_rental, hours=72, old_rent_id="1", state=AttemptState.SUCCEEDED
    )
    executor = MigrationExecutor(connection)
    executor.migrate([("rentals", "0023_account_request_pacing")])  # before Rentdesk recorded who set it
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert (
        Rental.objects.get(pk=auto_renewing_rental.pk).auto_renew_by == taras
    )  # the last to change a setting, not a label
    assert not RentalExtension.objects.get(pk=by_hand.pk).automatic
    assert RentalExtension.objects.get(pk=renewed.pk).automatic


# --- several rentals at once, from the inventory ------------------------------------------------------


def test_the_inventory_sets_many_rentals_to_renew_in_the_name_of_who_chose_it(client):
    from ..factories import RentalFactory

    active = [RentalFactory(label=f"Shop {n}") for n in range(2)]
    ended = RentalFactory(status="finished")
    taras = operator("taras")
    client.force_login(taras)
    changelist = reverse("admin:rentals_rental_changelist")
    chosen = {"action": "set_auto_renew", "_selected_action": [r.pk for r in [*active, ended]]}
    page = client.post(changelist, {**chosen, "index": "0"}).content.decode()
    assert f"{active[0]}" in page and 'name="max_price"' in page  # asks how, before changing anything
    page = client.post(changelist, {**chosen, "apply": "1", "hours": "72", "before_hours": "24"}).content.decode()
    assert "This field is required" in page and not Rental.objects.filter(auto_renew=True).exists()
    settings = {"hours": "72", "before_hours": "30", "max_price": "3.50"}
    response = client.post(changelist, {**chosen, "apply": "1", **settings}, follow=True)
    assert "2 rental(s) now renew themselves." in response.content.decode()
    for rental in active:
        rental.refresh_from_db()
        assert (rental.auto_renew, rental.auto_renew_hours, rental.auto_renew_before_hours) == (True, 72, 30)
        assert rental.auto_renew_max_price == Decimal("3.50") and rental.auto_renew_by == taras
        assert rental.history.first().history_user == taras
    ended.refresh_from_db()
    assert not ended.auto_renew  # an ended rental cannot renew
    client.post(changelist, {**chosen, "action": "stop_auto_renew", "index": "0"})
    assert not Rental.objects.filter(auto_renew=True).exists()
    assert not Rental.objects.filter(auto_renew_by__isnull=False).exists()


def test_only_those_who_may_extend_set_rentals_to_renew(client):
    from ..factories import RentalFactory

    rental = RentalFactory()
    viewer = User.objects.create_user("vira", password="pw", is_staff=True)
    viewer.groups.add(Group.objects.get(name="Viewer"))
    client.force_login(viewer)
    changelist = reverse("admin:rentals_rental_changelist")
    assert "set_auto_renew" not in client.get(changelist).content.decode()
    client.post(changelist, {"action": "set_auto_renew", "_selected_action": [rental.pk], "apply": "1",
                             "hours": "72", "before_hours": "24", "max_price": "3.00"})  # fmt: skip
    rental.refresh_from_db()
    assert not rental.auto_renew


def test_auto_renew_with_another_extension_open_alarms_once(simulator, account):
    rental = RentalFactory(account=account, auto_renew=True, auto_renew_max_price=Decimal("9"),
                           end_date=timezone.now() + timedelta(hours=5))  # fmt: skip
    RentalExtension.objects.create(rental=rental, hours=24, state=AttemptState.UNKNOWN, old_rent_id="1")
    assert services.rental_auto_renew(rental_id=rental.pk).facts["renewal"] == "refused"
    assert services.rental_auto_renew(rental_id=rental.pk).facts["renewal"] == "already handled"
    assert len(mail.outbox) == 1 and simulator.requests("continueRentNumber") == []
    assert ErrorEvent.objects.get().token == "AUTO_RENEW_FAILED"
