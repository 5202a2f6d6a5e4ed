"""Rentals, the attempts and extensions that made them, their SMS and their reminders."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Case, F, OuterRef, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from ..chat_urls import validate_chat_urls
from ..phone_numbers import spaced_number
from .accounts import ProviderAccount
from .catalog import Country, Service
from .search import SearchKeysQuerySet, search_keys_refreshed, with_search_keys

RENT_HOURS = (4, 8, 12, 24, 72, 168, 360, 720, 2160)
RENT_HOURS_NAMES = {
    4: _("4 hours"),
    8: _("8 hours"),
    12: _("12 hours"),
    24: _("1 day"),
    72: _("3 days"),
    168: _("1 week"),
    360: _("15 days"),
    720: _("30 days"),
    2160: _("90 days"),
}
ANY_OPERATOR = "any"


class RequestVia(models.TextChoices):
    """Where a rent request came from: stored as the code, shown in words."""

    ADMIN = "admin", _("the admin")
    CLI = "cli", _("the command line")
    API = "api", _("the API")
    TELEGRAM = "telegram", _("the Telegram bot")


def _rent_time_label(hours: int) -> str:
    return gettext("%(label)s (%(hours)s h)") % {"label": RENT_HOURS_NAMES[hours], "hours": hours}


# "1 day (24 h)", in the reader's language wherever a rent time is offered or shown: the rent form,
# Extend, auto-renew. Lazy, so each page is in its own reader's language.
RENT_HOUR_CHOICES = [(hours, lazy(_rent_time_label, str)(hours)) for hours in RENT_HOURS]


def auto_renew_window_problem(hours: int, before_hours: int) -> str | None:
    """Why these auto-renew settings cannot stand, or None. A renewal must carry the rental's end out
    of the time before the end it renews in: if it does not, the rental is still due after renewing,
    and each renewal sets off the next at once."""
    if before_hours > hours:
        return gettext(
            "Renew at most %(hours)s hours before the end, as long as one renewal adds: renewing earlier"
            " would leave the rental due again, and it would renew again at once."
        ) % {"hours": hours}
    return None


# Readings that change on every poll, and secrets: none belongs in the history people browse.
UNTRACKED_RENTAL_FIELDS = [
    "last_polled_at", "last_sms_at", "last_sms_text", "last_sms_code", "webhook_token", "sms_chat_urls",
    "number_reversed", "search_words",
]  # fmt: skip


UNSEARCHED_HISTORY_COLUMNS = ["number", "account", "service", "country", "rented_by", "assignee", "auto_renew_by"]


class RentalStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    FINISHED = "finished", _("Finished")
    CANCELLED = "cancelled", _("Cancelled")
    REVOKED = "revoked", _("Revoked by provider")
    EXPIRED = "expired", _("Expired")


# A cancel or a revoke refunds everything paid for the rent, its extensions included.
REFUNDED_STATUSES = (RentalStatus.CANCELLED, RentalStatus.REVOKED)


class RentalQuerySet(SearchKeysQuerySet):
    def with_paid(self) -> RentalQuerySet:
        """Annotate ``paid``: the rent plus its paid extensions, nothing once refunded, unknown when the
        rent's own price is (one correlated subquery per row shown: a page costs the same at any size)."""
        extensions = (
            RentalExtension.objects.filter(rental=OuterRef("pk"), state=AttemptState.SUCCEEDED, cost__isnull=False)
            .order_by()
            .values("rental")
            .annotate(total=Sum("cost"))
            .values("total")
        )
        money = models.DecimalField(max_digits=14, decimal_places=4)
        return self.annotate(
            paid=Case(
                When(status__in=REFUNDED_STATUSES, then=Value(Decimal(0))),
                When(cost__isnull=True, then=Value(None)),
                default=F("cost") + Coalesce(Subquery(extensions, output_field=money), Value(Decimal(0))),
                output_field=money,
            )
        )


class Rental(models.Model):
    # No index of its own: the unique (account, provider_rent_id) constraint's index starts with it.
    account = models.ForeignKey(
        ProviderAccount, verbose_name=_("account"), on_delete=models.PROTECT, related_name="rentals", db_index=False
    )
    provider_rent_id = models.CharField(_("provider rent id"), max_length=64)
    number = models.CharField(
        _("number"), max_length=20, db_index=True, help_text=_("Digits only, as the provider sends it.")
    )
    # Empty only for rentals adopted from the provider's list, which does not say them.
    service = models.ForeignKey(
        Service, verbose_name=_("service"), on_delete=models.PROTECT, related_name="rentals", null=True, blank=True
    )
    country = models.ForeignKey(
        Country, verbose_name=_("country"), on_delete=models.PROTECT, related_name="rentals", null=True, blank=True
    )
    operator = models.CharField(_("operator"), max_length=32, default=ANY_OPERATOR)
    hours = models.PositiveSmallIntegerField(_("hours"))
    end_date = models.DateTimeField(_("end date"))
    status = models.CharField(_("status"), max_length=16, choices=RentalStatus.choices, default=RentalStatus.ACTIVE)
    cost = models.DecimalField(_("cost"), max_digits=14, decimal_places=4, null=True, blank=True)
    rented_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("rented by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    label = models.CharField(
        _("used for"),
        max_length=200,
        blank=True,
        help_text=_("Which external account or purpose relies on this number."),
    )
    # Only active staff take care of numbers (and receive their SMS): the admin offers no one else, and a
    # person who leaves the team is released from theirs (services/people.py).
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_rentals",
        limit_choices_to={"is_active": True, "is_staff": True},
    )
    notes = models.TextField(_("notes"), blank=True)
    # People who asked for this rental's codes in their Telegram besides its assignee and renter (the
    # inventory's Follow action): someone covering a colleague's numbers for a shift.
    followers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("followed by"),
        related_name="followed_rentals",
        blank=True,
        help_text=_("Their Telegram gets this rental's SMS too, as the assignee's does."),
    )
    reminders_enabled = models.BooleanField(
        _("send expiry reminders"),
        default=True,
        help_text=_("Off: no reminder emails or chat messages for this number."),
    )
    auto_renew = models.BooleanField(
        _("auto renew"),
        default=False,
        help_text=_("Extend automatically before the end, after checking the balance and the price."),
    )
    auto_renew_hours = models.PositiveSmallIntegerField(_("renew for (hours)"), default=24, choices=RENT_HOUR_CHOICES)
    auto_renew_before_hours = models.PositiveSmallIntegerField(
        _("renew this many hours before the end"), default=24, validators=[MaxValueValidator(max(RENT_HOURS))]
    )
    auto_renew_max_price = models.DecimalField(
        _("renew only up to this price (USD)"),
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
    )
    # Renewals spend on this person's behalf: their personal budget applies, and their spend counts them.
    auto_renew_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("auto-renew set by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        help_text=_("Who last turned auto-renew on or changed it: renewals count against their personal budget."),
    )
    # May hold a chat service's secret (a bot token): kept out of the history, shown to SMS readers only.
    sms_chat_urls = models.TextField(
        _("forward SMS to"),
        blank=True,
        validators=[validate_chat_urls],
        help_text=_(
            "Apprise URLs, one per line (e.g. tgram://bot-token/chat-id). Empty: to the assignee's chosen chat, "
            "else the team's (RENTDESK_SMS_CHAT_URLS). 'none': this number's SMS are not forwarded."
        ),
    )
    expired_at = models.DateTimeField(_("expired at"), null=True, blank=True, editable=False)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True, editable=False)
    # True when SMS.online ended it (finished, cancelled or revoked on its side), not staff from Rentdesk.
    ended_by_provider = models.BooleanField(_("ended by SMS.online"), default=False, editable=False)
    last_polled_at = models.DateTimeField(_("last polled at"), null=True, blank=True, editable=False)
    # The newest SMS, kept here so the inventory lists it without a query per row.
    last_sms_at = models.DateTimeField(_("last SMS at"), null=True, blank=True, editable=False)
    last_sms_text = models.TextField(_("last SMS"), blank=True, editable=False)
    last_sms_code = models.CharField(_("code"), max_length=16, blank=True, editable=False)
    # Set when SMS.online answered that it does not know the rent (INVALID_PHONE): its SMS cannot be
    # read any more. Cleared if the provider knows it again.
    provider_lost_at = models.DateTimeField(_("lost by SMS.online at"), null=True, blank=True, editable=False)
    attention = models.CharField(
        _("attention"),
        max_length=300,
        blank=True,
        help_text=_("Something staff should look at (set by reconciliation)."),
    )
    # Who did what to the rental (rent, claim, release, extend, finish, cancel, edits).
    # The history is read by rental (its id), by date and by person; the copies of the other indexed
    # columns are never searched, and every rent and change would write their index entries.
    history = HistoricalRecords(excluded_fields=UNTRACKED_RENTAL_FIELDS, no_db_index=UNSEARCHED_HISTORY_COLUMNS)
    # The secret part of the webhook URL registered with the provider; None when none was registered.
    webhook_token = models.CharField(
        _("webhook token"), max_length=64, unique=True, null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # What the search reads (models/search.py): kept by save() and the bulk paths, never edited.
    number_reversed = models.CharField(max_length=20, blank=True, default="", editable=False)
    search_words = models.TextField(blank=True, default="", editable=False)

    objects = RentalQuerySet.as_manager()

    class Meta:
        verbose_name = _("rental")
        verbose_name_plural = _("rentals")
        ordering = ["end_date"]
        constraints = [
            models.UniqueConstraint(fields=["account", "provider_rent_id"], name="rental_unique_provider_id"),
        ]
        indexes = [
            models.Index(fields=["status", "end_date"], name="rental_status_end_idx"),
            models.Index(fields=["end_date"], name="rental_end_idx"),
            models.Index(fields=["-created_at"], name="rental_created_idx"),
            # A number's tail ("900123") is a prefix of the reversed number; a rent id is looked up whole.
            models.Index(fields=["number_reversed"], name="rental_number_reversed_idx"),
            models.Index(fields=["provider_rent_id"], name="rental_rent_id_idx"),
            # The dashboard's "ended early by SMS.online" of the last day: a few rows of a large table.
            models.Index(
                fields=["-ended_at"], name="rental_ended_early_idx", condition=models.Q(ended_by_provider=True)
            ),
        ]
        permissions = [
            ("rent_number", "Can rent numbers from the provider (spends money)"),
            ("extend_rental", "Can extend rentals (spends money)"),
            ("end_rental", "Can finish or cancel rentals"),
            ("poll_rental", "Can ask SMS.online for a rental's SMS now"),
        ]

    def __str__(self) -> str:
        return spaced_number(self.number)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.derived_fields_filled()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = with_search_keys(kwargs["update_fields"])
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        problem = auto_renew_window_problem(self.auto_renew_hours, self.auto_renew_before_hours)
        if self.auto_renew and problem:
            raise ValidationError({"auto_renew_before_hours": problem})

    def derived_fields_filled(self) -> None:
        """What is worked out from other fields at each save: the search keys. The rent path's INSERT
        built by hand (rentals/raw_sql.py) calls it too."""
        search_keys_refreshed(self)


class AttemptState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    UNKNOWN = "unknown", _("Unknown (may have been charged)")


class RentAttempt(models.Model):
    """One press of "Rent number" (or one CLI call), committed before the provider is called."""

    nonce = models.UUIDField(_("nonce"), unique=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(
        ProviderAccount, verbose_name=_("account"), on_delete=models.PROTECT, related_name="rent_attempts"
    )
    service = models.ForeignKey(Service, verbose_name=_("service"), on_delete=models.PROTECT, related_name="+")
    country = models.ForeignKey(Country, verbose_name=_("country"), on_delete=models.PROTECT, related_name="+")
    operator = models.CharField(_("operator"), max_length=32, default=ANY_OPERATOR)
    hours = models.PositiveSmallIntegerField(_("hours"))
    webhook_token = models.CharField(
        _("webhook token"), max_length=64, unique=True, null=True, blank=True, editable=False
    )
    label = models.CharField(_("used for"), max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Who takes care of the number it rents: kept here so that a rent reconciliation settles later
    # is assigned as the one answered at once.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        limit_choices_to={"is_active": True, "is_staff": True},
    )
    via = models.CharField(
        _("via"), max_length=16, choices=RequestVia.choices, help_text=_("Where the request came from.")
    )
    state = models.CharField(_("state"), max_length=16, choices=AttemptState.choices, default=AttemptState.PENDING)
    error_token = models.CharField(_("error token"), max_length=64, blank=True)
    error_detail = models.TextField(_("error detail"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True, help_text=_("Empty when nothing was sent."))
    duration_ms = models.PositiveIntegerField(_("duration ms"), null=True, blank=True)
    rental = models.OneToOneField(
        Rental, verbose_name=_("rental"), on_delete=models.SET_NULL, null=True, blank=True, related_name="attempt"
    )
    # The end date this rent was made with (SMS.online's answer, or reconciliation's estimate): the
    # rental's own end date moves on with each extension, and the attempt must still say what it rented.
    end_date = models.DateTimeField(_("end date"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("rent attempt")
        verbose_name_plural = _("rent attempts")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "-created_at"], name="attempt_state_idx"),
            models.Index(fields=["error_token", "-created_at"], name="attempt_token_idx"),
            models.Index(fields=["-created_at"], name="attempt_created_idx"),
        ]

    def __str__(self) -> str:
        return gettext("Rent attempt %(id)s (%(state)s)") % {"id": self.pk, "state": self.get_state_display()}


class RentalReminder(models.Model):
    """One expiry reminder for one rental and threshold: the unique row is the claim.

    A worker inserts the row before sending; a second beat, worker or redelivered task finds it
    there and sends nothing. A claim whose sender died unsent is taken over after a lease.
    """

    rental = models.ForeignKey(Rental, verbose_name=_("rental"), on_delete=models.CASCADE, related_name="reminders")
    threshold_hours = models.PositiveSmallIntegerField(_("threshold hours"))
    claimed_at = models.DateTimeField(_("claimed at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    recipients = models.TextField(_("recipients"), blank=True)

    class Meta:
        verbose_name = _("expiry reminder")
        verbose_name_plural = _("expiry reminders")
        ordering = ["-claimed_at"]
        constraints = [
            models.UniqueConstraint(fields=["rental", "threshold_hours"], name="reminder_once_per_threshold"),
        ]

    def __str__(self) -> str:
        return f"{self.threshold_hours} h reminder for {self.rental}"


class SmsSource(models.TextChoices):
    WEBHOOK = "webhook", _("Webhook")
    POLL = "poll", _("Polling")


class SmsMessage(models.Model):
    """One real SMS, however many times and ways it reached Rentdesk (the dedupe key is unique)."""

    rental = models.ForeignKey(Rental, verbose_name=_("rental"), on_delete=models.CASCADE, related_name="messages")
    sender = models.CharField(_("sender"), max_length=64)
    text = models.TextField(_("text"))
    code = models.CharField(_("code"), max_length=16, blank=True, help_text=_("The code found in the text, if any."))
    received_at = models.DateTimeField(_("received at"))
    # A provider's clock (or a forged webhook) can date an SMS years ahead: such an SMS is ordered by
    # when it reached Rentdesk, and the date it was given is kept here.
    provider_date = models.DateTimeField(
        _("provider's date"), null=True, blank=True,
        help_text=_("The date SMS.online gave this SMS, when it lay in the future: it is ordered by when it arrived."),
    )  # fmt: skip
    dedupe_key = models.CharField(_("dedupe key"), max_length=64, editable=False)
    source = models.CharField(
        _("source"), max_length=16, choices=SmsSource.choices, help_text=_("How it reached Rentdesk first.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Set when RENTDESK_KEEP_SMS_TEXT_DAYS passed: the text was replaced by a note and the code blanked.
    text_removed_at = models.DateTimeField(_("text removed at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("SMS")
        verbose_name_plural = _("SMS")
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["rental", "dedupe_key"], name="sms_once_per_rental")]
        indexes = [
            models.Index(fields=["rental", "-received_at"], name="sms_rental_received_idx"),
            # The purge's age condition; an SMS whose text is removed leaves it.
            models.Index(
                fields=["received_at"], condition=models.Q(text_removed_at__isnull=True), name="sms_text_kept_idx"
            ),
        ]

    def __str__(self) -> str:
        return gettext("SMS from %(sender)s, %(time)s") % {
            "sender": self.sender,
            "time": f"{timezone.localtime(self.received_at):%Y-%m-%d %H:%M:%S}",
        }


class WebhookDelivery(models.Model):
    """A webhook body exactly as received, stored before SMS.online gets its 200."""

    rental = models.ForeignKey(
        Rental, verbose_name=_("rental"), on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    body_hash = models.CharField(_("body hash"), max_length=64, editable=False)
    # The bytes as they arrived, whatever they are (a NUL fits here, not in a PostgreSQL text column).
    body = models.BinaryField(_("body"))
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    # When the database took it: later than received_at for one kept in Redis while the database was
    # away. Empty on deliveries stored before this was recorded.
    stored_at = models.DateTimeField(_("stored at"), null=True, blank=True, editable=False)
    # When its processing task was last queued: a delivery is queued again only long after.
    enqueued_at = models.DateTimeField(_("enqueued at"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["rental", "body_hash"], name="delivery_once_per_body"),
        ]
        indexes = [models.Index(fields=["processed_at", "received_at"], name="delivery_pending_idx")]

    def __str__(self) -> str:
        return f"Webhook delivery {self.pk}"


class RentalExtension(models.Model):
    """One request to extend a rental (continueRentNumber): committed before it is sent, like a rent."""

    nonce = models.UUIDField(_("nonce"), unique=True, default=uuid.uuid4, editable=False)
    rental = models.ForeignKey(Rental, verbose_name=_("rental"), on_delete=models.PROTECT, related_name="extensions")
    hours = models.PositiveSmallIntegerField(_("hours"))
    price_quoted = models.DecimalField(_("price quoted"), max_digits=14, decimal_places=4, null=True, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=AttemptState.choices, default=AttemptState.PENDING)
    error_token = models.CharField(_("error token"), max_length=64, blank=True)
    error_detail = models.TextField(_("error detail"), blank=True)
    old_rent_id = models.CharField(_("old rent id"), max_length=64)
    new_rent_id = models.CharField(_("new rent id"), max_length=64, blank=True)
    new_end_date = models.DateTimeField(_("new end date"), null=True, blank=True)
    cost = models.DecimalField(_("cost"), max_digits=14, decimal_places=4, null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    automatic = models.BooleanField(
        _("auto-renew"), default=False, help_text=_("Asked for by auto-renew, on behalf of the person who set it.")
    )
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("extension")
        verbose_name_plural = _("extensions")
        ordering = ["-created_at"]
        # The costs page sums the extensions of the months it does not keep sums of (models/spend.py).
        indexes = [models.Index(fields=["created_at"], name="extension_created_idx")]
        constraints = [
            # One extension at a time may be in flight or unresolved: a second would risk paying twice.
            models.UniqueConstraint(
                fields=["rental"],
                condition=models.Q(state__in=["pending", "unknown"]),
                name="extension_one_open_per_rental",
            ),
        ]

    def __str__(self) -> str:
        return gettext("Extension of %(rental)s by %(hours)s h (%(state)s)") % {
            "rental": self.rental,
            "hours": self.hours,
            "state": self.get_state_display(),
        }
