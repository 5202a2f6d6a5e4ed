"""Models: the seeded catalog, keys at rest, and what blocks an account from renting."""

from datetime import timedelta

import pytest
from django.utils import timezone

from rentals.crypto import ApiKeyUnreadable
from rentals.models import AccountState, Country, Operator, ProviderAccount, Service


@pytest.mark.django_db
def test_the_catalog_is_seeded_from_the_contract_tables():
    assert set(Service.objects.values_list("code", flat=True)) >= {"tg", "wa", "vk", "go", "full", "ot"}
    assert Country.objects.get(provider_id=1).name == "Ukraine"
    assert Country.objects.get(provider_id=187).name == "USA"
    ukraine_operators = set(Operator.objects.filter(country__provider_id=1).values_list("code", flat=True))
    assert ukraine_operators == {"kyivstar", "life", "vodafone"}


def test_a_key_is_stored_encrypted_and_a_wrong_encryption_key_raises(settings):
    account = ProviderAccount(name="A", api_url="https://x.test/stubs/handler_api.php")
    account.set_api_key("plain-key-123456")
    assert "plain-key" not in account.api_key_ciphertext and account.reveal_api_key() == "plain-key-123456"
    settings.API_KEY_ENCRYPTION_KEYS = ["x7Z3jz0sUNkN0qkxbRxWzPYiM1X7VhTGvB0N_7mLsHE="]
    with pytest.raises(ApiKeyUnreadable) as raised:
        account.reveal_api_key()
    assert account.api_key_ciphertext not in str(raised.value)


def test_rotation_keeps_old_keys_readable(settings):
    account = ProviderAccount(name="A", api_url="https://x.test/stubs/handler_api.php")
    account.set_api_key("plain-key-123456")
    settings.API_KEY_ENCRYPTION_KEYS = [
        "x7Z3jz0sUNkN0qkxbRxWzPYiM1X7VhTGvB0N_7mLsHE=",
        *settings.API_KEY_ENCRYPTION_KEYS,
    ]
    assert account.reveal_api_key() == "plain-key-123456"


@pytest.mark.parametrize(
    ("state", "banned_for", "blocking"),
    [
        (AccountState.OK, None, None),
        (AccountState.NO_BALANCE, None, "NO_BALANCE"),
        (AccountState.BANNED, timedelta(hours=1), "BANNED"),
        (AccountState.BANNED, timedelta(hours=-1), None),
        (AccountState.INACTIVE, None, "ACCOUNT_INACTIVE"),
        (AccountState.BAD_KEY, None, "BAD_KEY"),
        (AccountState.BLOCKED, None, "CHANNELS_LIMIT"),
    ],
)
def test_spending_block(state, banned_for, blocking):
    now = timezone.now()
    account = ProviderAccount(state=state, banned_until=now + banned_for if banned_for else None)
    assert account.spending_block(now) == blocking
