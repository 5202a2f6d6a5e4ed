"""API tokens: made for a person, kept as a hash, looked up by it, revoked, and seen in use.

A token acts as its person, so it asks no less of them than the admin does: where two-factor sign-in is
required of a person, a token is made only from a session that entered a code, and works only while
its person has an authenticator app set up. One person holds at most RENTDESK_API_TOKENS_PER_PERSON
tokens in use.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from ..models import ApiToken
from ..roles import is_active_staff
from ..two_factor import confirmed_device, needs_two_factor

TOKEN_PREFIX = "rdk_"
# The last-used time is written at most this often per token: not a database write per request.
LAST_USED_PRECISION = timedelta(minutes=1)


def _hash(plain: str) -> str:
    # 256 random bits need no slow hash: nobody can try enough of them to find one.
    return hashlib.sha256(plain.encode()).hexdigest()


class TokenRefused(Exception):
    """A token cannot be made now; the message says why and what to do."""


class SecondFactorMissing(Exception):
    """The token is right, but its person must sign in with two factors and has no authenticator app."""


def api_token_refusal(*, user: AbstractBaseUser, verified: bool) -> str:
    """Why ``user`` may not make a token now (``verified``: their session entered a two-factor code), or
    an empty string."""
    if needs_two_factor(user) and not verified:
        return _("Sign in with the code from your authenticator app first: your tokens act with your permissions.")
    if api_tokens_in_use(user=user) >= settings.RENTDESK_API_TOKENS_PER_PERSON:
        return _(
            "You already have %(count)s tokens in use, the most one person may have. Revoke one you no longer "
            "use, then make the new one."
        ) % {"count": settings.RENTDESK_API_TOKENS_PER_PERSON}
    return ""


def api_tokens_in_use(*, user: AbstractBaseUser) -> int:
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).count()


def api_token_create(*, user: AbstractBaseUser, name: str, verified: bool = False) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns the row and the token itself, which is not kept anywhere.
    Raises ``TokenRefused`` when ``api_token_refusal`` gives a reason."""
    with transaction.atomic():
        # The person's row locked: two forms sent at once cannot both take the last free place.
        list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk"))
        refusal = api_token_refusal(user=user, verified=verified)
        if refusal:
            raise TokenRefused(refusal)
        plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken.objects.create(user=user, name=name, prefix=plain[:12], key_hash=_hash(plain))
    return token, plain


def api_token_authenticate(*, plain: str, now: datetime) -> ApiToken | None:
    """The live token ``plain`` is, with its person, or None (unknown, revoked, or its person may not
    use the admin any more: inactive, or no longer staff). Raises ``SecondFactorMissing`` when its
    person must sign in with two factors and has no authenticator app set up (made a token before the
    requirement reached them, say): what the admin would not let them do, the token does not either."""
    if not plain.startswith(TOKEN_PREFIX) or len(plain) > 100:
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=_hash(plain), revoked_at__isnull=True).first()
    if token is None or not is_active_staff(token.user):
        return None
    if needs_two_factor(token.user) and confirmed_device(token.user) is None:
        raise SecondFactorMissing
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def api_tokens_revoke(*, tokens: Iterable[ApiToken], now: datetime) -> int:
    """The tokens stop working at once; they stay listed, with when they were revoked."""
    ids = [token.pk for token in tokens]
    return ApiToken.objects.filter(pk__in=ids, revoked_at__isnull=True).update(revoked_at=now)
