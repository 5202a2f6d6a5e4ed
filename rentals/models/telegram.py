"""The team's Telegram bot: whose chat is whose, the one-time codes that link them, and how far the
bot has read its updates."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TelegramLink(models.Model):
    """A person's Telegram chat with the bot: codes of their rentals go there, and the bot answers them."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("person"), on_delete=models.CASCADE, related_name="telegram_link"
    )
    # One chat is one person's: linking it to another moves it (the newest /start wins).
    chat_id = models.BigIntegerField(_("Telegram chat"), unique=True)
    # The language the person used Rentdesk in when they linked: the bot answers in it.
    language = models.CharField(_("language"), max_length=8, default="en")
    linked_at = models.DateTimeField(_("linked at"))

    class Meta:
        verbose_name = _("Telegram link")
        verbose_name_plural = _("Telegram links")

    def __str__(self) -> str:
        return str(self.user)


class OneTimeForPerson(models.Model):
    """Something a person may use once, until it expires (a link code, a rent to confirm)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("person"), on_delete=models.CASCADE, related_name="+"
    )
    expires_at = models.DateTimeField(_("expires at"))
    # Set when it is used (or withdrawn): it works once.
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} {self.pk}"


class TelegramLinkCode(OneTimeForPerson):
    """A code shown once on "Connect Telegram": whoever sends it to the bot within its time links their
    chat to this person. Only its hash is kept (the page shows it once), and it works once."""

    code_hash = models.CharField(_("code hash"), max_length=64, unique=True)
    language = models.CharField(_("language"), max_length=8, default="en")

    class Meta:
        verbose_name = _("Telegram link code")
        verbose_name_plural = _("Telegram link codes")


class TelegramPoll(models.Model):
    """How far the bot has read its updates (one row), and the lease that keeps it to one reader."""

    # The next update_id to ask for: getUpdates' offset, which also tells Telegram the earlier ones were read.
    offset = models.BigIntegerField(_("offset"), default=0)
    # While in the future, one task is reading; a reader whose worker died lets it lapse.
    leased_until = models.DateTimeField(_("leased until"), null=True, blank=True)
    last_read_at = models.DateTimeField(_("last read at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("Telegram updates")
        verbose_name_plural = _("Telegram updates")

    def __str__(self) -> str:
        return f"Telegram updates from {self.offset}"


class TelegramRentOffer(OneTimeForPerson):
    """A rent asked for in the bot (``/rent``) and waiting for the person's confirmation: the button,
    or ``/confirm`` with their authenticator's code where two-factor sign-in is required. Its nonce is
    the rent attempt's, so a second tap, or a confirmation read twice, rents once."""

    chat_id = models.BigIntegerField(_("Telegram chat"))
    nonce = models.UUIDField(_("nonce"), unique=True)
    # The rent form's fields, by name (account name, service code, country id, hours, label).
    arguments = models.JSONField(_("arguments"))

    class Meta:
        verbose_name = _("rent offered in Telegram")
        verbose_name_plural = _("rents offered in Telegram")
