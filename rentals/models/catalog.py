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


class CatalogSync(models.Model):
    """How far the catalog sync has read (one row): the pass under way, the run that holds it, the last
    pass finished. A pass reads every active country at every rent time, in the order of the provider's
    country ids, over many short tasks (services/catalog.py)."""

    # The run (a chain of short tasks) that holds the sync while ``leased_until`` is in the future. Each
    # of its steps renews the lease; a run whose worker died loses it when it lapses, and the next sync
    # asked for takes over where that run stopped.
    run = models.UUIDField(_("run"), null=True, blank=True)
    leased_until = models.DateTimeField(_("leased until"), null=True, blank=True)
    pass_started_at = models.DateTimeField(_("pass started at"), null=True, blank=True)  # None between passes
    # The last country (its provider id) and rent time this pass has read: the next step goes on after them.
    reached_country = models.PositiveIntegerField(_("reached country"), null=True, blank=True)
    reached_hours = models.PositiveSmallIntegerField(_("reached hours"), null=True, blank=True)
    # The account that read last: the next step asks it first, not again one that gave way.
    reader = models.ForeignKey(
        "ProviderAccount", verbose_name=_("read by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    requests = models.PositiveIntegerField(_("requests"), default=0)
    offers_written = models.PositiveIntegerField(_("offers written"), default=0)  # added, or price or stock changed
    last_pass_started_at = models.DateTimeField(_("last pass started at"), null=True, blank=True)
    last_pass_finished_at = models.DateTimeField(_("last pass finished at"), null=True, blank=True)
    last_pass_requests = models.PositiveIntegerField(_("last pass requests"), default=0)
    last_pass_offers_written = models.PositiveIntegerField(_("last pass offers written"), default=0)

    class Meta:
        verbose_name = _("catalog sync")
        verbose_name_plural = _("catalog sync")

    def __str__(self) -> str:
        return gettext("catalog sync")
