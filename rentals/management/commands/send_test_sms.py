"""Send a test SMS to a rental through the simulator (demos and drills; never the real provider)."""

import secrets
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from rentals.models import Rental
from rentals.simulator.control import NotASimulator, send


class Command(BaseCommand):
    help = "Make the simulator deliver an SMS to a rental (by id or number), by webhook unless --no-webhook."

    def add_arguments(self, parser):
        parser.add_argument("rental", help="The rental's id in Rentdesk, or its number (with or without +).")
        parser.add_argument("--text", default=None, help="Default: a verification code, different each time.")
        parser.add_argument("--sender", default="Telegram")
        parser.add_argument("--no-webhook", action="store_true", help="Only polling will find it.")

    def handle(self, *args: Any, rental: str, text: str | None, sender: str, no_webhook: bool, **options: Any) -> None:
        # A new code each time, so two test SMS in a row are told apart on screen.
        text = text or f"Your verification code is {secrets.randbelow(900_000) + 100_000}"
        found = self._find(rental)
        if not (found.provider_rent_id.isascii() and found.provider_rent_id.isdigit()):
            raise CommandError("That rental's provider id is not a simulator rent id.", returncode=2)
        try:
            result = send(found.account.api_url, "sms", {
                "rent_id": int(found.provider_rent_id), "text": text, "sender": sender, "webhook": not no_webhook,
            })  # fmt: skip
        except NotASimulator as problem:
            raise CommandError(f"{problem}. Test SMS only go through the simulator.", returncode=1) from None
        delivery = result.get("webhook_status")
        how = f"webhook answered {delivery}" if delivery else "no webhook: polling will pick it up"
        self.stdout.write(f"SMS sent to +{found.number} ({how}).")

    def _find(self, reference: str) -> Rental:
        digits = "".join(ch for ch in reference if ch in "0123456789")
        rental = Rental.objects.filter(number=digits).order_by("-created_at").first() if digits else None
        if rental is None and reference.isascii() and reference.isdigit() and len(reference) <= 18:
            rental = Rental.objects.filter(pk=int(reference)).first()
        if rental is None:
            raise CommandError(f"No rental with id or number {reference!r}.", returncode=2)
        return rental
