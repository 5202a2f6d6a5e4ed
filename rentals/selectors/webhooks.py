"""What the SMS webhook reads: the rental a delivery's token belongs to."""

from __future__ import annotations

from ..models import Rental


def rental_for_webhook(*, token: str) -> tuple[int, str] | None:
    """The rental a webhook token was registered for: its id and current provider rent id."""
    return Rental.objects.filter(webhook_token=token).order_by().values_list("pk", "provider_rent_id").first()
