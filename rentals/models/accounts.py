"""Provider accounts: the API key (encrypted at rest) and the account's health."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from ..crypto import decrypt_api_key, encrypt_api_key


class AccountState(models.TextChoices):
    OK = "ok", "OK"
    NO_BALANCE = "no_balance", "No balance"
    BANNED = "banned", "Banned until"
    INACTIVE = "inactive", "Inactive"
    BAD_KEY = "bad_key", "Bad API key"
    BLOCKED = "blocked", "Blocked"


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


class ProviderAccount(models.Model):
    name = models.CharField(max_length=100, unique=True)
    api_url = models.URLField("API URL", max_length=500, help_text="The full …/stubs/handler_api.php URL.")
    api_key_ciphertext = models.TextField(editable=False)
    api_key_hint = models.CharField(max_length=8, editable=False, blank=True)
    api_key_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    state = models.CharField(max_length=16, choices=AccountState.choices, default=AccountState.OK)
    banned_until = models.DateTimeField(null=True, blank=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    last_error_token = models.CharField(max_length=64, blank=True)
    last_error_detail = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    balance = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    balance_checked_at = models.DateTimeField(null=True, blank=True)
    low_balance_threshold = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Alert the team once when the balance falls below this (USD); empty for no alert.",
    )
    # Set when the low-balance alert went out, cleared when the balance is back above the threshold:
    # one alert per crossing, however often the balance is checked.
    low_balance_alerted_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A lease: while set and in the future, one task is polling this account's SMS and no other starts.
    polling_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Who changed what and when; the key itself (even encrypted) stays out of the history.
    history = HistoricalRecords(
        excluded_fields=[
            "api_key_ciphertext",
            "balance",
            "balance_checked_at",
            "updated_at",
            "low_balance_alerted_at",
            "polling_until",
        ]
    )

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["state"], name="account_state_idx")]

    def __str__(self) -> str:
        return self.name

    def set_api_key(self, plain: str) -> None:
        self.api_key_ciphertext = encrypt_api_key(plain)
        self.api_key_hint = plain[-4:] if len(plain) >= 12 else ""
        self.api_key_changed_at = timezone.now()

    def reveal_api_key(self) -> str:
        """The plain key, for the outgoing request only. Raises ``ApiKeyUnreadable``."""
        return decrypt_api_key(self.api_key_ciphertext)

    @property
    def masked_api_key(self) -> str:
        if not self.api_key_ciphertext:
            return "not set"
        return f"set (…{self.api_key_hint})" if self.api_key_hint else "set"

    @property
    def state_summary(self) -> str:
        if self.state == AccountState.BANNED and self.banned_until:
            return f"Banned until {self.banned_until:%Y-%m-%d %H:%M %Z}"
        return self.get_state_display()

    def spending_block(self, now: datetime) -> str | None:
        """The state token that stops this account from renting at ``now``, or None."""
        if self.state == AccountState.OK:
            return None
        if self.state == AccountState.BANNED and self.banned_until and self.banned_until <= now:
            return None
        return STATE_TOKENS[AccountState(self.state)]


class AccountEvent(models.Model):
    """A change in an account's health: state changes and low-balance crossings, with their cause."""

    class Kind(models.TextChoices):
        STATE_CHANGED = "state_changed", "State changed"
        LOW_BALANCE = "low_balance", "Balance below threshold"
        BALANCE_RECOVERED = "balance_recovered", "Balance back above threshold"

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    old_state = models.CharField(max_length=16, choices=AccountState.choices, blank=True)
    new_state = models.CharField(max_length=16, choices=AccountState.choices, blank=True)
    cause = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.account}: {self.get_kind_display()} ({self.cause})"
