"""Who may do what: every action hidden when not allowed, and a crafted POST changing nothing."""

import re
import uuid

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.auth.models import Permission as DjangoPermission
from django.urls import reverse
from django.utils import timezone

from rentals import services
from rentals.models import ErrorEvent, ProviderAccount, Rental, RentalStatus, RentAttempt, SmsMessage
from rentals.permissions import Permission
from rentals.roles import roles_install

from ..conftest import PROJECT
from ..factories import RentalFactory, staff_member

pytestmark = pytest.mark.django_db(transaction=True)

ROLES = ["Viewer", "Operator", "Manager"]
#                      Viewer Operator Manager
ALLOWED = {
    "rent": (False, True, True),
    "extend": (False, True, True),
    "finish": (False, True, True),
    "cancel": (False, True, True),
    "claim": (False, True, True),
    "read_sms": (False, True, True),
    "manage_accounts": (False, False, True),
}


@pytest.fixture
def setup(client, simulator, account, catalog):
    rental = RentalFactory(account=account, service=catalog["telegram"], country=catalog["ukraine"],
                           created_at=timezone.now(), label="Shop")  # fmt: skip
    SmsMessage.objects.create(rental=rental, sender="Bank", text="Secret code 8080", code="8080",
                              received_at=timezone.now(), dedupe_key="k", source="poll")  # fmt: skip
    Rental.objects.filter(pk=rental.pk).update(last_sms_text="Secret code 8080", last_sms_code="8080")
    return {"client": client, "rental": rental, "account": account, "catalog": catalog, "simulator": simulator}


def login(client, role):
    user = User.objects.create_user(f"{role.lower()}-user", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


@pytest.mark.parametrize("role", ROLES)
def test_the_permission_matrix(setup, role):
    client, rental, simulator = setup["client"], setup["rental"], setup["simulator"]
    user = login(client, role)
    allowed = {action: flags[ROLES.index(role)] for action, flags in ALLOWED.items()}
    listing = client.get(reverse("admin:rentals_rental_changelist")).content.decode()
    page = client.get(reverse("admin:rentals_rental_change", args=[rental.pk])).content.decode()

    # Renting
    assert ('id="rent-number-button"' in listing) is allowed["rent"]
    form = {"account": setup["account"].pk, "service": setup["catalog"]["telegram"].pk,
            "country": setup["catalog"]["ukraine"].pk, "hours": 24, "nonce": str(uuid.uuid4())}  # fmt: skip
    client.post(reverse("admin:rentals_rental_rent"), form)
    assert (RentAttempt.objects.count() == 1) is allowed["rent"]

    # Finishing, cancelling, extending: buttons, and what a crafted POST reaches
    for action, button in (("extend", "extend-button"), ("cancel", "cancel-button"), ("finish", "finish-button")):
        assert (f'id="{button}"' in page) is allowed[action]
    simulator.reset()
    for action in ("finish", "extend"):
        url = reverse(f"admin:rentals_rental_{action}", args=[rental.pk])
        status = client.post(url, {"hours": "24", "nonce": str(uuid.uuid4())}).status_code
        assert (status != 403) is allowed[action]
    provider_calls = simulator.requests("setRentStatus") + simulator.requests("continueRentNumber")
    assert bool(provider_calls) is allowed["finish"]

    # Claiming
    assert ('value="claim"' in listing) is allowed["claim"]
    client.post(reverse("admin:rentals_rental_changelist"), {"action": "claim", "_selected_action": [rental.pk]})
    rental.refresh_from_db()
    assert (rental.assignee == user) is allowed["claim"]

    # Reading SMS
    assert ("Secret code 8080" in listing) is allowed["read_sms"]
    assert ("Secret code 8080" in page) is allowed["read_sms"]

    # Managing accounts and keys
    url = reverse("admin:rentals_provideraccount_change", args=[setup["account"].pk])
    client.post(url, {"name": "Renamed", "api_url": setup["account"].api_url, "api_key": "",
                      "events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0"})  # fmt: skip
    assert (ProviderAccount.objects.get(pk=setup["account"].pk).name == "Renamed") is allowed["manage_accounts"]


def test_a_list_cannot_be_filtered_on_what_it_does_not_show(setup):
    """A Viewer may not read SMS: filtering the inventory on the last code (?last_sms_code__startswith=8,
    then 80...) would read it out a digit at a time, and webhook tokens the same way (with a token,
    anyone can post SMS to the rental). Such filters are refused; the ones the list offers still work."""
    client, rental = setup["client"], setup["rental"]
    login(client, "Viewer")
    rentals = reverse("admin:rentals_rental_changelist")
    token = Rental.objects.filter(pk=rental.pk).values_list("webhook_token", flat=True).get() or "x"
    for probe in ("last_sms_code__startswith=80", "last_sms_text__icontains=secret",
                  f"webhook_token__startswith={token[:2]}", "sms_chat_urls__contains=tgram"):  # fmt: skip
        assert client.get(f"{rentals}?{probe}").status_code == 400, probe
        assert client.get(f"{reverse('admin:rentals_rental_export')}?{probe}").status_code == 400, probe
    attempts = reverse("admin:rentals_rentattempt_changelist")
    assert client.get(f"{attempts}?webhook_token__regex=.").status_code == 400
    accounts = reverse("admin:rentals_provideraccount_changelist")
    assert client.get(f"{accounts}?api_key_ciphertext__startswith=g").status_code == 400
    offered = client.get(f"{rentals}?status__exact=active&expiring=72h&account__id__exact={setup['account'].pk}")
    assert offered.status_code == 200 and f'data-rental-id="{rental.pk}"' in offered.content.decode()


def test_every_list_refuses_filters_on_columns_it_does_not_offer(rf, admin_user):
    """Every list of Rentdesk's, and any added later: no column of its own beyond its filters."""
    from django.contrib import admin

    request = rf.get("/")
    request.user = admin_user
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label != "rentals":
            continue
        offered = model_admin._offered_filters(request)
        hidden = [f.name for f in model._meta.concrete_fields if not f.is_relation and f.name not in offered]
        for name in hidden:
            assert not model_admin.lookup_allowed(f"{name}__startswith", "a", request), (model, name)


def test_every_filter_link_a_list_shows_opens(setup, admin_client):
    """The filters the lists offer (choices, date ranges, date drill-downs) all still open."""
    import re
    from html import unescape

    from django.contrib import admin

    services.rental_extend(rental=setup["rental"], hours=24, nonce=uuid.uuid4(), requested_by=None,
                           price_quoted=None)  # fmt: skip
    ErrorEvent.objects.create(account=setup["account"], operation="getRentNumber", token="NO_BALANCE", sent=True)
    opened = 0
    for model in admin.site._registry:
        if model._meta.app_label != "rentals":
            continue
        listing = reverse(f"admin:rentals_{model._meta.model_name}_changelist")
        page = admin_client.get(listing)
        assert page.status_code == 200, listing
        for query in set(re.findall(r'href="(\?[^"#]+)"', page.content.decode())):
            response = admin_client.get(listing + unescape(query))
            assert response.status_code == 200, listing + unescape(query)
            opened += 1
    assert opened > 20


def test_every_permission_named_is_one_django_knows():
    unknown = [
        permission
        for permission in Permission
        if not DjangoPermission.objects.filter(
            content_type__app_label=permission.app_label, codename=permission.codename
        ).exists()
    ]
    assert unknown == []


def test_each_permission_is_spelled_once_in_rentals_permissions():
    """A permission spelled again elsewhere could drift from the one the roles grant."""
    spelled = re.compile("[\"']({})[\"']".format("|".join(re.escape(permission) for permission in Permission)))
    code = PROJECT / "rentals"
    elsewhere = [
        f"{path.relative_to(code)}: {found.group(1)}"
        for path in sorted(code.rglob("*.py"))
        if "migrations" not in path.parts and path.name != "permissions.py"
        for found in spelled.finditer(path.read_text())
    ]
    assert elsewhere == []


def test_the_history_form_cannot_write_an_old_version_back(client):
    rental = RentalFactory(label="first")
    rental.label, rental.status = "second", RentalStatus.FINISHED
    rental.save()
    old = rental.history.earliest("history_date")
    client.force_login(staff_member("someone", "view_rental"))
    url = reverse("admin:rentals_rental_simple_history", args=[rental.pk, old.history_id])
    response = client.post(url, {"label": "hijacked", "auto_renew": "on", "auto_renew_max_price": "9999"})
    rental.refresh_from_db()
    assert response.status_code == 403 and (rental.label, rental.status, rental.auto_renew) == (
        "second", RentalStatus.FINISHED, False)  # fmt: skip


def test_switching_on_auto_renew_needs_the_extend_permission(client):
    rental = RentalFactory()
    client.force_login(staff_member("someone", "view_rental", "change_rental"))
    url = reverse("admin:rentals_rental_change", args=[rental.pk])
    client.post(url, {"label": "x", "notes": "", "auto_renew": "on", "auto_renew_hours": "720",
                      "auto_renew_before_hours": "24", "auto_renew_max_price": "100",
                      **{f"{p}-{k}": "0" for p in ("messages", "extensions", "reminders")
                         for k in ("TOTAL_FORMS", "INITIAL_FORMS")}})  # fmt: skip
    rental.refresh_from_db()
    assert rental.label == "x" and rental.auto_renew is False


def test_groups_tuned_in_the_admin_stay_tuned():
    operator = Group.objects.get(name="Operator")
    operator.permissions.remove(DjangoPermission.objects.get(codename="rent_number"))
    roles_install()
    assert not operator.permissions.filter(codename="rent_number").exists()
