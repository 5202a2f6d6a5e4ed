"""Provider accounts, the catalog, rentals and the attempts that produced them.

No HTTP and no side effects here: business operations live in ``services.py``.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models

from .crypto import decrypt_api_key, encrypt_api_key

RENT_HOURS = (4, 8, 12, 24, 72, 168, 360, 720, 2160)
ANY_OPERATOR = "any"


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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["state"], name="account_state_idx")]

    def __str__(self) -> str:
        return self.name

    def set_api_key(self, plain: str) -> None:
        self.api_key_ciphertext = encrypt_api_key(plain)
        self.api_key_hint = plain[-4:] if len(plain) >= 12 else ""

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


class Service(models.Model):
    code = models.CharField(max_length=32, unique=True, help_text="The provider's code, e.g. tg, wa, full.")
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True, help_text="Offered in the rent form.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Country(models.Model):
    provider_id = models.PositiveIntegerField(unique=True, help_text="The provider's numeric country id.")
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True, help_text="Offered in the rent form.")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "countries"

    def __str__(self) -> str:
        return f"{self.name} ({self.provider_id})"


class Operator(models.Model):
    country = models.ForeignKey(Country, on_delete=models.CASCADE, related_name="operators")
    code = models.CharField(max_length=32, help_text="The provider's operator code, e.g. kyivstar.")
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True, help_text="Offered in the rent form.")

    class Meta:
        ordering = ["country__name", "name"]
        constraints = [models.UniqueConstraint(fields=["country", "code"], name="operator_unique_per_country")]

    def __str__(self) -> str:
        return f"{self.name} ({self.country.name})"


class Offer(models.Model):
    """What SMS.online asks for a service in a country for a rent time, and how many numbers it has."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="offers")
    country = models.ForeignKey(Country, on_delete=models.CASCADE, related_name="offers")
    hours = models.PositiveSmallIntegerField()
    cost = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    available = models.PositiveIntegerField(null=True, blank=True)
    checked_at = models.DateTimeField()

    class Meta:
        ordering = ["country__name", "service__name", "hours"]
        constraints = [
            models.UniqueConstraint(fields=["service", "country", "hours"], name="offer_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.service} in {self.country}, {self.hours} h"


class RentalStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    FINISHED = "finished", "Finished"
    CANCELLED = "cancelled", "Cancelled"
    REVOKED = "revoked", "Revoked by provider"
    EXPIRED = "expired", "Expired"


class Rental(models.Model):
    account = models.ForeignKey(ProviderAccount, on_delete=models.PROTECT, related_name="rentals")
    provider_rent_id = models.CharField("provider rent id", max_length=64)
    number = models.CharField(max_length=20, db_index=True, help_text="Digits only, as the provider sends it.")
    # Empty only for rentals adopted from the provider's list, which does not say them.
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="rentals", null=True, blank=True)
    country = models.ForeignKey(Country, on_delete=models.PROTECT, related_name="rentals", null=True, blank=True)
    operator = models.CharField(max_length=32, default=ANY_OPERATOR)
    hours = models.PositiveSmallIntegerField()
    end_date = models.DateTimeField()
    status = models.CharField(max_length=16, choices=RentalStatus.choices, default=RentalStatus.ACTIVE)
    cost = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    rented_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    label = models.CharField(
        "used for", max_length=200, blank=True, help_text="Which external account or purpose relies on this number."
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="assigned_rentals"
    )
    reminders_enabled = models.BooleanField(
        "send expiry reminders", default=True, help_text="Off: no reminder emails or chat messages for this number."
    )
    expired_at = models.DateTimeField(null=True, blank=True, editable=False)
    ended_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_polled_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The newest SMS, kept here so the inventory lists it without a query per row.
    last_sms_at = models.DateTimeField("last SMS at", null=True, blank=True, editable=False)
    last_sms_text = models.TextField("last SMS", blank=True, editable=False)
    last_sms_code = models.CharField("code", max_length=16, blank=True, editable=False)
    attention = models.CharField(
        max_length=300, blank=True, help_text="Something staff should look at (set by reconciliation)."
    )
    # The secret part of the webhook URL registered with the provider; None when none was registered.
    webhook_token = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["end_date"]
        constraints = [
            models.UniqueConstraint(fields=["account", "provider_rent_id"], name="rental_unique_provider_id"),
        ]
        indexes = [
            models.Index(fields=["status", "end_date"], name="rental_status_end_idx"),
            models.Index(fields=["end_date"], name="rental_end_idx"),
            models.Index(fields=["-created_at"], name="rental_created_idx"),
        ]
        permissions = [
            ("rent_number", "Can rent numbers from the provider (spends money)"),
            ("extend_rental", "Can extend rentals (spends money)"),
            ("end_rental", "Can finish or cancel rentals"),
        ]

    def __str__(self) -> str:
        return f"+{self.number}"


class AttemptState(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Unknown (may have been charged)"


class RentAttempt(models.Model):
    """One press of "Rent number" (or one CLI call), committed before the provider is called."""

    nonce = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(ProviderAccount, on_delete=models.PROTECT, related_name="rent_attempts")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    country = models.ForeignKey(Country, on_delete=models.PROTECT, related_name="+")
    operator = models.CharField(max_length=32, default=ANY_OPERATOR)
    hours = models.PositiveSmallIntegerField()
    webhook_token = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    via = models.CharField(max_length=16, help_text="Where the request came from: admin or cli.")
    state = models.CharField(max_length=16, choices=AttemptState.choices, default=AttemptState.PENDING)
    error_token = models.CharField(max_length=64, blank=True)
    error_detail = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="Empty when nothing was sent.")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    rental = models.OneToOneField(Rental, on_delete=models.SET_NULL, null=True, blank=True, related_name="attempt")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "-created_at"], name="attempt_state_idx"),
            models.Index(fields=["error_token", "-created_at"], name="attempt_token_idx"),
            models.Index(fields=["-created_at"], name="attempt_created_idx"),
        ]

    def __str__(self) -> str:
        return f"Rent attempt {self.pk} ({self.get_state_display()})"


class RentalReminder(models.Model):
    """One expiry reminder for one rental and threshold: the unique row is the claim.

    A worker inserts the row before sending; a second beat, worker or redelivered task finds it
    there and sends nothing. A claim whose sender died unsent is taken over after a lease.
    """

    rental = models.ForeignKey(Rental, on_delete=models.CASCADE, related_name="reminders")
    threshold_hours = models.PositiveSmallIntegerField()
    claimed_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    recipients = models.TextField(blank=True)

    class Meta:
        ordering = ["-claimed_at"]
        constraints = [
            models.UniqueConstraint(fields=["rental", "threshold_hours"], name="reminder_once_per_threshold"),
        ]

    def __str__(self) -> str:
        return f"{self.threshold_hours} h reminder for {self.rental}"


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


class ErrorEvent(models.Model):
    """A provider error met by an attempt or a task, where ops look for what went wrong."""

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="error_events")
    operation = models.CharField(max_length=64, help_text="The provider action, e.g. getRentNumber.")
    token = models.CharField(max_length=64)
    detail = models.TextField(blank=True)
    sent = models.BooleanField(default=True, help_text="False when Rentdesk refused before calling the provider.")
    attempt = models.ForeignKey(RentAttempt, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["-created_at"], name="error_created_idx"),
            models.Index(fields=["token", "-created_at"], name="error_token_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.token} on {self.operation}"


class SmsSource(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    POLL = "poll", "Polling"


class SmsMessage(models.Model):
    """One real SMS, however many times and ways it reached Rentdesk (the dedupe key is unique)."""

    rental = models.ForeignKey(Rental, on_delete=models.CASCADE, related_name="messages")
    sender = models.CharField(max_length=64)
    text = models.TextField()
    code = models.CharField(max_length=16, blank=True, help_text="The code found in the text, if any.")
    received_at = models.DateTimeField()
    dedupe_key = models.CharField(max_length=64, editable=False)
    source = models.CharField(max_length=16, choices=SmsSource.choices, help_text="How it reached Rentdesk first.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = "SMS"
        verbose_name_plural = "SMS"
        constraints = [models.UniqueConstraint(fields=["rental", "dedupe_key"], name="sms_once_per_rental")]
        indexes = [models.Index(fields=["rental", "-received_at"], name="sms_rental_received_idx")]

    def __str__(self) -> str:
        return f"SMS from {self.sender} at {self.received_at:%Y-%m-%d %H:%M}"


class WebhookDelivery(models.Model):
    """A webhook body exactly as received, stored before SMS.online gets its 200."""

    rental = models.ForeignKey(Rental, on_delete=models.CASCADE, related_name="webhook_deliveries")
    body_hash = models.CharField(max_length=64, editable=False)
    body = models.TextField()
    content_type = models.CharField(max_length=100, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["rental", "body_hash"], name="delivery_once_per_body"),
        ]
        indexes = [models.Index(fields=["processed_at", "received_at"], name="delivery_pending_idx")]

    def __str__(self) -> str:
        return f"Webhook delivery {self.pk}"


class RentalExtension(models.Model):
    """One request to extend a rental (continueRentNumber): committed before it is sent, like a rent."""

    nonce = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    rental = models.ForeignKey(Rental, on_delete=models.PROTECT, related_name="extensions")
    hours = models.PositiveSmallIntegerField()
    price_quoted = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    state = models.CharField(max_length=16, choices=AttemptState.choices, default=AttemptState.PENDING)
    error_token = models.CharField(max_length=64, blank=True)
    error_detail = models.TextField(blank=True)
    old_rent_id = models.CharField(max_length=64)
    new_rent_id = models.CharField(max_length=64, blank=True)
    new_end_date = models.DateTimeField(null=True, blank=True)
    cost = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Extension of {self.rental} by {self.hours} h ({self.get_state_display()})"
