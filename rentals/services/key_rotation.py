"""Re-encrypting the provider accounts' stored API keys with the newest encryption key, after a new one
is put first in API_KEY_ENCRYPTION_KEYS (docs/deploy.md)."""

from __future__ import annotations

from django.db import transaction

from ..crypto import ApiKeyUnreadable, reencrypt_api_key
from ..models import ProviderAccount


class KeysNotRotated(Exception):
    """An account's stored key cannot be decrypted with any key of API_KEY_ENCRYPTION_KEYS, so no key
    was re-encrypted. Carries the account's name only: never the key nor its ciphertext."""

    def __init__(self, *, account_name: str) -> None:
        super().__init__(account_name)
        self.account_name = account_name


def accounts_rotate_keys() -> int:
    """Every account's stored key encrypted again with the first (newest) encryption key; how many.

    All or none: the accounts stay locked from their read to their rewrite, and one key that cannot be
    decrypted (``KeysNotRotated``) leaves every key as it was, so the old encryption key is never
    dropped while a key still needs it.
    """
    with transaction.atomic():
        accounts = list(ProviderAccount.objects.select_for_update())
        for account in accounts:
            try:
                account.api_key_ciphertext = reencrypt_api_key(account.api_key_ciphertext)
            except ApiKeyUnreadable:
                raise KeysNotRotated(account_name=account.name) from None
            account.save(update_fields=["api_key_ciphertext"])
    return len(accounts)
