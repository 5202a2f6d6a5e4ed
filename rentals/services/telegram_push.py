"""One SMS to one person's linked Telegram chat: a destination of the SMS's forwarding (forwarding.py)."""

from __future__ import annotations

from django.utils import timezone, translation

from ..models import SmsMessage, TelegramLink
from ..permissions import Permission
from ..telegram.client import TelegramClient, TelegramError
from ..wording import telegram
from .telegram_links import telegram_chat_refused

# Telegram's answer for a chat it will not write to: the bot blocked, the account deleted or deactivated.
CHAT_REFUSED = 403


def telegram_sms_push(*, client: TelegramClient, sms: SmsMessage, link: TelegramLink) -> str:
    """Send one SMS to a person's chat; "" when Telegram took it, else what went wrong (no token in it)."""
    with translation.override(link.language):
        text = telegram.sms_pushed(sms, may_read=link.user.has_perm(Permission.READ_SMS))
    try:
        client.send_message(chat_id=link.chat_id, text=text)
    except TelegramError as error:
        if error.status == CHAT_REFUSED:
            # Retried, it would be refused again, for this SMS and every one after it.
            telegram_chat_refused(link=link, now=timezone.now())
            return f"{error} (the chat is disconnected)"
        return str(error)
    return ""
