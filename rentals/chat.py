"""Chat destinations for forwarded SMS: apprise URLs, how they are written, checked, masked, and posted
to as plain text.

An SMS is text a stranger wrote. Whatever chat it goes to, it must arrive as the characters it was:
no markup of its own, no mention that pings a whole channel, no control or direction-changing
characters. apprise is told the body is plain text (it escapes it for services that read HTML or
Markdown); what no escaping can defuse (mentions) is broken here with an invisible space.
"""

from __future__ import annotations

import hashlib
import logging
import re

import apprise
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

FORWARD_NOWHERE = "none"
MAX_TEXT = 1000

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# "@everyone", "@here", "<!channel>", "<@U123>": mentions a chat acts on, escaped or not.
_MENTION = re.compile(r"(@)(?=\w)|(<)(?=[!@#])")
_ZERO_WIDTH_SPACE = "\u200b"


def parse_chat_urls(text: str) -> list[str] | None:
    """The URLs written in a setting: None when it is empty (the default applies), [] for "none"."""
    urls = [part for part in re.split(r"[\s,]+", text or "") if part]
    if not urls:
        return None
    if [url.lower() for url in urls] == [FORWARD_NOWHERE]:
        return []
    return urls


def validate_chat_urls(text: str) -> None:
    """Each URL must be one apprise can post to (the setting's model validator)."""
    urls = parse_chat_urls(text) or []
    wrong = [url for url in urls if url.lower() == FORWARD_NOWHERE or apprise.Apprise.instantiate(url) is None]
    if wrong:
        raise ValidationError(
            _("Not an apprise URL Rentdesk can post to: %(urls)s. Write 'none' alone to forward nowhere.")
            % {"urls": ", ".join(masked(url) for url in wrong)}
        )


def masked(url: str) -> str:
    """The URL as it may be shown: apprise's privacy form hides tokens and passwords."""
    channel = apprise.Apprise.instantiate(url)
    if channel is None:
        return url.split("://", 1)[0] + "://…" if "://" in url else "…"
    return channel.url(privacy=True).split("?", 1)[0]


def destination_key(url: str) -> str:
    """Tells destinations apart in the record without keeping their secrets."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def plain(text: str, *, limit: int = MAX_TEXT) -> str:
    """Text as it should arrive: no control characters, mentions defused, at most ``limit`` characters."""
    cleaned = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    cleaned = _MENTION.sub(lambda match: (match.group(1) or match.group(2)) + _ZERO_WIDTH_SPACE, cleaned)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def post_plain(url: str, *, title: str, body: str) -> str:
    """Post to one destination as plain text. Returns "" when it was accepted, else what went wrong."""
    channel = apprise.Apprise()
    if not channel.add(url):
        return _("not an apprise URL Rentdesk can post to")
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
        accepted = channel.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT)
    if accepted:
        return ""
    said = " ".join(captured.getvalue().split())[:300]
    return said or _("the chat service did not accept it")
