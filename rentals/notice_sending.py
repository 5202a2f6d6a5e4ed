"""Sends notices (worded in ``wording.notices``) to people: email (Django's mail backend) and chat channels
(apprise URLs)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail

from .chat import masked, post_plain
from .models import Rental
from .wording.notices import Notice

logger = logging.getLogger(__name__)


def rental_people(rental: Rental, *others: AbstractBaseUser | None) -> list[str]:
    """The addresses a rental's notices go to: who rented it, its assignee, and ``others`` (notify adds
    the team address, and leaves out nobody's and the same address twice)."""
    return [user.email for user in (rental.rented_by, rental.assignee, *others) if user is not None]


def notify(notice: Notice, *, recipients: Iterable[str | None]) -> list[str]:
    """Email ``recipients`` plus the team address, and post to every chat channel (``wording.notices`` words it).

    Returns the addresses emailed. An email failure raises (the caller keeps the work to redo);
    a chat failure is logged, since the email already carries the message.
    """
    subject, body = notice.subject, notice.body
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
    # Each channel as SMS forwarding posts to one (plain text, which apprise escapes for each service's
    # markup, so nothing quoted from a label, a note or an SMS becomes a link); a channel that fails
    # is logged by name, without its secrets, and the others still hear of it.
    for url in settings.RENTDESK_CHAT_URLS:
        if problem := post_plain(url, title=title, body=body):
            logger.warning("posting to chat channel %s failed (%s): %s", masked(url), problem, title)
