"""Two-factor sign-in (TOTP, django-otp) for staff: optional for everyone, required for those who
can spend money or change keys when ``RENTDESK_REQUIRE_2FA`` is on.

- The admin login asks for the code of a user's authenticator app once that user has set one up.
- ``RequireTwoFactorMiddleware`` sends a user who must use two factors and has not entered a code
  in this session to ``two_factor_view`` before any other admin page: there they set up their app
  (first sign-in) or enter its code.
- A wrong code for an app that is set up counts as a failed login (django-axes), at the login form and
  on the code page alike: guessing codes meets the same lockout as guessing passwords.
"""

from __future__ import annotations

from base64 import b32encode
from collections.abc import Callable
from urllib.parse import urlencode

import segno
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import logout
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django_otp import login as otp_login
from django_otp.forms import OTPAuthenticationFormMixin
from django_otp.plugins.otp_totp.models import TOTPDevice

from .permissions import SPENDING

DEVICE_NAME = "Authenticator app"


def needs_two_factor(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether ``user`` must sign in with a second factor under the current settings."""
    if not (settings.RENTDESK_REQUIRE_2FA and user.is_authenticated and user.is_active and user.is_staff):
        return False
    return user.is_superuser or any(user.has_perm(permission) for permission in SPENDING)


def confirmed_device(user: AbstractBaseUser) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


class StaffLoginForm(OTPAuthenticationFormMixin, AdminAuthenticationForm):
    """The admin login: username and password, then the app's code for users who set one up."""

    otp_token = forms.CharField(
        label=_("Code from your authenticator app"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text=_("Only if you have set up two-factor sign-in."),
    )
    otp_error_messages = {
        **OTPAuthenticationFormMixin.otp_error_messages,
        "token_required": _("Enter the 6-digit code from your authenticator app."),
        "invalid_token": _("That code is not right. Enter the code your app shows now."),
    }

    def clean(self) -> dict:
        cleaned = super().clean()
        user = self.get_user()
        if user is not None and confirmed_device(user) is not None:
            try:
                self.clean_otp(user)
            except ValidationError:
                second_factor_failed(self.request, user)
                raise
        return cleaned

    def _chosen_device(self, user: AbstractBaseUser) -> TOTPDevice | None:
        # One app per person: no device list to choose from.
        return confirmed_device(user)

    def _update_form(self, user: AbstractBaseUser) -> None:
        # django-otp would render the password back into the page after a wrong code: not here.
        pass


class CodeForm(forms.Form):
    code = forms.RegexField(
        label=_("Code from your authenticator app"),
        regex=r"^\s*[0-9]{6}\s*$",
        error_messages={"invalid": _("Enter the 6 digits your app shows.")},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


def second_factor_failed(request: HttpRequest | None, user: AbstractBaseUser) -> None:
    """A wrong or missing code: one failed login for ``user`` from this address, as a wrong password
    is. django-axes records it, and marks ``request`` locked out when it reaches the limit."""
    user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=request)


def _locked_out(request: HttpRequest) -> HttpResponse | None:
    """The lockout page, with the session signed out, once this person and address are locked out."""
    credentials = {"username": request.user.get_username()}
    if not getattr(request, "axes_locked_out", False) and AxesProxyHandler.is_allowed(request, credentials):
        return None
    logout(request)  # the password is not enough to stay signed in: sign in again once the lockout ends
    return get_lockout_response(request, credentials=credentials)


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False)
    return target if safe and target else reverse("admin:index")


@staff_member_required
def two_factor_view(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app (the first time) or enter its code (once per session)."""
    device = confirmed_device(request.user)
    setting_up = device is None
    if setting_up:
        # An unconfirmed device holds the secret shown until its first code proves the app has it.
        device = TOTPDevice.objects.filter(user=request.user, confirmed=False).order_by("pk").first()
        device = device or TOTPDevice.objects.create(user=request.user, name=DEVICE_NAME, confirmed=False)
    if request.method == "POST" and not setting_up and (locked := _locked_out(request)):
        return locked
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"].strip()):
            if setting_up:
                TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
                messages.success(request, _("Two-factor sign-in is on: from now on you enter a code at login."))
            otp_login(request, device)
            return HttpResponseRedirect(_next_url(request))
        form.add_error("code", _("That code is not right. Enter the code your app shows now."))
        if not setting_up:  # while setting up, the app's secret is on this page: there is nothing to guess
            second_factor_failed(request, request.user)
            if locked := _locked_out(request):
                return locked
    context = {
        "title": _("Two-factor sign-in"),
        "form": form,
        "setting_up": setting_up,
        "verified": request.user.is_verified(),
        "required": needs_two_factor(request.user),
        "next": _next_url(request),
        # Shown only while setting up: once confirmed, the secret never leaves the server again.
        # On a white ground of its own: a dark theme would otherwise leave it dark on dark, unscannable.
        "qr_svg": segno.make(device.config_url).svg_inline(scale=4, light="#fff") if setting_up else "",
        "secret": b32encode(device.bin_key).decode() if setting_up else "",
    }
    return TemplateResponse(request, "admin/two_factor.html", {**admin.site.each_context(request), **context})


class RequireTwoFactorMiddleware:
    """Before any admin page, a user who must sign in with two factors has entered a code this session."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._must_verify_first(request):
            query = urlencode({"next": request.get_full_path()})
            return HttpResponseRedirect(f"{reverse('two_factor')}?{query}")
        return self.get_response(request)

    @staticmethod
    def _must_verify_first(request: HttpRequest) -> bool:
        admin_root = reverse("admin:index")
        if not request.path.startswith(admin_root):
            return False
        exempt = (reverse("two_factor"), reverse("admin:logout"), reverse("admin:login"), reverse("admin:jsi18n"))
        if request.path.startswith(exempt):
            return False
        return needs_two_factor(request.user) and not request.user.is_verified()
