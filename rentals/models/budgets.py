"""Monthly budgets per person (an account's is a field on the account) and the alerts they raised."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class PersonBudget(models.Model):
    """At most this much per calendar month for what one person rents and extends, on any account."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("person"), on_delete=models.CASCADE, related_name="budget"
    )
    monthly_budget = models.DecimalField(
        _("monthly budget"),
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(0)],
        help_text=_("USD per calendar month; a rent or extension by this person that would pass it is refused."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("personal budget")
        verbose_name_plural = _("personal budgets")
        ordering = ["user__username"]

    def __str__(self) -> str:
        return f"{self.user}: {self.monthly_budget} USD a month"


class BudgetAlert(models.Model):
    """One alert for one budget, month and threshold: the unique row is the claim, so it goes out once."""

    # "account:<id>" or "person:<id>": one column, so the unique constraint also holds without NULLs.
    scope = models.CharField(_("budget"), max_length=32)
    month = models.DateField(_("month"))
    percent = models.PositiveSmallIntegerField(_("percent"))
    claimed_at = models.DateTimeField(_("claimed at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("budget alert")
        verbose_name_plural = _("budget alerts")
        ordering = ["-claimed_at"]
        constraints = [
            models.UniqueConstraint(fields=["scope", "month", "percent"], name="budget_alert_once"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.month:%Y-%m} {self.percent}%"
