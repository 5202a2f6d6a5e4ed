"""Provider accounts: the API key (encrypted at rest) and the account's health."""

from __future__ import annotations

from datetime import datetime

from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from ..crypto import decrypt_api_key, encrypt_api_key
from ..origins import url_origin


class AccountState(models.TextChoices):
    OK = "ok", _("OK")
    NO_BALANCE = "no_balance", _("No balance")
    BANNED = "banned", _("Banned until")
    INACTIVE = "inactive", _("Inactive")
    BAD_KEY = "bad_key", _("Bad API key")
    BLOCKED = "blocked", _("Blocked")


# What Rentdesk refuses with while SMS.online asked the account to wait (HTTP 429, Retry-After).
RATE_LIMITED_TOKEN = "RATE_LIMITED"

# The provider token that stands for each blocking state, used when Rentdesk refuses on its behalf.
STATE_TOKENS = {
    AccountState.NO_BALANCE: "NO_BALANCE",
    AccountState.BANNED: "BANNED",
    AccountState.INACTIVE: "ACCOUNT_INACTIVE",
    AccountState.BAD_KEY: "BAD_KEY",
    AccountState.BLOCKED: "CHANNELS_LIMIT",
}


def api_key_problem(key: str) -> str | None:
    """Why ``key`` cannot be an SMS.online API key, or None. Shared by the admin and the CLI."""
    if not key:
        return "The API key is empty."
    if len(key) > 200 or any(ch.isspace() or not ch.isprintable() for ch in key):
        return "An API key is one word of at most 200 printable characters."
    return None


UNTRACKED_FIELDS = [
    "api_key_ciphertext", "api_key_origin", "balance", "balance_checked_at", "updated_at", "low_balance_alerted_at",
    "polling_until", "awaiting_polling_until", "last_error_token", "last_error_detail", "last_error_at",
    "provider_actions", "rate_limited_until", "next_request_at",
]  # fmt: skip


class ProviderAccount(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    api_url = models.URLField(_("API URL"), max_length=500, help_text=_("The full …/stubs/handler_api.php URL."))
    api_key_ciphertext = models.TextField(_("api key ciphertext"), editable=False)
    api_key_hint = models.CharField(_("api key hint"), max_length=8, editable=False, blank=True)
    api_key_changed_at = models.DateTimeField(_("api key changed at"), null=True, blank=True, editable=False)
    # scheme://host:port of the API URL the key was entered for: the key is sent nowhere else.
    api_key_origin = models.CharField(_("api key origin"), max_length=300, blank=True, editable=False)
    state = models.CharField(_("state"), max_length=16, choices=AccountState.choices, default=AccountState.OK)
    banned_until = models.DateTimeField(_("banned until"), null=True, blank=True)
    state_changed_at = models.DateTimeField(_("state changed at"), null=True, blank=True)
    last_error_token = models.CharField(_("last error token"), max_length=64, blank=True)
    last_error_detail = models.TextField(_("last error detail"), blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    balance = models.DecimalField(_("balance"), max_digits=14, decimal_places=4, null=True, blank=True)
    balance_checked_at = models.DateTimeField(_("balance checked at"), null=True, blank=True)
    low_balance_threshold = models.DecimalField(
        _("low balance threshold"),
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_("Alert the team once when the balance falls below this (USD); empty for no alert."),
    )
    monthly_budget = models.DecimalField(
        _("monthly budget"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=_(
            "At most this much (USD) is spent with this account per calendar month: a rent or extension "
            "that would pass it is refused before anything is sent. Empty for no budget."
        ),
    )
    # Set when the low-balance alert went out, cleared when the balance is back above the threshold:
    # one alert per crossing, however often the balance is checked.
    low_balance_alerted_at = models.DateTimeField(_("low balance alerted at"), null=True, blank=True, editable=False)
    # Leases: while set and in the future, one task is polling this account's SMS and no other starts;
    # one for the rentals awaiting a code (the urgent queue), one for the rest (services/polling.py).
    polling_until = models.DateTimeField(_("polling until"), null=True, blank=True, editable=False)
    awaiting_polling_until = models.DateTimeField(
        _("polling rentals awaiting a code until"), null=True, blank=True, editable=False
    )
    # Which of the family's names for an operation this provider answers ({"extension_price":
    # "getContinueRentPriceNumber"}), learned from BAD_ACTION replies so the fallback costs one request once.
    provider_actions = models.JSONField(_("provider actions"), default=dict, blank=True, editable=False)
    # After an HTTP 429, nothing is sent for this account until then (the provider's Retry-After).
    rate_limited_until = models.DateTimeField(_("rate limited until"), null=True, blank=True, editable=False)
    # The account's next free moment for a status or price request: every process books one here
    # (services/pacing.py), so together they never exceed SMSONLINE_POLL_RATE.
    next_request_at = models.DateTimeField(_("next request at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # Who changed what and when; the key itself (even encrypted) stays out of the history, and so do
    # the readings that change on every check (their own records are AccountEvent and ErrorEvent).
    history = HistoricalRecords(excluded_fields=UNTRACKED_FIELDS)

    class Meta:
        verbose_name = _("provider account")
        verbose_name_plural = _("provider accounts")
        ordering = ["name"]
        indexes = [models.Index(fields=["state"], name="account_state_idx")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and set(update_fields) <= set(UNTRACKED_FIELDS):
            self.skip_history_when_saving = True  # a reading, not a change anyone made
        try:
            super().save(*args, **kwargs)
        finally:
            self.__dict__.pop("skip_history_when_saving", None)

    def set_api_key(self, plain: str) -> None:
        """Keep ``plain`` (encrypted) as the key for the current API URL, and for that place only."""
        self.api_key_ciphertext = encrypt_api_key(plain)
        self.api_key_origin = url_origin(self.api_url)
        self.api_key_hint = plain[-4:] if len(plain) >= 12 else ""
        self.api_key_changed_at = timezone.now()

    def reveal_api_key(self) -> str:
        """The plain key, for the outgoing request only. Raises ``ApiKeyUnreadable``."""
        return decrypt_api_key(self.api_key_ciphertext)

    @property
    def masked_api_key(self) -> str:
        if not self.api_key_ciphertext:
            return gettext("not set")
        if self.api_key_hint:
            return gettext("set (…%(last_four)s)") % {"last_four": self.api_key_hint}
        return gettext("set")

    @property
    def state_summary(self) -> str:
        if self.state == AccountState.BANNED and self.banned_until:
            until = timezone.localtime(self.banned_until)  # the reader's timezone
            return gettext("Banned until %(date)s") % {"date": f"{until:%Y-%m-%d %H:%M %Z}"}
        return self.get_state_display()

    @property
    def state_sentence(self) -> str:
        """Why the account cannot rent, as the end of "Account X …"."""
        phrases = {
            AccountState.OK: gettext("can rent"),
            AccountState.NO_BALANCE: gettext("is out of balance"),
            AccountState.INACTIVE: gettext("is not active"),
            AccountState.BAD_KEY: gettext("has a bad API key"),
            AccountState.BLOCKED: gettext("is blocked"),
        }
        if self.state == AccountState.BANNED and self.banned_until:
            until = timezone.localtime(self.banned_until)
            return gettext("is banned until %(date)s") % {"date": f"{until:%Y-%m-%d %H:%M %Z}"}
        return phrases.get(AccountState(self.state), gettext("is banned"))

    def spending_block(self, now: datetime) -> str | None:
        """The token that stops this account from renting at ``now`` (its state, or SMS.online's request to
        wait after an HTTP 429), or None."""
        if self.state == AccountState.BANNED and self.banned_until and self.banned_until <= now:
            pass  # the ban has run out
        elif self.state != AccountState.OK:
            return STATE_TOKENS[AccountState(self.state)]
        if self.rate_limited_until and self.rate_limited_until > now:
            return RATE_LIMITED_TOKEN
        return None


class AccountEvent(models.Model):
    """A change in an account's health: state changes and low-balance crossings, with their cause."""

    class Kind(models.TextChoices):
        STATE_CHANGED = "state_changed", _("State changed")
        LOW_BALANCE = "low_balance", _("Balance below threshold")
        BALANCE_RECOVERED = "balance_recovered", _("Balance back above threshold")

    account = models.ForeignKey(
        ProviderAccount, verbose_name=_("account"), on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    old_state = models.CharField(_("old state"), max_length=16, choices=AccountState.choices, blank=True)
    new_state = models.CharField(_("new state"), max_length=16, choices=AccountState.choices, blank=True)
    cause = models.CharField(_("cause"), max_length=200)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("account event")
        verbose_name_plural = _("account events")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.account}: {self.get_kind_display()} ({self.cause})"
