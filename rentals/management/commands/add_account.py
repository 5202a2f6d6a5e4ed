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
from rentals.crypto import ApiKeyUnreadable
from rentals.explanations import explain
from rentals.models import ProviderAccount, api_key_problem
from rentals.provider.errors import ProviderError

KEY_VARIABLE = "SMSONLINE_API_KEY"


class Command(BaseCommand):
    help = (
        f"Add a provider account (or replace its key with --update-key); the key comes from {KEY_VARIABLE} or a prompt."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--api-url", default=None, help="handler_api.php URL (default: SMSONLINE_API_URL).")
        parser.add_argument(
            "--update-key",
            action="store_true",
            help="Replace the key of an existing account; with --api-url, move the account and its key there.",
        )

    def handle(self, *args: Any, name: str, api_url: str | None, update_key: bool, **options: Any) -> None:
        api_key = self._read_key()
        existing = ProviderAccount.objects.filter(name=name).first()
        if existing and not update_key:
            raise CommandError(f"An account named {name!r} exists; add --update-key to replace its key.", returncode=2)
        try:
            if existing:
                # A new URL is only ever taken together with the key: the key is bound to where it goes.
                services.account_set_api_key(account=existing, api_key=api_key, api_url=api_url)
                account = existing
            else:
                account = services.account_create(
                    name=name, api_url=api_url or settings.SMSONLINE_API_URL, api_key=api_key
                )
        except ValidationError as exc:
            problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items())
            raise CommandError(problems, returncode=2) from None
        self.stdout.write(f"Account {account.name} saved ({account.api_url}).")
        self._report_health(account)

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
        try:
            balance = services.account_check_balance(account=account)
        except ProviderError as error:
            account.refresh_from_db()
            self.stdout.write(f"State: {account.state_summary} ({error.token}). {explain(error.token)}")
        except ApiKeyUnreadable:
            self.stdout.write(explain("API_KEY_UNREADABLE"))
        else:
            self.stdout.write(f"State: {account.state_summary}. Balance: {balance}.")
