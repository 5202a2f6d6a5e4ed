"""Two third-party apps as the admin names them: the index showed their package labels ("Axes",
"Otp_Totp") and the authenticator devices in English only. Named here, in the reader's language."""

from axes.apps import AppConfig as AxesAppConfig
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.apps import DefaultConfig as TotpAppConfig


class LoginSecurityConfig(AxesAppConfig):
    verbose_name = _("Login security")


class AuthenticatorsConfig(TotpAppConfig):
    verbose_name = _("Two-factor sign-in")

    def ready(self) -> None:
        super().ready()
        # Only the names shown: the model's migrations keep its own (Meta.original_attrs).
        device = self.get_model("TOTPDevice")._meta
        device.verbose_name, device.verbose_name_plural = _("authenticator app"), _("authenticator apps")
