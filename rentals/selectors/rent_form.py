"""What the rent form shows: the catalog's prices and stock, the person's last choice and their latest
attempts."""

from __future__ import annotations

from django.utils import timezone

from ..models import LastRentChoice, Offer, RentAttempt


def offers_for_rent_form() -> dict[str, dict[str, object]]:
    """Price and stock per "service:country:hours" (ids) for the active catalog, for the rent form."""
    offers = Offer.objects.filter(service__is_active=True, country__is_active=True).values(
        "service_id", "country_id", "hours", "cost", "available", "checked_at"
    )
    return {
        f"{o['service_id']}:{o['country_id']}:{o['hours']}": {
            "cost": f"{o['cost']:.2f}" if o["cost"] is not None else None,
            "available": o["available"],
            "checked": timezone.localtime(o["checked_at"]).strftime("%Y-%m-%d %H:%M %Z"),
        }
        for o in offers
    }


def last_rent_choice(*, user_id: int) -> dict[str, int]:
    """What a person chose last on the rent form (ids, and the hours), to prefill it; empty before their first."""
    fields = ("account", "service", "country", "operator", "hours")
    choice = LastRentChoice.objects.filter(user_id=user_id).values(*fields).first() or {}
    return {name: value for name, value in choice.items() if value is not None}


# The rent form lists the person's latest attempts: what came of the last few clicks.
RECENT_ATTEMPTS_SHOWN = 5


def rent_attempts_recent(*, user_id: int) -> list[RentAttempt]:
    """A person's latest rent attempts, the newest first, with what their rows show."""
    attempts = RentAttempt.objects.filter(requested_by_id=user_id).select_related("account", "service", "country")
    return list(attempts[:RECENT_ATTEMPTS_SHOWN])
