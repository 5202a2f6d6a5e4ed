"""Signing in to the admin: lockout after repeated failures (django-axes) and two-factor codes (TOTP,
django-otp), optional for everyone and required for those who can spend money when configured."""

import re
import time
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from rentals.models import RentAttempt

pytestmark = pytest.mark.django_db

LOGIN_URL = reverse("admin:login")
PASSWORD = "correct-horse-battery"


def staff(username: str, group: str | None = None, **extra) -> User:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True, **extra)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def log_in(client, username: str, password: str = PASSWORD, code: str = "", **headers: str):
    return client.post(LOGIN_URL, {"username": username, "password": password, "otp_token": code,
                                   "next": "/admin/"}, **headers)  # fmt: skip


def code_for(device: TOTPDevice) -> str:
    """What the user's authenticator app shows now."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():06d}"


def test_repeated_failures_lock_the_username_out_and_the_admin_lists_it(client, settings):
    staff("olena", "Operator")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "olena", "wrong").status_code == 200  # the form again, with its error
    assert log_in(client, "olena", "wrong").status_code == 429
    locked = log_in(client, "olena")  # even the right password, for now
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    listing = client.get(reverse("admin:axes_accessattempt_changelist") + "?locked_out=yes").content.decode()
    assert "olena" in listing
    assert re.search(r'id="locked-out-logins">1<', client.get(reverse("admin:index")).content.decode())


def failures_then_sign_in(client, *, forwarded_for: list[str], settings) -> list[int]:
    """The limit's worth of wrong passwords for olena, each from the next X-Forwarded-For in turn
    (all through one proxy at 127.0.0.1); then the right password from the last. The status codes."""
    statuses = []
    for n in range(settings.AXES_FAILURE_LIMIT):
        header = forwarded_for[n % len(forwarded_for)]
        statuses.append(log_in(client, "olena", "wrong", HTTP_X_FORWARDED_FOR=header).status_code)
    return [*statuses, log_in(client, "olena", HTTP_X_FORWARDED_FOR=forwarded_for[-1]).status_code]


def test_behind_the_proxy_a_lockout_holds_the_guessing_address_not_the_person(client, settings):
    settings.RENTDESK_TRUST_X_FORWARDED_FOR = True
    staff("olena", "Viewer")
    # What the client wrote before the proxy's own entry changes nothing: the proxy saw 203.0.113.5.
    forged = ["203.0.113.5", "198.51.100.1, 203.0.113.5", "10.0.0.1, 198.51.100.2, 203.0.113.5"]
    statuses = failures_then_sign_in(client, forwarded_for=forged, settings=settings)
    assert statuses[-2:] == [429, 429]  # the last failure locks; the right password is refused too
    colleague = log_in(client, "olena", HTTP_X_FORWARDED_FOR="198.51.100.7")  # olena herself, from the office
    assert colleague.status_code == 302


def test_without_a_trusted_proxy_a_forwarded_for_header_is_not_believed(client, settings):
    settings.RENTDESK_TRUST_X_FORWARDED_FOR = False
    staff("olena", "Viewer")
    rotating = [f"203.0.113.{n}" for n in range(1, settings.AXES_FAILURE_LIMIT + 1)]
    statuses = failures_then_sign_in(client, forwarded_for=rotating, settings=settings)
    assert statuses[-2:] == [429, 429]  # one address (REMOTE_ADDR) however the header changes


def test_straight_to_gunicorn_a_rotating_forwarded_for_does_not_defeat_the_lockout(client, settings):
    """gunicorn reached from another machine (not the proxy): each new X-Forwarded-For was a new
    address, so no lockout ever held."""
    settings.RENTDESK_TRUST_X_FORWARDED_FOR = True
    staff("olena", "Viewer")
    rotating = [f"203.0.113.{n}" for n in range(1, settings.AXES_FAILURE_LIMIT + 1)]
    statuses = []
    for header in rotating:
        statuses.append(
            log_in(client, "olena", "wrong", HTTP_X_FORWARDED_FOR=header, REMOTE_ADDR="192.0.2.50").status_code
        )
    assert statuses[-1] == 429
    assert log_in(client, "olena", HTTP_X_FORWARDED_FOR="198.51.100.9", REMOTE_ADDR="192.0.2.50").status_code == 429
    assert log_in(client, "olena", REMOTE_ADDR="192.0.2.51").status_code == 302  # another address still signs in


def test_through_a_chain_of_trusted_proxies_the_first_address_they_did_not_write_counts(client, settings):
    settings.RENTDESK_TRUST_X_FORWARDED_FOR = True
    settings.RENTDESK_TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
    staff("olena", "Viewer")
    # A load balancer at 10.0.0.3 saw 203.0.113.5; nginx (127.0.0.1) appended 10.0.0.3.
    forged = [f"198.51.100.{n}, 203.0.113.5, 10.0.0.3" for n in range(settings.AXES_FAILURE_LIMIT)]
    statuses = failures_then_sign_in(client, forwarded_for=forged, settings=settings)
    assert statuses[-2:] == [429, 429]
    assert log_in(client, "olena", HTTP_X_FORWARDED_FOR="203.0.113.6, 10.0.0.3").status_code == 302


def test_behind_a_unix_socket_the_proxys_forwarded_for_is_believed(client, settings):
    """gunicorn on a unix socket (WEB_BIND=unix:...) gives no peer address: only local processes reach it."""
    settings.RENTDESK_TRUST_X_FORWARDED_FOR = True
    staff("olena", "Viewer")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "olena", "wrong", HTTP_X_FORWARDED_FOR="203.0.113.5", REMOTE_ADDR="")
    assert log_in(client, "olena", HTTP_X_FORWARDED_FOR="203.0.113.5", REMOTE_ADDR="").status_code == 429
    assert log_in(client, "olena", HTTP_X_FORWARDED_FOR="198.51.100.7", REMOTE_ADDR="").status_code == 302
    settings.RENTDESK_TRUSTED_PROXIES = ["127.0.0.1"]  # a socket others can reach: not believed
    assert log_in(client, "olena", "wrong", HTTP_X_FORWARDED_FOR="198.51.100.8", REMOTE_ADDR="").status_code == 200


def test_a_forwarded_for_that_does_not_end_in_an_address_counts_as_the_proxy(client, settings):
    settings.RENTDESK_TRUST_X_FORWARDED_FOR = True
    staff("olena", "Viewer")
    garbage = ["unknown", "203.0.113.5, <script>", "", "203.0.113.5,", "2001:db8::1, nonsense"]
    statuses = failures_then_sign_in(client, forwarded_for=garbage, settings=settings)
    assert statuses[-2:] == [429, 429]


def test_a_lockout_ends_after_its_time(client, settings):
    staff("olena", "Operator")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "olena", "wrong")
    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(minutes=1)):
        assert log_in(client, "olena").status_code == 302


def test_two_factor_is_optional_and_asked_once_set_up(client):
    user = staff("olena", "Operator")
    assert log_in(client, "olena").status_code == 302  # no app set up: the password is enough
    page = client.get(reverse("two_factor")).content.decode()
    secret = re.search(r'id="two-factor-secret">([A-Z2-7]+)<', page).group(1)
    # The QR code on a white ground of its own, scannable in the dark theme too.
    assert re.search(r'id="two-factor-qr"><svg [^>]*class="segno"><g [^>]*><path fill="#fff" d="M0 0h', page)
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert client.post(reverse("two_factor"), {"code": code_for(device)}).status_code == 302
    assert TOTPDevice.objects.get(user=user).confirmed and secret
    client.logout()
    assert "Enter the 6-digit code" in log_in(client, "olena").content.decode()
    assert "_auth_user_id" not in client.session
    assert "not right" in log_in(client, "olena", code="000000").content.decode()
    device.refresh_from_db()
    with time_machine.travel(timezone.now() + timedelta(seconds=31), tick=False):  # past the wrong code's delay
        assert log_in(client, "olena", code=code_for(device)).status_code == 302
    assert client.get(reverse("two_factor")).content.decode().count('id="two-factor-on"') == 1


@pytest.mark.parametrize(("group", "required"), [("Operator", True), ("Manager", True), ("Viewer", False)])
def test_when_required_those_who_can_spend_set_up_a_second_factor_first(client, settings, group, required):
    settings.RENTDESK_REQUIRE_2FA = True
    staff("olena", group)
    assert log_in(client, "olena").status_code == 302
    rentals = client.get(reverse("admin:rentals_rental_changelist"))
    assert (rentals.status_code == 302 and rentals["Location"].startswith(reverse("two_factor"))) is required
    client.post(reverse("admin:rentals_rental_rent"), {"nonce": str(uuid.uuid4())})
    assert RentAttempt.objects.count() == 0
    if required:
        client.get(reverse("two_factor"))  # the setup page makes the secret the app scans
        device = TOTPDevice.objects.get(user__username="olena")
        client.post(reverse("two_factor"), {"code": code_for(device), "next": "/admin/rentals/rental/"})
        assert client.get(reverse("admin:rentals_rental_changelist")).status_code == 200


def test_a_superuser_needs_no_second_factor_unless_required(client, settings):
    User.objects.create_superuser("admin", password=PASSWORD)
    assert log_in(client, "admin").status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200
    settings.RENTDESK_REQUIRE_2FA = True
    assert client.get(reverse("admin:index")).status_code == 302


def test_wrong_two_factor_codes_at_login_count_toward_the_lockout(client, settings):
    user = staff("olena", "Operator")
    device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    statuses = [log_in(client, "olena", code="000000").status_code for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]  # the right password, wrong codes
    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):  # past django-otp's own delay
        locked = log_in(client, "olena", code=code_for(device))
    assert locked.status_code == 429 and "_auth_user_id" not in client.session
    assert log_in(client, "olena", HTTP_USER_AGENT="another browser").status_code == 429


def test_wrong_codes_on_the_two_factor_page_lock_out_and_sign_the_session_out(client, settings):
    settings.RENTDESK_REQUIRE_2FA = True
    user = staff("olena", "Operator")
    device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    client.force_login(user)  # the password passed, no code entered in this session yet
    statuses = [client.post(reverse("two_factor"), {"code": "000000"}).status_code
                for _ in range(settings.AXES_FAILURE_LIMIT)]  # fmt: skip
    assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    assert "_auth_user_id" not in client.session
    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        assert log_in(client, "olena", code=code_for(device)).status_code == 429
    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(minutes=1), tick=False):
        assert log_in(client, "olena", code=code_for(device)).status_code == 302


def test_mistakes_while_setting_up_the_app_are_not_counted(client, settings):
    settings.RENTDESK_REQUIRE_2FA = True
    user = staff("olena", "Operator")
    client.force_login(user)
    client.get(reverse("two_factor"))  # the secret is on the page: there is nothing to guess
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        assert client.post(reverse("two_factor"), {"code": "000000"}).status_code == 200
    device = TOTPDevice.objects.get(user=user)
    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        assert client.post(reverse("two_factor"), {"code": code_for(device)}).status_code == 302
