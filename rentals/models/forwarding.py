"""SMS forwarded to chat: each person's choice of chat, and the record of each SMS's forwarding."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ..chat_urls import validate_chat_urls
from .rentals import SmsMessage

CHAT_URLS_HELP = _(
    "Apprise URLs, one per line (e.g. tgram://bot-token/chat-id, slack://…). Empty: the default applies. "
    "'none': not forwarded at all."
)


class ForwardingPreference(models.Model):
    """Where the SMS of the rentals a person is assigned to go, instead of the team's chat."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("person"), on_delete=models.CASCADE, related_name="forwarding"
    )
    sms_chat_urls = models.TextField(
        _("forward SMS to"), blank=True, validators=[validate_chat_urls], help_text=CHAT_URLS_HELP
    )
    # Read by every open Rentdesk tab (admin/live.py): a code shows in the tab's title either way.
    desktop_notifications = models.BooleanField(
        _("show codes as desktop notifications"),
        default=True,
        help_text=_(
            "While a Rentdesk tab is open, a code for a rental you are assigned to, rented or have open "
            "shows as a notification of your computer (the browser asks once, at your first click)."
        ),
    )

    # Only while the person has linked their Telegram ("Connect Telegram"); unset: on.
    telegram_codes = models.BooleanField(
        _("send codes to my Telegram"),
        default=True,
        help_text=_("Each SMS of a rental you are assigned to or rented goes to your linked Telegram chat."),
    )
    # When Telegram refused the person's chat for good (403: they blocked the bot, or left Telegram) and
    # Rentdesk let go of it: their Connect Telegram page says so until they connect again.
    telegram_refused_at = models.DateTimeField(_("Telegram refused the chat at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("my SMS forwarding")
        verbose_name_plural = _("my SMS forwarding")

    def __str__(self) -> str:
        return str(self.user)


class ForwardState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    NOT_FORWARDED = "not_forwarded", _("Not forwarded")


class SmsForward(models.Model):
    """The forwarding of one SMS: created with the SMS, so there is one however the SMS arrived."""

    sms = models.OneToOneField(
        SmsMessage, verbose_name=_("SMS"), on_delete=models.CASCADE, primary_key=True, related_name="forward"
    )
    state = models.CharField(_("state"), max_length=16, choices=ForwardState.choices, default=ForwardState.PENDING)
    # Masked (apprise's privacy form): a chat URL carries its service's secret.
    destinations = models.TextField(_("sent to"), blank=True)
    # Which destinations have it (hashes of their URLs): a retry posts only to the others.
    delivered = models.JSONField(_("delivered"), default=list, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # A lease: while in the future, one worker is posting this SMS and no other starts.
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    # When the next try is due; the catch-up only queues a forwarding whose task is well past it.
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("SMS forwarding")
        verbose_name_plural = _("SMS forwarding")
        indexes = [models.Index(fields=["state", "created_at"], name="forward_state_idx")]

    def __str__(self) -> str:
        return f"Forwarding of SMS {self.sms_id} ({self.get_state_display()})"
