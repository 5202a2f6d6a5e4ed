"""Re-encrypt every stored API key with the first key of API_KEY_ENCRYPTION_KEYS (after a rotation)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from rentals import services


class Command(BaseCommand):
    help = "Re-encrypt stored provider API keys with the newest encryption key."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            rotated = services.accounts_rotate_keys()
        except services.KeysNotRotated as refused:
            raise CommandError(
                f"The key of account {refused.account_name!r} cannot be decrypted; nothing changed."
            ) from None
        self.stdout.write(f"Re-encrypted {rotated} API key(s).")
