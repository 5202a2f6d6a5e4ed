"""What each person chose last on the rent form, offered again on any device and after signing out."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .accounts import ProviderAccount
from .catalog import Country, Operator, Service


class LastRentChoice(models.Model):
    """One per person, overwritten by each rent they send from the form. A choice deleted from the
    catalog since is simply not offered (SET_NULL): the form falls back to its default there."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("person"), on_delete=models.CASCADE, related_name="last_rent_choice"
    )
    account = models.ForeignKey(
        ProviderAccount, verbose_name=_("account"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    service = models.ForeignKey(
        Service, verbose_name=_("service"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    country = models.ForeignKey(
        Country, verbose_name=_("country"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # None: "any operator".
    operator = models.ForeignKey(
        Operator, verbose_name=_("operator"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    hours = models.PositiveIntegerField(_("rent time (hours)"), null=True)
    chosen_at = models.DateTimeField(_("chosen at"), auto_now=True)

    class Meta:
        verbose_name = _("last rent choice")
        verbose_name_plural = _("last rent choices")

    def __str__(self) -> str:
        return str(self.user)
