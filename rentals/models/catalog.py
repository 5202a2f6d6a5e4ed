"""The catalog: services, countries, operators, and the provider's offers for them."""

from __future__ import annotations

from django.db import models


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
