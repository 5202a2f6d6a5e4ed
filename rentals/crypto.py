"""Encryption of provider API keys at rest (Fernet, with rotation through MultiFernet).

Decryption fails loudly: a wrong or missing key raises ``ApiKeyUnreadable`` rather than handing
back ciphertext, which would otherwise be sent to the provider as if it were the API key.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class ApiKeyUnreadable(Exception):
    """The stored key cannot be decrypted with any key in API_KEY_ENCRYPTION_KEYS."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    # The settings checked these keys at startup (config/settings/readers.py).
    return MultiFernet([Fernet(key) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.API_KEY_ENCRYPTION_KEYS))


def encrypt_api_key(plain: str) -> str:
    return _current().encrypt(plain.encode()).decode()


def decrypt_api_key(ciphertext: str) -> str:
    try:
        return _current().decrypt(ciphertext.encode()).decode()
    except (InvalidToken, ValueError):
        raise ApiKeyUnreadable(
            "The stored API key cannot be decrypted with API_KEY_ENCRYPTION_KEYS; "
            "restore the key it was encrypted with or enter the API key again."
        ) from None


def reencrypt_api_key(ciphertext: str) -> str:
    """Re-encrypt with the first (newest) key, for rotation."""
    try:
        return _current().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise ApiKeyUnreadable("The stored API key cannot be decrypted for rotation.") from None
