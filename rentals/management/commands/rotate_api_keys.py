"""Re-encrypt every stored API key with the first key of API_KEY_ENCRYPTION_KEYS (after a rotation)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from rentals.crypto import ApiKeyUnreadable, reencrypt_api_key
from rentals.models import ProviderAccount


class Command(BaseCommand):
    help = "Re-encrypt stored provider API keys with the newest encryption key."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            accounts = list(ProviderAccount.objects.select_for_update())
            for account in accounts:
                try:
                    account.api_key_ciphertext = reencrypt_api_key(account.api_key_ciphertext)
                except ApiKeyUnreadable:
                    raise CommandError(
                        f"The key of account {account.name!r} cannot be decrypted; nothing changed."
                    ) from None
                account.save(update_fields=["api_key_ciphertext"])
        self.stdout.write(f"Re-encrypted {len(accounts)} API key(s).")
