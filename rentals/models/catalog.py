"""The catalog: services, countries, operators, and the provider's offers for them."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Service(models.Model):
    code = models.CharField(
        _("code"), max_length=32, unique=True, help_text=_("The provider's code, e.g. tg, wa, full.")
    )
    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("is active"), default=True, help_text=_("Offered in the rent form."))

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.code})"

    @property
    def display_name(self) -> str:
        """The name in the reader's language where it is one of the seeded ones (rentals/catalog_names.py)."""
        return gettext(self.name)


class Country(models.Model):
    provider_id = models.PositiveIntegerField(
        _("provider id"), unique=True, help_text=_("The provider's numeric country id.")
    )
    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("is active"), default=True, help_text=_("Offered in the rent form."))

    class Meta:
        verbose_name = _("country")
        verbose_name_plural = _("countries")
        ordering = ["name"]

    def __str__(self) -> str:
        # The name alone: "Ukraine (1)" read as a count of one. Forms add the provider's id where it helps.
        return self.display_name

    @property
    def display_name(self) -> str:
        """The name in the reader's language where it is one of the seeded ones (rentals/catalog_names.py)."""
        return gettext(self.name)


class Operator(models.Model):
    country = models.ForeignKey(Country, verbose_name=_("country"), on_delete=models.CASCADE, related_name="operators")
    code = models.CharField(_("code"), max_length=32, help_text=_("The provider's operator code, e.g. kyivstar."))
    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("is active"), default=True, help_text=_("Offered in the rent form."))

    class Meta:
        verbose_name = _("operator")
        verbose_name_plural = _("operators")
        ordering = ["country__name", "name"]
        constraints = [models.UniqueConstraint(fields=["country", "code"], name="operator_unique_per_country")]

    def __str__(self) -> str:
        return f"{gettext(self.name)} ({self.country.display_name})"


class Offer(models.Model):
    """What SMS.online asks for a service in a country for a rent time, and how many numbers it has."""

    service = models.ForeignKey(Service, verbose_name=_("service"), on_delete=models.CASCADE, related_name="offers")
    country = models.ForeignKey(Country, verbose_name=_("country"), on_delete=models.CASCADE, related_name="offers")
    hours = models.PositiveSmallIntegerField(_("hours"))
    cost = models.DecimalField(_("cost"), max_digits=14, decimal_places=4, null=True, blank=True)
    available = models.PositiveIntegerField(_("available"), null=True, blank=True)
    checked_at = models.DateTimeField(_("checked at"))

    class Meta:
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        ordering = ["country__name", "service__name", "hours"]
        constraints = [
            models.UniqueConstraint(fields=["service", "country", "hours"], name="offer_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.service} in {self.country}, {self.hours} h"
