"""API tokens: made for a person, kept as a hash, looked up by it, revoked, and seen in use."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser

from ..models import ApiToken

TOKEN_PREFIX = "rdk_"
# The last-used time is written at most this often per token: not a database write per request.
LAST_USED_PRECISION = timedelta(minutes=1)


def _hash(plain: str) -> str:
    # 256 random bits need no slow hash: nobody can try enough of them to find one.
    return hashlib.sha256(plain.encode()).hexdigest()


def api_token_create(*, user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns the row and the token itself, which is not kept anywhere."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=plain[:12], key_hash=_hash(plain))
    return token, plain


def api_token_authenticate(*, plain: str, now: datetime) -> ApiToken | None:
    """The live token ``plain`` is, with its person, or None (unknown, revoked, or its person may not
    use the admin any more: inactive, or no longer staff)."""
    if not plain.startswith(TOKEN_PREFIX) or len(plain) > 100:
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=_hash(plain), revoked_at__isnull=True).first()
    if token is None or not token.user.is_active or not token.user.is_staff:
        return None
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def api_tokens_revoke(*, tokens: Iterable[ApiToken], now: datetime) -> int:
    """The tokens stop working at once; they stay listed, with when they were revoked."""
    ids = [token.pk for token in tokens]
    return ApiToken.objects.filter(pk__in=ids, revoked_at__isnull=True).update(revoked_at=now)
