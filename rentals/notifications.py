"""Messages to people: email (Django's mail backend) and chat channels (apprise URLs)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import apprise
from django.conf import settings
from django.core.mail import send_mail

logger = logging.getLogger(__name__)


def notify(*, subject: str, body: str, recipients: Iterable[str | None]) -> list[str]:
    """Email ``recipients`` plus the team address, and post to every chat channel.

    Returns the addresses emailed. An email failure raises (the caller keeps the work to redo);
    a chat failure is logged, since the email already carries the message.
    """
    addresses = sorted({address for address in (*recipients, settings.RENTDESK_TEAM_EMAIL) if address})
    mail_error = None
    if addresses:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, addresses)
        except Exception as error:  # the chat still hears of it; the caller learns the mail failed
            mail_error = error
    elif not settings.RENTDESK_CHAT_URLS:
        logger.warning("nobody to tell (set RENTDESK_TEAM_EMAIL or RENTDESK_CHAT_URLS): %s", subject)
    _post_to_chat(subject, body)
    if mail_error is not None:
        raise mail_error
    return addresses


def _post_to_chat(title: str, body: str) -> None:
    if not settings.RENTDESK_CHAT_URLS:
        return
    channels = apprise.Apprise()
    for url in settings.RENTDESK_CHAT_URLS:
        if not channels.add(url):
            logger.warning("a chat URL in RENTDESK_CHAT_URLS is not one apprise understands; skipped")
    # Our messages are plain text that quotes labels, notes and SMS: declared as text, apprise escapes
    # them for each service's markup (HTML for Telegram, Markdown for Slack...), so none becomes a link.
    if len(channels) and not channels.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT):
        logger.warning("posting to a chat channel failed: %s", title)
