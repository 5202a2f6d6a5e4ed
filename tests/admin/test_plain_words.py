"""What a person reads, in their language and in sentences: history reasons, outcomes, names, dates, money."""
# ruff: noqa: RUF001 (Ukrainian)

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dates import MONTHS, MONTHS_ALT

from rentals import services
from rentals.models import AttemptState, ErrorEvent, RentalExtension, RentAttempt

from ..factories import AccountFactory, CountryFactory, RentalFactory, ServiceFactory, rent_number
from ..services.test_notices import assert_ukrainian
from .test_languages import visible_text

pytestmark = pytest.mark.django_db(transaction=True)  # rents commit their attempt before the call


@pytest.fixture
def boss_user(db):
    """A superuser, as the rows that name who asked hold it (readers sign in with ``reader``)."""
    return User.objects.create_superuser("boss", password="pw")


def reader(user: User, language: str) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def read(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return visible_text(response.content.decode())


# --- history reasons: kept as a code and its facts, worded for whoever reads ------------------------------


def test_history_reasons_are_worded_in_the_readers_language(simulator, account, catalog, boss_user):
    rental = rent_number(account, catalog, requested_by=boss_user, via="admin").rental
    services.rental_extend(rental=rental, hours=8, nonce=uuid.uuid4(), requested_by=boss_user, price_quoted=None)
    rental.refresh_from_db()
    assert services.rental_finish(rental=rental, requested_by=boss_user).ok
    stored = list(rental.history.order_by("history_id").values_list("history_change_reason", flat=True))
    assert stored[1:] == ["extended?hours=8", "finished"]  # the same whichever language wrote them
    url = reverse("admin:rentals_rental_history", args=[rental.pk])
    ukrainian = read(reader(boss_user, "uk"), url)
    assert "продовжено на 8 год" in ukrainian and "завершено на SMS.online" in ukrainian
    assert "extended by" not in ukrainian and "finished on" not in ukrainian
    english = read(reader(boss_user, "en"), url)
    assert "extended by 8 h" in english and "finished on SMS.online" in english


def test_a_reason_written_before_reasons_were_codes_shows_as_it_was_written(boss_user):
    rental = RentalFactory()
    rental._change_reason = "продовжено на 4 год вручну"
    rental.label = "older"
    rental.save()
    page = read(reader(boss_user, "en"), reverse("admin:rentals_rental_history", args=[rental.pk]))
    assert "продовжено на 4 год вручну" in page


# --- outcomes: the sentence first, SMS.online's token as a small detail -----------------------------------


def test_a_failed_rent_reads_as_what_happened_on_the_rent_form_the_attempts_and_the_dashboard(
    simulator, account, catalog, boss_user
):
    simulator.force(token="NO_NUMBERS", action="getRentNumber")
    assert rent_number(account, catalog, requested_by=boss_user, via="admin").state == AttemptState.FAILED
    ukrainian = reader(boss_user, "uk")
    form = read(ukrainian, reverse("admin:rentals_rental_rent"))
    assert "Не вдалося: Зараз немає доступних номерів для цього сервісу й країни. (NO_NUMBERS)" in form
    assert "Не вдалося: NO_NUMBERS" not in form
    attempts = read(ukrainian, reverse("admin:rentals_rentattempt_changelist"))
    assert "Що сталося" in attempts and "Зараз немає доступних номерів для цього сервісу й країни." in attempts
    english = read(reader(boss_user, "en"), reverse("admin:index"))
    assert "1 × No numbers are available for this service and country right now. (NO_NUMBERS)" in english
    assert "NO_NUMBERS: 1" not in english
    token = re.search(
        r"<small[^>]*>\(NO_NUMBERS\)</small>", reader(boss_user, "en").get(reverse("admin:index")).content.decode()
    )
    assert token is not None  # muted, for those who look it up


def test_a_reconciled_attempt_shows_no_stale_token_in_the_list_but_keeps_it_on_its_page(account, boss_user):
    service, country = ServiceFactory(code="tg", name="Telegram"), CountryFactory(provider_id=1, name="Ukraine")
    attempt = RentAttempt.objects.create(
        account=account, service=service, country=country, hours=24, via="admin", requested_by=boss_user,
        state=AttemptState.SUCCEEDED, error_token="UNKNOWN_OUTCOME", error_detail="Read timed out. Reconciled.",
    )  # fmt: skip
    english = reader(boss_user, "en")
    page = english.get(reverse("admin:rentals_rentattempt_changelist")).content.decode()
    rows = visible_text(re.search(r'<table id="result_list">.*?</table>', page, re.S).group(0))
    assert "Succeeded" in rows and "UNKNOWN_OUTCOME" not in rows and "readable answer" not in rows
    detail = read(english, reverse("admin:rentals_rentattempt_change", args=[attempt.pk]))
    assert "UNKNOWN_OUTCOME" in detail


def test_the_error_filter_offers_what_happened(simulator, account, catalog, boss_user):
    simulator.force(token="NO_NUMBERS", action="getRentNumber")
    rent_number(account, catalog, requested_by=boss_user, via="admin")
    assert ErrorEvent.objects.filter(token="NO_NUMBERS").exists()
    page = read(reader(boss_user, "uk"), reverse("admin:rentals_errorevent_changelist"))
    assert "Зараз немає доступних номерів для цього сервісу й країни. (NO_NUMBERS)" in page


@pytest.mark.parametrize(
    ("language", "label"),
    [("en", "None (no error, or recorded before tokens were kept)"),
     ("uk", "Немає (без помилки, або записано до того, як зберігалися коди)")],
)  # fmt: skip
def test_the_token_filter_names_rows_without_a_token(simulator, account, catalog, boss_user, language, label):
    rent_number(account, catalog, requested_by=boss_user, via="admin")  # succeeded: no token
    page = read(reader(boss_user, language), reverse("admin:rentals_rentattempt_changelist"))
    assert label in page and "does not know" not in page and "не знає" not in page


# --- names: where a request came from, the operator, the catalog, the health parts ----------------------


def test_where_a_request_came_from_and_any_operator_read_as_words(simulator, account, catalog, boss_user):
    rental = rent_number(account, catalog, requested_by=boss_user, via="admin").rental
    ukrainian = reader(boss_user, "uk")
    attempt = read(ukrainian, reverse("admin:rentals_rentattempt_change", args=[rental.attempt.pk]))
    assert "Через: адмінка" in attempt and "admin, cli" not in attempt
    page = read(ukrainian, reverse("admin:rentals_rental_change", args=[rental.pk]))
    assert "Оператор: Будь-який оператор" in page and "Оператор: any" not in page
    assert "Operator: Any operator" in read(
        reader(boss_user, "en"), reverse("admin:rentals_rental_change", args=[rental.pk])
    )


def test_the_rent_form_names_countries_and_services_in_the_readers_language_without_ids(boss_user):
    CountryFactory(provider_id=43, name="Germany")
    ServiceFactory(code="vk", name="VKontakte")
    AccountFactory(name="Main")
    form = reader(boss_user, "uk").get(reverse("admin:rentals_rental_rent")).content.decode()
    assert ">Німеччина</option>" in form and "(id 43)" not in form
    assert ">ВКонтакте (vk)</option>" in form
    assert ">Germany</option>" in reader(boss_user, "en").get(reverse("admin:rentals_rental_rent")).content.decode()


def test_the_health_of_the_schedule_is_named_in_ukrainian(boss_user):
    page = read(reader(boss_user, "uk"), reverse("admin:index"))
    assert "Планувальник завдань" in page and "Beat" not in page


# --- dates and money --------------------------------------------------------------------------------------


def test_the_date_drill_down_names_the_day_as_ukrainian_writes_it(account, boss_user):
    service, country = ServiceFactory(code="tg", name="Telegram"), CountryFactory(provider_id=1, name="Ukraine")
    RentAttempt.objects.create(account=account, service=service, country=country, hours=24, via="cli")
    today = timezone.localdate()
    url = (
        reverse("admin:rentals_rentattempt_changelist")
        + f"?created_at__year={today.year}&created_at__month={today.month}"
    )
    page = read(reader(boss_user, "uk"), url)
    with translation.override("uk"):
        genitive, nominative = str(MONTHS_ALT[today.month]), str(MONTHS[today.month])
    assert f"{today.day} {genitive}" in page  # "6 грудня"
    assert f"{today.day:02d} {nominative}" not in page  # not "06 Грудень"
    english = read(reader(boss_user, "en"), url)
    assert f"{MONTHS[today.month]} {today.day}" in english


def test_money_shows_the_places_usd_uses(simulator, account, catalog, boss_user):
    account.balance = Decimal("100.0000")
    account.save(update_fields=["balance"])
    rental = rent_number(account, catalog, requested_by=boss_user, via="admin").rental
    RentalExtension.objects.create(
        rental=rental, hours=4, price_quoted=Decimal("0.4550"), cost=Decimal("0.4500"),
        state=AttemptState.SUCCEEDED, requested_by=boss_user, created_at=timezone.now() - timedelta(minutes=1),
    )  # fmt: skip
    ukrainian = reader(boss_user, "uk")
    accounts = read(ukrainian, reverse("admin:rentals_provideraccount_changelist"))
    assert "100,00" in accounts and "100,0000" not in accounts
    account_page = read(ukrainian, reverse("admin:rentals_provideraccount_change", args=[account.pk]))
    assert "100,00" in account_page and "100,0000" not in account_page
    extensions = read(ukrainian, reverse("admin:rentals_rentalextension_changelist"))
    assert " 0,45 " in extensions and "0,4500" not in extensions  # the cost
    extension = read(ukrainian, reverse("admin:rentals_rentalextension_change", args=[rental.extensions.get().pk]))
    assert " 0,455 " in extension and "0,4550" not in extension  # a price that has a third place keeps it
    rental_page = read(ukrainian, reverse("admin:rentals_rental_change", args=[rental.pk]))
    assert " 0,455 " in rental_page and "0,4550" not in rental_page
    assert "100.00" in read(reader(boss_user, "en"), reverse("admin:rentals_provideraccount_changelist"))


def test_the_low_balance_mail_writes_money_as_the_team_language_does(settings, account):
    from rentals.wording import notices

    settings.LANGUAGE_CODE = "uk"
    notice = notices.low_balance(account, balance=Decimal("0.4500"), threshold=Decimal("5"))
    assert_ukrainian(notice.body, says="0,45 USD")
    assert "5,00 USD" in notice.body


def test_auto_renews_own_outcomes_read_as_what_happened_not_as_unknown_answers(account, boss_user):
    rental = RentalFactory(account=account)
    RentalExtension.objects.create(
        rental=rental, hours=24, state=AttemptState.FAILED, error_token="AUTO_RENEW_REFUSED", automatic=True,
        error_detail="the price, 0,90 USD, is above the ceiling of 0,50 USD.",
    )  # fmt: skip
    ErrorEvent.objects.create(account=account, operation="auto-renew", token="AUTO_RENEW_FAILED")
    english = reader(boss_user, "en")
    extensions = read(english, reverse("admin:rentals_rentalextension_changelist"))
    assert "Auto-renew did not extend the rental: a condition set on it was not met" in extensions
    dashboard = read(english, reverse("admin:index"))
    assert "1 × Auto-renew could not extend a rental before its end. (AUTO_RENEW_FAILED)" in dashboard
    assert "which Rentdesk does not know" not in extensions + dashboard


# --- what happened: one wording wherever a token is shown with its explanation --------------------------

NO_NUMBERS_SAID = (
    "No numbers are available for this service and country right now. Nothing was charged. "
    "Try another operator or country, or try again later. (NO_NUMBERS)"
)


def test_a_failed_rent_says_what_happened_the_same_way_in_the_admin_the_bot_and_the_cli(
    simulator, account, catalog, boss_user, capsys
):
    from rentals.wording import telegram
    from rentals.wording.pages import outcome_line

    from ..conftest import manage

    simulator.force(token="NO_NUMBERS", action="getRentNumber")
    outcome = rent_number(account, catalog, requested_by=boss_user, via="admin")
    with translation.override("en"):
        assert outcome_line(outcome) == NO_NUMBERS_SAID  # the admin's message
        assert telegram.rent_outcome(outcome) == NO_NUMBERS_SAID  # the bot's reply (nothing in it to escape)
    simulator.force(token="NO_NUMBERS", action="getRentNumber")  # a forced answer is given once
    argv = ["--account", "Sandbox", "--service", "tg", "--country", "1", "--as", "boss", "--no-webhook"]
    status, _, err = manage("rent_number", *argv, capsys=capsys)
    assert status == 1 and f"CommandError: {NO_NUMBERS_SAID}" in err


def test_an_extension_whose_answer_was_lost_names_its_token_once(simulator, account, catalog, boss_user):
    rental = rent_number(account, catalog, requested_by=boss_user, via="admin").rental
    simulator.force(action="continueRentNumber", body="<html>Gateway Timeout</html>", status=504,
                    content_type="text/html")  # fmt: skip
    english = reader(boss_user, "en")
    extend = reverse("admin:rentals_rental_extend", args=[rental.pk])
    response = english.post(extend, {"hours": "24", "nonce": str(uuid.uuid4()), "price": ""})
    assert RentalExtension.objects.get().state == AttemptState.UNKNOWN
    [message] = [str(message) for message in response.wsgi_request._messages]
    assert message.startswith("No readable answer about the extension. The provider may have charged")
    assert message.endswith("(UNKNOWN_OUTCOME)") and message.count("UNKNOWN_OUTCOME") == 1
