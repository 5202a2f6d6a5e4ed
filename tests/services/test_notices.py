"""Reminders, alerts and forwarded SMS in the team's language (RENTDESK_LANGUAGE), whoever set them off.

Each notice is set off the way it is in use, with Ukrainian as the team's language while the code that
sets it off runs in English (as a worker, or a person whose admin speaks English, would).
"""

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone, translation

from rentals import services
from rentals.models import PersonBudget, ProviderAccount, Rental, RentalStatus, SmsSource
from rentals.provider.errors import RentLifecycleError
from rentals.provider.parsing import IncomingSms
from rentals.reasons import reason_words
from rentals.services.polling import rental_mark_lost
from rentals.wording.attention import attention_words

from ..conftest import SANDBOX_KEY
from ..factories import RentalFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

# Two or more English words in a row: an untranslated phrase (as tests/admin/test_languages.py looks for).
ENGLISH_PHRASE = re.compile(r"\b[A-Za-z][a-z]+(?:[ ,:]+[a-z]{2,})+\b")


def assert_ukrainian(text: str, *, says: str) -> None:
    assert says in text, text
    assert ENGLISH_PHRASE.findall(re.sub(r"https?://\S+", "", text)) == [], text


@pytest.fixture
def team_speaks_ukrainian(settings):
    settings.LANGUAGE_CODE = "uk"
    with translation.override("en"):
        yield


@pytest.fixture
def rental_ending_soon(db):
    """Olena's "Магазин" number, ending in 90 minutes."""
    olena = UserFactory(username="olena")
    return RentalFactory(label="Магазин", rented_by=olena, end_date=timezone.now() + timedelta(minutes=90))


def only_mail() -> str:
    (message,) = mail.outbox
    return f"{message.subject}\n{message.body}"


def test_an_expiry_reminder(team_speaks_ukrainian, rental_ending_soon):
    assert services.reminders_send_due(now=timezone.now()) == 1
    assert_ukrainian(only_mail(), says="закінчується через 1 год 29 хв")


@pytest.mark.parametrize(
    ("status", "says"),
    [(RentalStatus.REVOKED, "SMS.online забрав"), (RentalStatus.CANCELLED, "SMS.online скасував")],
)
def test_a_rental_ended_by_the_provider(team_speaks_ukrainian, rental_ending_soon, status, says):
    assert services.rental_mark_ended(
        rental=rental_ending_soon, status=status, polled_id=rental_ending_soon.provider_rent_id
    )
    assert_ukrainian(only_mail(), says=says)


def test_a_rental_the_provider_no_longer_knows(team_speaks_ukrainian, rental_ending_soon):
    error = RentLifecycleError("INVALID_PHONE")
    assert rental_mark_lost(rental=rental_ending_soon, error=error, polled_id=rental_ending_soon.provider_rent_id)
    assert_ukrainian(only_mail(), says="SMS.online більше не знає")
    # What happened and what to do first; SMS.online's token after the sentence, as a detail.
    first_line = mail.outbox[0].body.splitlines()[0]
    assert first_line.startswith("SMS.online більше не знає оренди") and first_line.endswith("(INVALID_PHONE)")


def test_a_low_balance(team_speaks_ukrainian, simulator, account):
    ProviderAccount.objects.filter(pk=account.pk).update(low_balance_threshold=Decimal("5.00"))
    account.refresh_from_db()
    simulator.set_account(SANDBOX_KEY, balance="1.50")
    services.account_check_balance(account=account)
    assert_ukrainian(only_mail(), says="Низький баланс на Sandbox: 1,50 USD")


def test_a_personal_budget_alert(team_speaks_ukrainian, rental_ending_soon):
    PersonBudget.objects.create(user=rental_ending_soon.rented_by, monthly_budget=Decimal("1.00"))
    Rental.objects.filter(pk=rental_ending_soon.pk).update(cost=Decimal("0.90"))
    assert services.budgets_alert(account_id=None, person_id=rental_ending_soon.rented_by_id, now=timezone.now()) == 1
    assert_ukrainian(only_mail(), says="використано 90% місячного бюджету")


@pytest.mark.parametrize(
    ("setup", "says"),
    [("ceiling", "вища за граничну ціну 1,00 USD"), ("budget", "Особистий бюджет olena-ops")],
)
def test_an_auto_renewal_that_did_not_run(team_speaks_ukrainian, simulator, account, catalog, setup, says):
    from django.contrib.auth.models import Group

    operator = UserFactory(username="olena-ops", is_staff=True)
    operator.groups.add(Group.objects.get(name="Operator"))
    rented = services.rental_rent(
        account=account, service=catalog["telegram"], country=catalog["ukraine"], operator="any", hours=24,
        webhook=False, nonce=uuid.uuid4(), requested_by=None, via="cli", label="Платежі",
    ).rental  # fmt: skip
    ceiling = Decimal("1.00") if setup == "ceiling" else Decimal("3.00")
    Rental.objects.filter(pk=rented.pk).update(auto_renew=True, auto_renew_hours=72, auto_renew_before_hours=25,
                                               auto_renew_max_price=ceiling, auto_renew_by=operator)  # fmt: skip
    if setup == "budget":
        PersonBudget.objects.create(user=operator, monthly_budget=Decimal("2.00"))
    assert services.rental_auto_renew(rental_id=rented.pk).facts["renewal"] == "refused"
    alarm = next(message for message in mail.outbox if "ПОТРІБНА ДІЯ" in message.subject)
    assert_ukrainian(f"{alarm.subject}\n{alarm.body}", says=says)
    assert "Автопродовження не виконано" in alarm.body


def test_a_forwarded_sms(team_speaks_ukrainian, settings, chat_server, rental_ending_soon):
    settings.RENTDESK_SMS_CHAT_URLS = [chat_server.apprise_url]
    sms = IncomingSms(sender="Bank", text="Your code 4321", received_at=timezone.now())
    message = services.sms_record(rental=rental_ending_soon, sms=sms, source=SmsSource.POLL)
    assert services.sms_forward(sms_id=message.pk, now=timezone.now()) == "sent"
    (posted,) = chat_server.received
    assert posted["title"] == f"Код 4321 для {rental_ending_soon} (Магазин)"
    # The SMS's own words stay as they came; everything around them is in Ukrainian.
    assert_ukrainian(posted["message"].replace("Your code 4321", "4321"), says="Від: Bank")


def test_the_team_language_is_english_unless_set(rental_ending_soon):
    with translation.override("uk"):  # a person whose admin speaks Ukrainian set it off
        assert services.reminders_send_due(now=timezone.now()) == 1
    assert "ends in 1 h 29 min" in mail.outbox[0].subject


# --- what Rentdesk writes down on a rental ------------------------------------------------------------


def test_attention_notes_and_history_reasons_are_kept_as_data_and_worded_for_the_reader(
    team_speaks_ukrainian, rental_ending_soon
):
    error = RentLifecycleError("INVALID_PHONE")
    assert rental_mark_lost(rental=rental_ending_soon, error=error, polled_id=rental_ending_soon.provider_rent_id)
    services.rentals_claim(rentals=[rental_ending_soon], user=rental_ending_soon.rented_by)
    assert services.rental_mark_ended(
        rental=rental_ending_soon, status=RentalStatus.REVOKED, polled_id=rental_ending_soon.provider_rent_id
    )
    rental_ending_soon.refresh_from_db()
    # The note is written by a worker in the team's language, read by people in theirs: the sentence
    # first, SMS.online's token after it.
    with translation.override("uk"):
        assert_ukrainian(
            attention_words(rental_ending_soon.attention), says="SMS.online більше не знає цієї оренди: її SMS"
        )
        assert attention_words(rental_ending_soon.attention).endswith("(INVALID_PHONE)")
    with translation.override("en"):
        assert attention_words(rental_ending_soon.attention) == (
            "SMS.online no longer knows this rent: its SMS cannot be read. Check it on SMS.online. (INVALID_PHONE)"
        )
    # Kept as codes and facts, worded for whoever reads the history, whatever the team's language.
    stored = list(rental_ending_soon.history.order_by("history_id").values_list("history_change_reason", flat=True))[1:]
    with translation.override("uk"):
        assert [reason_words(why) for why in stored] == [
            f"SMS.online більше не знає оренди {rental_ending_soon.provider_rent_id} (INVALID_PHONE)",
            "взято на себе",  # noqa: RUF001 (Ukrainian)
            "відкликано на боці SMS.online до дати закінчення",
        ]
    with translation.override("en"):
        assert [reason_words(why) for why in stored] == [
            f"SMS.online no longer knows rent {rental_ending_soon.provider_rent_id} (INVALID_PHONE)",
            "claimed",
            "revoked on SMS.online's side before its end date",
        ]


def test_the_rental_page_words_the_attention_note_for_its_reader_and_keeps_it_as_data(admin_client, rental_ending_soon):
    from django.urls import reverse

    from rentals.forms import RentalAdminForm

    assert rental_mark_lost(
        rental=rental_ending_soon,
        error=RentLifecycleError("INVALID_PHONE"),
        polled_id=rental_ending_soon.provider_rent_id,
    )
    rental_ending_soon.refresh_from_db()
    admin_client.cookies.load({"django_language": "uk"})
    page = admin_client.get(reverse("admin:rentals_rental_change", args=[rental_ending_soon.pk])).content.decode()
    assert "SMS.online більше не знає цієї оренди: її SMS неможливо прочитати." in page
    with translation.override("uk"):
        shown = RentalAdminForm(instance=rental_ending_soon).initial["attention"]
        kept = RentalAdminForm(instance=rental_ending_soon, data={"attention": shown})
        assert kept.is_valid() and kept.cleaned_data["attention"] == "lost?token=INVALID_PHONE"  # as Rentdesk wrote it
        typed = RentalAdminForm(instance=rental_ending_soon, data={"attention": "Перевірено"})
        assert typed.is_valid() and typed.cleaned_data["attention"] == "Перевірено"  # a person's own words


def test_a_rent_found_only_on_sms_online_is_noted_in_the_team_language(team_speaks_ukrainian, simulator, account):
    import requests

    params = {"api_key": SANDBOX_KEY, "action": "getRentNumber", "service": "wa", "country": "1", "rent_time": "72"}
    requests.get(simulator.api_url, params=params, timeout=5)
    services.account_reconcile(account_id=account.pk, now=timezone.now())
    with translation.override("uk"):
        assert_ukrainian(attention_words(Rental.objects.get().attention), says="Орендовано поза Rentdesk")
