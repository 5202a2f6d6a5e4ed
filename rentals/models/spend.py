"""What closed months cost, kept so the costs page and /metrics do not sum years of rentals each time.

A month here is a calendar month in the team's timezone (TIME_ZONE), kept as the instants it starts
and ends, so a reader in another timezone can still be answered exactly (selectors/spend.py). Its sums
are per account, service, country and person: every grouping the costs page offers, renames included
(names are read when shown). A change to what a closed month cost (a revoke, a cancel, an extension
settled late) marks its month stale, in the transaction of the change; the summary task sums it again.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .accounts import ProviderAccount
from .catalog import Country, Service


class SpendMonth(models.Model):
    starts_at = models.DateTimeField(_("starts at"), unique=True)
    ends_at = models.DateTimeField(_("ends at"))
    # True until its sums are (again) what the rentals and extensions of the month say.
    stale = models.BooleanField(_("stale"), default=True)
    summed_at = models.DateTimeField(_("summed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("month of spend")
        verbose_name_plural = _("months of spend")

    def __str__(self) -> str:
        return f"{self.starts_at:%Y-%m-%d %H:%M} to {self.ends_at:%Y-%m-%d %H:%M}"


class SpendSum(models.Model):
    """Rents and extensions paid in one month, refunds deducted, for one account, service, country and
    person (the renter of a rent, the requester of an extension)."""

    month = models.ForeignKey(SpendMonth, on_delete=models.CASCADE, related_name="sums")
    # Accounts, services and countries with rentals cannot be deleted (PROTECT): these never go.
    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="+")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, null=True, related_name="+")
    country = models.ForeignKey(Country, on_delete=models.CASCADE, null=True, related_name="+")
    # A person who is deleted leaves their rentals without a renter: their sums too, as "(unknown)".
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    amount = models.DecimalField(_("amount"), max_digits=18, decimal_places=4)
    # How many rents and extensions: a group whose rows all move to a reader's other month goes away.
    count = models.PositiveIntegerField(_("count"))

    class Meta:
        verbose_name = _("spend sum")
        verbose_name_plural = _("spend sums")

    def __str__(self) -> str:
        return f"{self.month}: {self.amount} ({self.count})"
