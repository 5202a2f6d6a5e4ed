"""Every admin action and every custom admin URL, walked as each role: the controls a role sees, and
what a crafted POST does when the control is not offered (nothing: no row changes, no provider call,
no task queued).

The rights each control needs are declared here, apart from the code under test; a control added
without a line here fails ``test_every_action_and_custom_url_is_declared``.
"""

import uuid
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from celery.signals import before_task_publish
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group, Permission, User
from django.core import serializers
from django.test import RequestFactory
from django.urls import URLResolver, reverse
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, PeriodicTask, SolarSchedule
from django_otp.plugins.otp_totp.models import TOTPDevice

from rentals.models import AttemptState, RentalExtension, RentAttempt, SmsMessage
from rentals.roles import ROLES

from ..factories import RentalFactory

pytestmark = pytest.mark.django_db(transaction=True)

# The suggested groups, and the two edges: no rights at all, and every view right there is.
WALKED_ROLES = ["anonymous", "staff without groups", "Viewer", "Operator", "Manager", "may view everything"]
VIEW_EVERYTHING = "may view everything"

# (model, action) -> the permission it needs, or all of several. delete_selected needs the model's delete
# permission.
ACTIONS = {
    ("rentals.rental", "claim"): "rentals.change_rental",
    ("rentals.rental", "release"): "rentals.change_rental",
    # Following sends a person the SMS of rentals they may see: anyone who may see the inventory.
    ("rentals.rental", "follow"): "rentals.view_rental",
    ("rentals.rental", "unfollow"): "rentals.view_rental",
    ("rentals.rental", "set_auto_renew"): ("rentals.change_rental", "rentals.extend_rental"),
    ("rentals.rental", "stop_auto_renew"): ("rentals.change_rental", "rentals.extend_rental"),
    ("rentals.provideraccount", "rent_with_account"): "rentals.rent_number",
    ("rentals.provideraccount", "check_balance"): "rentals.change_provideraccount",
    ("rentals.provideraccount", "reset_state"): "rentals.change_provideraccount",
    ("rentals.rentattempt", "mark_not_charged"): "rentals.rent_number",
    ("rentals.rentalextension", "mark_not_charged"): "rentals.extend_rental",
    ("django_celery_beat.periodictask", "enable_tasks"): "django_celery_beat.change_periodictask",
    ("django_celery_beat.periodictask", "disable_tasks"): "django_celery_beat.change_periodictask",
    ("django_celery_beat.periodictask", "toggle_tasks"): "django_celery_beat.change_periodictask",
    ("django_celery_beat.periodictask", "run_tasks"): "django_celery_beat.change_periodictask",
    ("axes.accessattempt", "cleanup_expired_attempts"): "axes.delete_accessattempt",
    # Everyone on the staff revokes their own tokens (Managers anyone's): open to any staff member.
    ("rentals.apitoken", "revoke"): "",
}
# URL name -> (permissions it needs, where its control shows, the control's mark there). An empty list
# of permissions: open to any staff member.
CUSTOM_URLS = {
    "rentals_rental_rent": (["rentals.rent_number"], "changelist", 'id="rent-number-button"'),
    "rentals_rental_check_sms": (["rentals.view_smsmessage", "rentals.poll_rental"], "change", 'id="check-sms-button"'),
    "rentals_rental_extend": (["rentals.extend_rental"], "change", 'id="extend-button"'),
    "rentals_rental_finish": (["rentals.end_rental"], "change", 'id="finish-button"'),
    "rentals_rental_cancel": (["rentals.end_rental"], "change", 'id="cancel-button"'),
    "rentals_rental_costs": (["rentals.view_rental"], "changelist", 'id="costs-link"'),
    "rentals_rental_export": (["rentals.view_rental"], "changelist", 'class="export_link"'),
    "rentals_rental_simple_history": (["rentals.view_rental"], None, None),
    "rentals_rental_live_sms": (["rentals.view_rental", "rentals.view_smsmessage"], "change", 'id="live-sms"'),
    "rentals_rental_live_list": (
        ["rentals.view_rental", "rentals.view_smsmessage"],
        "changelist",
        'id="live-sms-inventory"',
    ),
    "rentals_rental_live_new_codes": (["rentals.view_rental", "rentals.view_smsmessage"], None, None),
    "rentals_rental_columns": (["rentals.view_rental"], "changelist", 'id="columns-toggle"'),
    "rentals_rentattempt_columns": (["rentals.view_rentattempt"], None, None),
    "rentals_rentalextension_columns": (["rentals.view_rentalextension"], None, None),
    "auth_user_password_change": (["auth.change_user"], None, None),
    "otp_totp_totpdevice_config": (["otp_totp.change_totpdevice"], None, None),
    "otp_totp_totpdevice_qrcode": (["otp_totp.change_totpdevice"], None, None),
}
# A POST here is refused whatever the rights: history is a record, and nobody reads another's secret.
REFUSED_TO_ALL = {"rentals_rental_simple_history", "otp_totp_totpdevice_config", "otp_totp_totpdevice_qrcode"}
SITE_URLS = {"index", "login", "logout", "password_change", "password_change_done", "autocomplete", "jsi18n",
             "view_on_site", "app_list", None}  # fmt: skip
MODEL_VIEWS = ("changelist", "add", "change", "delete", "history")


def custom_url_names() -> set[str]:
    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns)
            else:
                yield pattern.name

    standard = {
        f"{m._meta.app_label}_{m._meta.model_name}_{view}" for m in admin.site._registry for view in MODEL_VIEWS
    }
    return {name for name in walk(admin.site.get_urls()) if name not in SITE_URLS | standard}


def every_action() -> list[tuple[str, str]]:
    request = RequestFactory().get("/")
    request.user = User(is_superuser=True, is_staff=True, is_active=True)
    return [
        (model._meta.label_lower, name)
        for model, model_admin in admin.site._registry.items()
        for name in model_admin.get_actions(request)
    ]


def needed_for_action(model_label: str, action: str) -> str | tuple[str, ...]:
    if action == "delete_selected":
        app_label, model_name = model_label.split(".")
        return f"{app_label}.delete_{model_name}"
    return ACTIONS[(model_label, action)]


def holds(role: str, permission: str | tuple[str, ...]) -> bool:
    if isinstance(permission, tuple):
        return all(holds(role, each) for each in permission)
    if role == "anonymous":
        return False
    if permission == "":  # open to any staff member
        return True
    if role == VIEW_EVERYTHING:
        return permission.split(".")[1].startswith("view_")
    return permission in ROLES.get(role, [])


def test_every_action_and_custom_url_is_declared():
    undeclared = [key for key in every_action() if key[1] != "delete_selected" and key not in ACTIONS]
    assert undeclared == [] and custom_url_names() == set(CUSTOM_URLS)


@pytest.fixture
def world(simulator, account, catalog):
    """A row of every model that has actions, and a rental with an SMS, on the simulator."""
    rental = RentalFactory(account=account, service=catalog["telegram"], country=catalog["ukraine"],
                           created_at=timezone.now(), end_date=timezone.now() + timedelta(days=1))  # fmt: skip
    SmsMessage.objects.create(rental=rental, sender="Bank", text="Code 8080", code="8080", received_at=timezone.now(),
                              dedupe_key="k", source="poll")  # fmt: skip
    RentAttempt.objects.create(account=account, service=catalog["telegram"], country=catalog["ukraine"], hours=24,
                               via="admin", state=AttemptState.UNKNOWN)  # fmt: skip
    RentalExtension.objects.create(rental=rental, hours=24, old_rent_id=rental.provider_rent_id,
                                   state=AttemptState.UNKNOWN, sent_at=timezone.now())  # fmt: skip
    ClockedSchedule.objects.create(clocked_time=timezone.now() + timedelta(days=1))
    SolarSchedule.objects.create(event="sunrise", latitude=50.45, longitude=30.52)
    CrontabSchedule.objects.get_or_create(minute="0", hour="3")
    someone = User.objects.create_user("someone")
    TOTPDevice.objects.create(user=someone, name="phone")
    seen = {"username": "someone", "ip_address": "127.0.0.1", "user_agent": "x", "http_accept": "*/*", "path_info": "/"}
    AccessAttempt.objects.create(**seen, get_data="", post_data="", failures_since_start=9)
    AccessLog.objects.create(**seen)
    AccessFailureLog.objects.create(**seen, locked_out=True)
    from rentals.models import ForwardingPreference, PersonBudget
    from rentals.services.api_tokens import api_token_create

    api_token_create(user=someone, name="someone's script")
    PersonBudget.objects.create(user=someone, monthly_budget="10.00")
    ForwardingPreference.objects.create(user=someone, sms_chat_urls="none")
    assert PeriodicTask.objects.exists() and Group.objects.exists()
    return {"rental": rental, "simulator": simulator}


def log_in(client, role: str) -> None:
    if role == "anonymous":
        return
    user = User.objects.create_user(f"walker-{role.split()[0].lower()}", password="pw", is_staff=True)
    if role in ROLES:
        user.groups.add(Group.objects.get(name=role))
    if role == VIEW_EVERYTHING:
        user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    from rentals.services.api_tokens import api_token_create

    api_token_create(user=user, name="the walker's own script")  # each person sees only their own tokens
    client.force_login(user)


class SideEffects:
    """What a request changed: rows (history included), provider calls, queued tasks."""

    def __init__(self, simulator) -> None:
        self.simulator, self.published = simulator, []
        before_task_publish.connect(self._queued, weak=False)

    def _queued(self, sender=None, **kwargs) -> None:
        self.published.append(sender)

    def snapshot(self) -> tuple:
        rows = [*apps.get_app_config("rentals").get_models(), PeriodicTask, Group, AccessAttempt, TOTPDevice]
        dump = serializers.serialize("json", [obj for model in rows for obj in model._default_manager.order_by("pk")])
        return dump, len(self.simulator.requests()), len(self.published)

    def close(self) -> None:
        before_task_publish.disconnect(self._queued)


@pytest.fixture
def effects(world):
    watcher = SideEffects(world["simulator"])
    yield watcher
    watcher.close()


def refused(response) -> bool:
    """Refused outright (403, 404, login page) or, for an action not offered, "No action selected"."""
    login_page = response.status_code == 302 and "/login/" in response["Location"]
    return response.status_code in (403, 404, 405) or login_page


@pytest.mark.parametrize("role", WALKED_ROLES)
def test_actions_as_each_role(client, world, effects, role):
    log_in(client, role)
    problems = []
    for model_label, action in every_action():
        needed = needed_for_action(model_label, action)
        allowed = holds(role, needed)
        model = apps.get_model(model_label)
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        shown = f'<option value="{action}">' in client.get(changelist).content.decode()
        if shown is not allowed:
            problems.append(f"{action} on {model_label}: shown={shown}, allowed={allowed}")
        before = effects.snapshot()
        response = client.post(changelist, {"action": action, "_selected_action": [model.objects.first().pk]})
        if not allowed and effects.snapshot() != before:
            problems.append(f"{action} on {model_label}: a crafted POST changed something")
        if allowed and refused(response):
            problems.append(f"{action} on {model_label}: refused ({response.status_code})")
        if response.status_code >= 500:
            problems.append(f"{action} on {model_label}: {response.status_code}")
    assert problems == []


@pytest.mark.parametrize("role", WALKED_ROLES)
def test_custom_urls_as_each_role(client, world, effects, role):
    log_in(client, role)
    rental = world["rental"]
    pages = {
        "changelist": client.get(reverse("admin:rentals_rental_changelist")).content.decode(),
        "change": client.get(reverse("admin:rentals_rental_change", args=[rental.pk])).content.decode(),
    }
    problems = []
    for name, (needed, page, mark) in CUSTOM_URLS.items():
        # No permission listed: any signed-in staff member may (never the anonymous visitor).
        allowed = role != "anonymous" and all(holds(role, permission) for permission in needed)
        if page is not None and (mark in pages[page]) is not allowed:
            problems.append(f"{name}: control shown={not allowed}, allowed={allowed}")
        url = custom_url(name, rental)
        before = effects.snapshot()
        response = client.post(url, {"hours": "24", "nonce": str(uuid.uuid4()), "format": "0", "resource": "0"})
        refused_to_all = name in REFUSED_TO_ALL
        if (not allowed or refused_to_all) and (not refused(response) or effects.snapshot() != before):
            problems.append(f"{name}: a crafted POST got {response.status_code} or changed something")
        if allowed and not refused_to_all and refused(response):
            problems.append(f"{name}: refused ({response.status_code})")
        if response.status_code >= 500 or client.get(url).status_code >= 500:
            problems.append(f"{name}: {response.status_code}")
    assert problems == []


def custom_url(name: str, rental) -> str:
    if name == "rentals_rental_simple_history":
        version = rental.history.first().history_id
        return reverse(f"admin:{name}", args=[rental.pk, version])
    if name == "auth_user_password_change":
        return reverse(f"admin:{name}", args=[User.objects.order_by("pk").first().pk])
    if name.startswith("otp_totp_"):
        return reverse(f"admin:{name}", args=[TOTPDevice.objects.get().pk])
    without_a_rental = (
        "rentals_rental_rent",
        "rentals_rental_costs",
        "rentals_rental_export",
        "rentals_rental_live_list",
        "rentals_rental_live_new_codes",
    )
    if name in without_a_rental or name.endswith("_columns"):
        return reverse(f"admin:{name}")
    return reverse(f"admin:{name}", args=[rental.pk])


def test_no_template_comment_runs_over_a_line():
    """Django's {# … #} ends on its own line; one that runs on is shown to every reader as text."""
    from pathlib import Path

    templates = Path(__file__).resolve().parents[2] / "templates"
    unclosed = [f"{path.name}:{number}" for path in templates.rglob("*.html")
                for number, line in enumerate(path.read_text().splitlines(), 1)
                if "{#" in line and "#}" not in line.split("{#", 1)[1]]  # fmt: skip
    assert unclosed == []
