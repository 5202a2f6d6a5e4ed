"""Rent a number from the command line: the same form, service and safety as the admin button."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from rentals import services
from rentals.forms import RentForm
from rentals.models import ANY_OPERATOR
from rentals.outcomes import Token
from rentals.permissions import Permission
from rentals.rental_json import JSON_ENCODER, rental_data
from rentals.wording.pages import describe
from rentals.wording.tokens import what_happened

EXIT_PROVIDER_ERROR = 1
EXIT_BAD_ARGUMENTS = 2


class Command(BaseCommand):
    help = (
        "Rent a number with an account (spends money). Exit status: 0 rented, 1 provider or account "
        "error, 2 bad arguments. --json prints one JSON object (the rental as the API shows it)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="Account name, as in the admin.")
        parser.add_argument("--service", required=True, help="Service code, e.g. tg.")
        parser.add_argument("--country", required=True, help="The provider's country id, e.g. 1.")
        parser.add_argument("--operator", default=ANY_OPERATOR, help="Operator code (default: any).")
        parser.add_argument("--hours", default="24", help="Rent time: 4, 8, 12, 24, 72, 168, 360, 720 or 2160.")
        parser.add_argument("--label", default="", help="What the number is used for (shown in the inventory).")
        parser.add_argument("--no-webhook", action="store_true", help="Do not register a webhook URL.")
        parser.add_argument(
            "--as", dest="as_person", metavar="USERNAME",
            help="Required: the person renting (active staff allowed to rent), recorded as its renter and in "
            "its history, and whose personal budget applies.",
        )  # fmt: skip
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.as_json = options["json"]
        form = RentForm(
            {name: options[name] for name in ("account", "service", "country", "operator", "hours", "label")}
            | {"webhook": not options["no_webhook"]},
            by_name=True,
        )
        person = self._person(options["as_person"])
        if not form.is_valid():
            problems = "; ".join(f"--{field}: {' '.join(errors)}" for field, errors in form.errors.items())
            self._fail(EXIT_BAD_ARGUMENTS, Token.BAD_ARGUMENTS, problems)
        outcome = services.rental_rent(**form.rent_arguments(), nonce=uuid.uuid4(), requested_by=person, via="cli")
        if outcome.ok:
            # The rental as the API shows it to this person, read back as the API reads it: one shape for scripts.
            outcome.rental.refresh_from_db()
            rental = rental_data(outcome.rental, reads_sms=person.has_perm(Permission.READ_SMS))
            self._print({"ok": True, "rental": rental}, describe(outcome))
            return
        # "unknown" means the provider may have charged: a script must not simply try again.
        extra = {"state": outcome.state, "attempt": outcome.attempt.pk}
        if outcome.facts:
            extra["facts"] = dict(outcome.facts)
        self._fail(EXIT_PROVIDER_ERROR, outcome.token, describe(outcome), **extra)

    def _person(self, username: str | None) -> AbstractBaseUser:
        """The person the rent is made for: every rent records who asked, and nobody is signed in here."""
        if not username:
            self._fail(EXIT_BAD_ARGUMENTS, Token.BAD_ARGUMENTS, _("--as: name the person renting (a username)."))
        try:
            return services.person_allowed(username=username, permission=Permission.RENT)
        except services.PersonRefused as refused:
            self._fail(EXIT_BAD_ARGUMENTS, Token.BAD_ARGUMENTS, f"--as: {refused}")

    def _print(self, payload: dict[str, Any], text: str) -> None:
        self.stdout.write(json.dumps(payload, cls=JSON_ENCODER) if self.as_json else text)

    def _fail(self, exit_status: int, token: str, message: str, **extra: Any) -> None:
        if self.as_json:
            self.stdout.write(json.dumps({"ok": False, "error": token, "message": message, **extra}, cls=JSON_ENCODER))
        raise CommandError(str(what_happened(token, sentence=message)), returncode=exit_status)
