"""Who asked, wherever the request came from: the rental's history, its page and the costs by person agree.

A rent from the form whose answer was lost and that reconciliation recovered, a rent from the command
line, a cancel through the API, a renewal by auto-renew: each is the person's, not "Rentdesk (automatic)".
"""

import html
import re
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.urls import reverse
from django.utils import timezone

from rentals import services
from rentals.models import AttemptState, Rental, RentalExtension, RentAttempt
from rentals.services.api_tokens import api_token_create

from ..conftest import manage
from ..factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

AUTOMATIC = "Rentdesk (automatic)"


def staff(username: str, *codenames: str) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    for codename in ("view_rental", "view_rentattempt", *codenames):
        user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label="rentals"))
    return user


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def history(client, rental: Rental) -> list[tuple[str, str]]:
    """The rental's history page, oldest first: (who, why) per row."""
    page = text(client.get(reverse("admin:rentals_rental_history", args=[rental.pk])))
    rows = re.findall(r"<tr> <td[^>]*>[^<]*</td> <td>([^<]*)</td> <td>([^<]*)</td>", page)
    return [(who.strip(), why.strip()) for who, why in reversed(rows)]


def rented_by_on_page(client, rental: Rental) -> str:
    page = text(client.get(reverse("admin:rentals_rental_change", args=[rental.pk])))
    shown = re.search(r"Rented by:?</label> <div class=\"readonly\">(.*?)</div>", page).group(1)
    return re.sub(r"<[^>]+>", "", shown).strip()


def costs_by_person(client) -> list[str]:
    page = client.get(reverse("admin:rentals_rental_costs"), {"by": "person"}).content.decode()
    table = re.search(r'<table id="spend-table">.*?</table>', page, re.S).group(0)
    return re.findall(r"<th>([^<]*)</th>", re.search(r"<tr>(.*?)</tr>", table, re.S).group(1))


def reconcile(account) -> None:
    """As the worker runs it: no request, nobody signed in."""
    services.account_reconcile(account_id=account.pk, now=timezone.now())


def test_a_form_rent_whose_answer_was_lost_is_the_renters_in_its_history_once_reconciled(
    client, simulator, account, catalog, short_timeouts
):
    client.force_login(staff("olena", "rent_number"))
    simulator.force(delay=2.0)  # SMS.online rents; its answer comes too late
    form = {"account": account.pk, "service": catalog["telegram"].pk, "country": catalog["ukraine"].pk,
            "operator": "", "hours": 24, "webhook": "on", "nonce": str(uuid.uuid4())}  # fmt: skip
    client.post(reverse("admin:rentals_rental_rent"), form)
    assert RentAttempt.objects.get().state == AttemptState.UNKNOWN
    client.logout()
    reconcile(account)
    rental = Rental.objects.get()
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    assert history(client, rental) == [("olena", "Created")]
    assert rented_by_on_page(client, rental) == "olena"


def test_a_command_line_rent_is_the_named_persons_in_history_page_and_costs(boss, simulator, account, catalog, capsys):
    staff("taras", "rent_number")
    status, _, err = manage(
        "rent_number", "--account", "Sandbox", "--service", "tg", "--country", "1", "--as", "taras", capsys=capsys
    )
    assert status == 0, err
    rental = Rental.objects.get()
    assert history(boss, rental) == [("taras", "Created")]
    assert rented_by_on_page(boss, rental) == "taras"
    assert costs_by_person(boss) == ["Month", "taras", "Total"]  # not "(unknown)"


def test_an_extension_settled_by_reconciliation_and_a_cancel_through_the_api_are_their_askers(
    boss, simulator, account, catalog, short_timeouts
):
    olena, taras = staff("olena", "rent_number", "extend_rental"), staff("taras")
    taras.groups.add(Group.objects.get(name="Operator"))
    rental = services.rental_rent(
        account=account, service=catalog["telegram"], country=catalog["ukraine"], operator="any", hours=24,
        webhook=False, nonce=uuid.uuid4(), requested_by=olena, via="admin",
    ).rental  # fmt: skip
    simulator.force(delay=2.0)  # the extension goes through; its answer is lost
    extended = services.rental_extend(
        rental=rental, hours=4, nonce=uuid.uuid4(), requested_by=olena, price_quoted=None
    )  # fmt: skip
    assert extended.state == AttemptState.UNKNOWN
    reconcile(account)
    assert RentalExtension.objects.get().state == AttemptState.SUCCEEDED
    token = api_token_create(user=taras, name="script")[1]
    response = boss.post(f"/api/rentals/{rental.pk}/cancel", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    assert history(boss, rental) == [
        ("olena", "Created"),
        ("olena", "extension confirmed by reconciliation"),
        ("taras", "cancelled on SMS.online"),
    ]


def test_a_renewal_is_the_person_who_set_auto_renew_and_counts_in_their_costs(boss, simulator, account, catalog):
    olena = UserFactory(username="olena")
    taras = staff("taras", "extend_rental")
    rental = services.rental_rent(
        account=account, service=catalog["telegram"], country=catalog["ukraine"], operator="any", hours=24,
        webhook=False, nonce=uuid.uuid4(), requested_by=olena, via="admin",
    ).rental  # fmt: skip
    Rental.objects.filter(pk=rental.pk).update(
        auto_renew=True, auto_renew_hours=72, auto_renew_before_hours=25, auto_renew_max_price=Decimal("3.00"),
        auto_renew_by=taras,
    )  # fmt: skip
    assert services.rental_auto_renew(rental_id=rental.pk).facts["renewal"] == "renewed"
    assert history(boss, rental) == [("olena", "Created"), ("taras", "extended by 72 h")]
    assert costs_by_person(boss) == ["Month", "olena", "taras", "Total"]


def test_a_finish_from_the_admin_is_the_person_who_pressed_it(client, simulator, account, catalog):
    olena = staff("olena", "rent_number", "end_rental")
    rental = services.rental_rent(
        account=account, service=catalog["telegram"], country=catalog["ukraine"], operator="any", hours=24,
        webhook=False, nonce=uuid.uuid4(), requested_by=olena, via="admin",
    ).rental  # fmt: skip
    client.force_login(olena)
    client.post(reverse("admin:rentals_rental_finish", args=[rental.pk]))
    assert history(client, rental) == [("olena", "Created"), ("olena", "finished on SMS.online")]
    assert AUTOMATIC not in text(client.get(reverse("admin:rentals_rental_history", args=[rental.pk])))
