"""Add an SMS.online account. The key comes from SMSONLINE_API_KEY or a hidden prompt, never argv:
command lines end up in shell history and in every process listing."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from rentals import services
from rentals.models import ProviderAccount, api_key_problem
from rentals.wording.tokens import what_happened

KEY_VARIABLE = "SMSONLINE_API_KEY"


class Command(BaseCommand):
    help = (
        f"Add a provider account (or replace its key with --update-key, or set its monthly budget with --set-budget); "
        f"the key comes from {KEY_VARIABLE} or a prompt."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--api-url", default=None, help="handler_api.php URL (default: SMSONLINE_API_URL).")
        parser.add_argument(
            "--update-key",
            action="store_true",
            help="Replace the key of an existing account; with --api-url, move the account and its key there.",
        )
        parser.add_argument("--monthly-budget", metavar="USD", help="A new account's monthly budget.")
        parser.add_argument(
            "--set-budget", metavar="USD", help="Set an existing account's monthly budget ('none' removes it); no key."
        )

    def handle(self, *args: Any, name: str, api_url: str | None, update_key: bool, **options: Any) -> None:
        if options["set_budget"] is not None:
            self._set_budget(ProviderAccount.objects.filter(name=name).first(), name, options["set_budget"])
            return
        api_key = self._read_key()
        existing = ProviderAccount.objects.filter(name=name).first()
        if existing and not update_key:
            raise CommandError(f"An account named {name!r} exists; add --update-key to replace its key.", returncode=2)
        if existing and options["monthly_budget"] is not None:
            raise CommandError("--monthly-budget is for a new account; use --set-budget for this one.", returncode=2)
        if existing:
            try:
                # A new URL is only ever taken together with the key: the key is bound to where it goes.
                services.account_set_api_key(account=existing, api_key=api_key, api_url=api_url)
            except ValidationError as exc:
                raise CommandError(_problems(exc), returncode=2) from None
            account = existing
        else:
            account = self._create(name, api_url or settings.SMSONLINE_API_URL, api_key, options["monthly_budget"])
        self.stdout.write(f"Account {account.name} saved ({account.api_url}).")
        self._report_health(account)

    def _create(self, name: str, api_url: str, api_key: str, monthly_budget: str | None) -> ProviderAccount:
        try:
            return services.account_create(name=name, api_url=api_url, api_key=api_key, monthly_budget=monthly_budget)
        except ValidationError as exc:
            raise CommandError(_problems(exc), returncode=2) from None

    def _set_budget(self, account: ProviderAccount | None, name: str, amount: str) -> None:
        if account is None:
            raise CommandError(f"There is no account named {name!r}.", returncode=2)
        try:
            services.account_set_budget(account=account, monthly_budget=None if amount.lower() == "none" else amount)
        except ValidationError as exc:
            raise CommandError(f"--set-budget: {_problems(exc)}", returncode=2) from None
        budget = f"{account.monthly_budget:.2f} USD a month" if account.monthly_budget is not None else "none"
        self.stdout.write(f"Account {account.name}: monthly budget {budget}.")

    def _read_key(self) -> str:
        key = os.environ.get(KEY_VARIABLE, "").strip()
        if not key:
            if not sys.stdin.isatty():
                raise CommandError(
                    f"Set {KEY_VARIABLE} or run this in a terminal to be asked for the key.", returncode=2
                )
            key = getpass.getpass("SMS.online API key (hidden): ").strip()
        if problem := api_key_problem(key):
            raise CommandError(problem, returncode=2)
        return key

    def _report_health(self, account: ProviderAccount) -> None:
        outcome = services.account_check_balance(account=account)
        if outcome.ok:
            self.stdout.write(f"State: {account.state_summary}. Balance: {outcome.balance}.")
        else:
            account.refresh_from_db()
            self.stdout.write(f"State: {account.state_summary}. {what_happened(outcome.token)}")


def _problems(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(f"{field}: {' '.join(errors)}" for field, errors in error.message_dict.items())
    return " ".join(error.messages)
