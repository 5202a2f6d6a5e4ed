"""The webhook alternative to polling: where ``PUBLIC_BASE_URL`` is reachable from the internet,
Telegram can POST each update to ``/hooks/telegram/<secret>/`` instead of the task reading them.

Both secrets are derived from the bot token and ``DJANGO_SECRET_KEY`` (nothing to store, and a new token
makes new ones): the path's, so the address cannot be guessed, and the header's
(``X-Telegram-Bot-Api-Secret-Token``), which Telegram sends with each update once told it by setWebhook.
Telegram delivers one update at a time (``max_connections=1``) and again when not answered 200; the
stored offset answers each update_id once.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.crypto import salted_hmac

from ..models import TelegramPoll
from ..telegram.client import TelegramClient
from .telegram_bot import POLL_ROW, telegram_update_answer


def _derived(purpose: str) -> str:
    return salted_hmac(f"rentdesk.telegram.{purpose}", settings.TELEGRAM_BOT_TOKEN, algorithm="sha256").hexdigest()[:48]


def telegram_webhook_url() -> str:
    return settings.PUBLIC_BASE_URL + reverse("rentals:telegram_webhook", args=[_derived("webhook-path")])


def telegram_webhook_checks(*, path_secret: str, header_secret: str) -> bool:
    """Whether a delivery names the right address and carries the header Telegram was given."""
    if not settings.TELEGRAM_BOT_TOKEN:
        return False
    path_ok = hmac.compare_digest(path_secret.encode(), _derived("webhook-path").encode())
    return path_ok and hmac.compare_digest(header_secret.encode(), _derived("webhook-header").encode())


def telegram_webhook_set(*, client: TelegramClient) -> str:
    """Tell Telegram to POST updates here (the task then finds getUpdates refused, and reads nothing)."""
    url = telegram_webhook_url()
    client.set_webhook(url=url, secret_token=_derived("webhook-header"))
    return url


def telegram_webhook_delete(*, client: TelegramClient) -> None:
    """Back to polling: the task reads updates again, at once (not after its pause for the webhook)."""
    client.delete_webhook()
    TelegramPoll.objects.filter(pk=POLL_ROW).update(leased_until=None)


def telegram_update_answer_once(*, client: TelegramClient, update: dict[str, Any], now: datetime) -> bool:
    """Answer an update that came by webhook unless it was answered before (Telegram delivers again
    what it thinks was not taken). False when it was."""
    update_id = update.get("update_id")
    if not isinstance(update_id, int):
        return False
    TelegramPoll.objects.get_or_create(pk=POLL_ROW)
    if not TelegramPoll.objects.filter(pk=POLL_ROW, offset__lte=update_id).update(offset=update_id + 1):
        return False
    telegram_update_answer(client=client, update=update, now=now)
    return True
