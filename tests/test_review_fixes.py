"""Guards found by review: history is read-only, money paths refuse what would pay twice, alarms get out."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from rentals import services
from rentals.models import AttemptState, ErrorEvent, Rental, RentalExtension, RentalStatus
from rentals.roles import roles_install

from .factories import AccountFactory, RentalFactory

pytestmark = pytest.mark.django_db(transaction=True)


def staff(client, *codenames):
    user = User.objects.create_user("someone", password="pw", is_staff=True)
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label="rentals"))
    client.force_login(user)
    return user


def test_the_history_form_cannot_write_an_old_version_back(client):
    rental = RentalFactory(label="first")
    rental.label, rental.status = "second", RentalStatus.FINISHED
    rental.save()
    old = rental.history.earliest("history_date")
    staff(client, "view_rental")
    url = reverse("admin:rentals_rental_simple_history", args=[rental.pk, old.history_id])
    response = client.post(url, {"label": "hijacked", "auto_renew": "on", "auto_renew_max_price": "9999"})
    rental.refresh_from_db()
    assert response.status_code == 403 and (rental.label, rental.status, rental.auto_renew) == (
        "second", RentalStatus.FINISHED, False)  # fmt: skip


def test_switching_on_auto_renew_needs_the_extend_permission(client):
    rental = RentalFactory()
    staff(client, "view_rental", "change_rental")
    url = reverse("admin:rentals_rental_change", args=[rental.pk])
    client.post(url, {"label": "x", "notes": "", "auto_renew": "on", "auto_renew_hours": "720",
                      "auto_renew_before_hours": "24", "auto_renew_max_price": "100",
                      **{f"{p}-{k}": "0" for p in ("messages", "extensions", "reminders")
                         for k in ("TOTAL_FORMS", "INITIAL_FORMS")}})  # fmt: skip
    rental.refresh_from_db()
    assert rental.label == "x" and rental.auto_renew is False


def test_an_extension_decided_for_an_end_date_that_moved_sends_nothing(simulator, account, catalog):
    rental = services.rental_rent(
        account=account, service=catalog["telegram"], country=catalog["ukraine"], operator="any", hours=24,
        webhook=False, nonce=uuid.uuid4(), requested_by=None, via="cli",
    ).rental  # fmt: skip
    moved = rental.end_date - timedelta(hours=1)
    outcome = services.rental_extend(
        rental=rental, hours=24, nonce=uuid.uuid4(), requested_by=None, price_quoted=None, expect_end_date=moved
    )
    assert outcome.token == "RENTAL_CHANGED" and simulator.requests("continueRentNumber") == []


def test_auto_renew_with_another_extension_open_alarms_once(simulator, account):
    rental = RentalFactory(account=account, auto_renew=True, auto_renew_max_price=Decimal("9"),
                           end_date=timezone.now() + timedelta(hours=5))  # fmt: skip
    RentalExtension.objects.create(rental=rental, hours=24, state=AttemptState.UNKNOWN, old_rent_id="1")
    assert services.rental_auto_renew(rental_id=rental.pk).facts["renewal"] == "refused"
    assert services.rental_auto_renew(rental_id=rental.pk).facts["renewal"] == "already handled"
    assert len(mail.outbox) == 1 and simulator.requests("continueRentNumber") == []
    assert ErrorEvent.objects.get().token == "AUTO_RENEW_FAILED"


def test_chat_hears_of_it_when_mail_fails(settings, chat_server):
    from rentals.notice_sending import notify
    from rentals.wording.notices import Notice

    settings.RENTDESK_CHAT_URLS = [chat_server.apprise_url]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1
    with pytest.raises(OSError):
        notify(Notice("Rental ends", "soon"), recipients=["a@example.test"])
    assert chat_server.received and chat_server.received[0]["title"] == "Rental ends"


def test_stale_pending_extensions_stop_blocking(account):
    rental = RentalFactory(account=account)
    RentalExtension.objects.create(rental=rental, hours=24, old_rent_id="1", sent_at=timezone.now())
    RentalExtension.objects.filter(rental=rental).update(created_at=timezone.now() - timedelta(hours=1))
    services.attempts_resolve_stale(now=timezone.now())
    assert RentalExtension.objects.get().state == AttemptState.UNKNOWN


def test_refunded_rentals_are_not_spend():
    from rentals.selectors import spend_by_month

    RentalFactory(cost=Decimal("2"))
    RentalFactory(cost=Decimal("5"), status=RentalStatus.CANCELLED)
    RentalFactory(cost=Decimal("7"), status=RentalStatus.REVOKED)
    rows = spend_by_month(group="account", since=timezone.now() - timedelta(days=1))
    assert sum(row.amount for row in rows) == Decimal("2")


def test_a_key_change_keeps_its_time(account):
    before = account.api_key_changed_at
    services.account_set_api_key(account=account, api_key="another-key-123456")
    account.refresh_from_db()
    assert account.api_key_changed_at and account.api_key_changed_at != before


def test_groups_tuned_in_the_admin_stay_tuned():
    operator = Group.objects.get(name="Operator")
    operator.permissions.remove(Permission.objects.get(codename="rent_number"))
    roles_install()
    assert not operator.permissions.filter(codename="rent_number").exists()


def test_a_rent_that_an_extension_reordered_is_not_adopted_while_the_extension_is_in_flight(simulator, account):
    import requests

    from .conftest import SANDBOX_KEY

    params = {"api_key": SANDBOX_KEY, "action": "getRentNumber", "service": "tg", "country": "1", "rent_time": "4"}
    phone = requests.get(simulator.api_url, params=params, timeout=5).json()["phone"]
    rental = RentalFactory(account=AccountFactory(name="Other"), number=phone["number"])
    Rental.objects.filter(pk=rental.pk).update(account=account)
    RentalExtension.objects.create(rental=rental, hours=24, old_rent_id=rental.provider_rent_id)  # pending
    assert services.account_reconcile(account_id=account.pk, now=timezone.now()).adopted_rentals == []
