"""Linking a person's Telegram chat to them, in one step: a one-time code in a deep link.

"Connect Telegram" makes a code (only its hash is kept; it works once, for ten minutes) and shows
``https://t.me/<bot>?start=<code>`` with its QR code; Telegram opens the bot and sends ``/start <code>``,
and the bot links the chat that sent it. The code is claimed in the database (``used_at`` set by one
UPDATE), so two chats racing with the same code link one. "Disconnect" and ``/stop`` undo it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction

from ..models import ForwardingPreference, TelegramLink, TelegramLinkCode
from ..roles import is_active_staff
from ..telegram.client import TelegramClient

LINK_CODE_LIFETIME = timedelta(minutes=10)
# getMe's answer (the bot's @name for the deep link) changes only when the bot is renamed.
BOT_NAME_CACHE_SECONDS = 3600


def _hashed(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def telegram_link_code_create(*, user: AbstractBaseUser, language: str, now: datetime) -> str:
    """A new one-time code for ``user`` (their earlier unused ones stop working): shown once, kept hashed."""
    code = secrets.token_urlsafe(16)  # 22 of the [A-Za-z0-9_-] a deep link's start parameter allows
    with transaction.atomic():
        TelegramLinkCode.objects.filter(user=user, used_at__isnull=True).delete()
        TelegramLinkCode.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()  # old rows
        TelegramLinkCode.objects.create(
            user=user, code_hash=_hashed(code), language=language[:8], expires_at=now + LINK_CODE_LIFETIME
        )
    return code


def telegram_link_by_code(*, code: str, chat_id: int, now: datetime) -> TelegramLink | None:
    """Link ``chat_id`` to whoever the code was made for, if it is fresh and unused (then it is used);
    None otherwise. The chat, if linked to someone else before, is theirs no more."""
    if not code or len(code) > 64:
        return None
    claimed = TelegramLinkCode.objects.filter(code_hash=_hashed(code), used_at__isnull=True, expires_at__gt=now)
    with transaction.atomic():
        if not claimed.update(used_at=now):
            return None
        made = TelegramLinkCode.objects.select_related("user").get(code_hash=_hashed(code))
        if not is_active_staff(made.user):
            return None
        TelegramLink.objects.filter(chat_id=chat_id).exclude(user=made.user).delete()
        link, _ = TelegramLink.objects.update_or_create(
            user=made.user, defaults={"chat_id": chat_id, "language": made.language, "linked_at": now}
        )
        ForwardingPreference.objects.filter(user=made.user).update(telegram_refused_at=None)
    return link


def telegram_unlink(*, user: AbstractBaseUser | None = None, chat_id: int | None = None) -> bool:
    """Forget the person's chat (from "Disconnect") or the chat's person (from /stop)."""
    if user is None and chat_id is None:
        return False
    links = TelegramLink.objects.filter(user=user) if user is not None else TelegramLink.objects.filter(chat_id=chat_id)
    return links.delete()[0] > 0


def telegram_chat_refused(*, link: TelegramLink, now: datetime) -> None:
    """Telegram will not write to this chat again (403: the person blocked the bot, or their account is
    gone): let go of it, so no SMS is retried into it, and have their Connect Telegram page say why."""
    with transaction.atomic():
        TelegramLink.objects.filter(pk=link.pk, chat_id=link.chat_id).delete()
        ForwardingPreference.objects.update_or_create(user=link.user, defaults={"telegram_refused_at": now})


def telegram_refused_at(*, user: AbstractBaseUser) -> datetime | None:
    """When Telegram last refused the person's chat, while they have not connected again."""
    return ForwardingPreference.objects.filter(user=user).values_list("telegram_refused_at", flat=True).first()


def telegram_codes_set(*, user: AbstractBaseUser, on: bool) -> None:
    """Whether the codes of the person's rentals go to their linked chat (the bot answers either way)."""
    ForwardingPreference.objects.update_or_create(user=user, defaults={"telegram_codes": on})


def telegram_codes_on(*, user: AbstractBaseUser) -> bool:
    return not ForwardingPreference.objects.filter(user=user, telegram_codes=False).exists()


def telegram_link_of(*, user: AbstractBaseUser) -> TelegramLink | None:
    return TelegramLink.objects.filter(user=user).first()


def telegram_bot_name(*, client: TelegramClient) -> str:
    """The bot's @name, from getMe (kept an hour). Raises ``TelegramError`` when Telegram cannot say."""
    key = f"rentdesk:telegram-bot-name:{client.fingerprint}"
    name = cache.get(key)
    if not name:
        name = client.get_me().username
        cache.set(key, name, BOT_NAME_CACHE_SECONDS)
    return name
