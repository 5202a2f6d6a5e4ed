"""Rent a number from the command line: the same service, and the same safety, as the admin button."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from rentals import services
from rentals.models import ANY_OPERATOR, RENT_HOURS, Country, Operator, ProviderAccount, Service

EXIT_PROVIDER_ERROR = 1
EXIT_BAD_ARGUMENTS = 2


class Command(BaseCommand):
    help = (
        "Rent a number with an account (spends money). Exit status: 0 rented, 1 provider or account "
        "error, 2 bad arguments. --json prints one JSON object."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="Account name, as in the admin.")
        parser.add_argument("--service", required=True, help="Service code, e.g. tg.")
        parser.add_argument("--country", required=True, type=int, help="The provider's country id, e.g. 1.")
        parser.add_argument("--operator", default=ANY_OPERATOR, help="Operator code (default: any).")
        parser.add_argument("--hours", type=int, default=24, choices=RENT_HOURS, help="Rent time (default 24).")
        parser.add_argument("--label", default="", help="What the number is used for (shown in the inventory).")
        parser.add_argument("--no-webhook", action="store_true", help="Do not register a webhook URL.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.as_json = options["json"]
        arguments = self._resolve(options)
        outcome = services.rental_rent(**arguments, nonce=uuid.uuid4(), requested_by=None, via="cli")
        if outcome.ok:
            rental = outcome.rental
            self._print(
                {
                    "ok": True,
                    "rental": {
                        "id": rental.pk,
                        "provider_id": rental.provider_rent_id,
                        "number": rental.number,
                        "end_date": rental.end_date.isoformat(),
                        "account": rental.account.name,
                    },
                },
                outcome.message,
            )
            return
        # "unknown" means the provider may have charged: a script must not simply try again.
        extra = {"state": outcome.attempt.state, "attempt": outcome.attempt.pk}
        self._fail(EXIT_PROVIDER_ERROR, outcome.token, outcome.message, **extra)

    def _resolve(self, options: dict[str, Any]) -> dict[str, Any]:
        account, service, country = options["account"], options["service"], options["country"]
        lookups = {
            "account": (ProviderAccount.objects.filter(name=account), f"no account named {account!r}"),
            "service": (
                Service.objects.filter(code=service, is_active=True),
                f"no active service with code {service!r} in the catalog",
            ),
            "country": (
                Country.objects.filter(provider_id=country, is_active=True),
                f"no active country with id {country} in the catalog",
            ),
        }
        resolved = {}
        for name, (queryset, problem) in lookups.items():
            resolved[name] = queryset.first()
            if resolved[name] is None:
                self._fail(EXIT_BAD_ARGUMENTS, "BAD_ARGUMENTS", problem)
        operator = options["operator"].strip().lower() or ANY_OPERATOR
        if (
            operator != ANY_OPERATOR
            and not Operator.objects.filter(country=resolved["country"], code=operator, is_active=True).exists()
        ):
            self._fail(EXIT_BAD_ARGUMENTS, "BAD_ARGUMENTS", f"no operator {operator!r} for {resolved['country'].name}")
        label = options["label"].strip()
        if len(label) > 200:
            self._fail(EXIT_BAD_ARGUMENTS, "BAD_ARGUMENTS", "--label is at most 200 characters")
        return {
            **resolved, "operator": operator, "hours": options["hours"], "webhook": not options["no_webhook"],
            "label": label,
        }  # fmt: skip

    def _print(self, payload: dict[str, Any], text: str) -> None:
        self.stdout.write(json.dumps(payload) if self.as_json else text)

    def _fail(self, exit_status: int, token: str, message: str, **extra: Any) -> None:
        if self.as_json:
            self.stdout.write(json.dumps({"ok": False, "error": token, "message": message, **extra}))
        raise CommandError(f"{token}: {message}", returncode=exit_status)
