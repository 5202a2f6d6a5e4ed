"""Chat destinations for forwarded SMS: apprise URLs posted to as plain text (how they are written,
checked and masked: rentals/chat_urls.py).

An SMS is text a stranger wrote. Whatever chat it goes to, it must arrive as the characters it was:
no markup of its own, no mention that pings a whole channel, no control or direction-changing
characters. apprise is told the body is plain text (it escapes it for services that read HTML or
Markdown); what no escaping can defuse (mentions) is broken here with an invisible space. A field meant
to be one line (a sender, a label) stays one line, so it cannot put a line such as "Code: 000000" of its
own above the real one.

Where a chat URL may lead is checked by ``chat_guard``, when it is saved and on every post; a post that
fails tells the page only that it could not be delivered (refused, closed, filtered and timed out look
alike there: no port scanning through it), and the server log why.
"""

from __future__ import annotations

import hashlib
import logging
import re
from urllib.parse import unquote

import apprise
from django.utils.translation import gettext as _

from . import chat_guard

# How chat URLs are written, checked and masked lives in chat_urls, which the models may import (nothing
# there posts); the migrations name rentals.chat.validate_chat_urls, so it is named here too.
from .chat_urls import FORWARD_NOWHERE as FORWARD_NOWHERE
from .chat_urls import masked as masked
from .chat_urls import parse_chat_urls as parse_chat_urls
from .chat_urls import validate_chat_urls as validate_chat_urls

logger = logging.getLogger(__name__)

MAX_TEXT = 1000

# Every way text can start a new line: CR LF, CR, vertical tab, form feed, file/group/record separators,
# NEL, and Unicode's line and paragraph separators.
_LINE_BREAK = re.compile(r"\r\n|[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# The other control characters (C0, DEL, C1) and the invisible ones that reorder or isolate what follows.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# "@everyone", "@here", "<!channel>", "<@U123>": mentions a chat acts on, escaped or not.
_MENTION = re.compile(r"(@)(?=\w)|(<)(?=[!@#])")
_ZERO_WIDTH_SPACE = "\u200b"
_URL_PIECES = re.compile(r"[/:@?&=#,;+\s]+")


def destination_key(url: str) -> str:
    """Tells destinations apart in the record without keeping their secrets."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def plain(text: str, *, limit: int = MAX_TEXT) -> str:
    """Text as it should arrive: lines broken by "\\n" only, no control characters, mentions defused, at
    most ``limit`` characters."""
    cleaned = _CONTROL.sub("", _LINE_BREAK.sub("\n", text))
    cleaned = _MENTION.sub(lambda match: (match.group(1) or match.group(2)) + _ZERO_WIDTH_SPACE, cleaned)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def one_line(text: str, *, limit: int) -> str:
    """A field that must stay on its line (a sender, a label): every break folded into a space."""
    folded = " ".join(plain(text, limit=2 * len(text) + 1).split())
    return folded if len(folded) <= limit else folded[: limit - 1] + "…"


def quoted(text: str) -> str:
    """Many lines of a stranger's text, each after the first marked "> ", so none of them can pass for a
    line of the message around it."""
    return "\n> ".join(plain(text).strip("\n").split("\n"))


def undelivered() -> str:
    return _("could not be delivered")


def post_plain(url: str, *, title: str, body: str) -> str:
    """Post to one destination as plain text. Returns "" when it was accepted, else what went wrong, in
    the same words whatever it was; the server log has why."""
    channel = apprise.Apprise()
    if not channel.add(url):
        return _("not an apprise URL Rentdesk can post to")
    if added := chat_guard.added_parameters(url):
        logger.warning("chat post to %s refused: its URL sets %s", masked(url), ", ".join(added))
        return undelivered()
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured, chat_guard.guarded() as guard:
        accepted = channel.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT)
    if accepted:
        return ""
    said = "; ".join(dict.fromkeys(guard.refused)) or " ".join(captured.getvalue().split())[:300]
    logger.warning("chat post to %s not delivered: %s", masked(url), _without_secrets(said, url))
    return undelivered()


def _without_secrets(text: str, url: str) -> str:
    """``text`` with every piece of ``url`` that its masked form hides (tokens, passwords) blanked."""
    written = url.split("://", 1)[-1]
    pieces = set(_URL_PIECES.split(written)) | set(_URL_PIECES.split(unquote(written)))
    for piece in sorted(pieces - set(_URL_PIECES.split(masked(url))), key=len, reverse=True):
        if len(piece) >= 4:
            text = text.replace(piece, "…")
    return text
