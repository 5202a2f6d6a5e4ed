"""The rent form's last choice, kept per person so that it is offered again wherever they sign in."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from ..models import Country, LastRentChoice, Operator, ProviderAccount, Service


def rent_choice_remember(
    *, person: AbstractBaseUser, account: ProviderAccount, service: Service, country: Country,
    operator: Operator | None, hours: int,
) -> None:  # fmt: skip
    """What ``person`` chose on the rent form, to prefill it next time (``operator`` None: any)."""
    choice = {"account": account, "service": service, "country": country, "operator": operator, "hours": hours}
    LastRentChoice.objects.update_or_create(user=person, defaults=choice)
