"""Chat destinations as written in a setting: apprise URLs, how they are read, checked when saved, and
masked for a page. Nothing here posts (rentals/chat.py does), so the models may import it for their
validators.
"""

from __future__ import annotations

import re

import apprise
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from . import chat_guard

FORWARD_NOWHERE = "none"


def parse_chat_urls(text: str) -> list[str] | None:
    """The URLs written in a setting: None when it is empty (the default applies), [] for "none"."""
    urls = [part for part in re.split(r"[\s,]+", text or "") if part]
    if not urls:
        return None
    if [url.lower() for url in urls] == [FORWARD_NOWHERE]:
        return []
    return urls


def validate_chat_urls(text: str) -> None:
    """Each URL must be one apprise can post to, adding no headers, parameters or method of its own, to
    a host outside the team's network unless RENTDESK_CHAT_ALLOWED_HOSTS names it (the model validator)."""
    urls = parse_chat_urls(text) or []
    wrong = [url for url in urls if url.lower() == FORWARD_NOWHERE or apprise.Apprise.instantiate(url) is None]
    if wrong:
        raise ValidationError(
            _("Not an apprise URL Rentdesk can post to: %(urls)s. Write 'none' alone to forward nowhere.")
            % {"urls": ", ".join(masked(url) for url in wrong)}
        )
    errors = [error for url in urls if (error := _destination_error(url))]
    if errors:
        raise ValidationError(errors)


def _destination_error(url: str) -> str:
    if added := chat_guard.added_parameters(url):
        return _(
            "%(url)s sets %(parameters)s: a chat URL may not add headers, parameters or payload fields, "
            "or change the method."
        ) % {"url": masked(url), "parameters": ", ".join(added)}
    if inside := chat_guard.inside_addresses(url):
        return _(
            "%(url)s leads inside the network (%(addresses)s): Rentdesk posts only to public addresses "
            "unless RENTDESK_CHAT_ALLOWED_HOSTS names the host."
        ) % {"url": masked(url), "addresses": ", ".join(inside)}
    return ""


def masked(url: str) -> str:
    """The URL as it may be shown: apprise's privacy form hides tokens and passwords."""
    channel = apprise.Apprise.instantiate(url)
    if channel is None:
        return url.split("://", 1)[0] + "://…" if "://" in url else "…"
    return channel.url(privacy=True).split("?", 1)[0]
