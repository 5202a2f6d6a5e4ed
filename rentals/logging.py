"""A last line of defence: scrub ``api_key=...``, Telegram bot tokens and webhook tokens from every log
record before it is written.

The provider client never logs the key; this filter catches what a library might (a URL in an
exception message from urllib3 or requests, say). Each rental's webhook URL carries its secret token
(whoever has it can post SMS to the rental), and Django's request log and its development server
write the path of a request answered 400, 404, 405 or 500: only ``/hooks/sms/[token]/`` is written
(and ``/hooks/telegram/[token]/``, the bot's webhook).
"""

import logging
import re

_API_KEY_IN_TEXT = re.compile(r"(api_key=)[^&\s'\"]+", re.IGNORECASE)
# A raw request line (the development server's log) may escape the slashes: %2F routes the same.
_WEBHOOK_TOKEN_IN_TEXT = re.compile(r"(/hooks(?:/|%2f)(?:sms|telegram)(?:/|%2f))[^/?#\s'\"]+", re.IGNORECASE)


# A Telegram bot token in a Bot API URL's path: https://api.telegram.org/bot123456:ABC.../getMe.
_BOT_TOKEN_IN_TEXT = re.compile(r"(/bot)[0-9]{1,20}(?::|%3A)[A-Za-z0-9_-]+", re.IGNORECASE)


def redact_api_key_params(text: str) -> str:
    return _API_KEY_IN_TEXT.sub(r"\1[REDACTED]", text)


def redact_secrets(text: str) -> str:
    text = _BOT_TOKEN_IN_TEXT.sub(r"\1[REDACTED]", redact_api_key_params(text))
    return _WEBHOOK_TOKEN_IN_TEXT.sub(r"\1[token]", text)


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_secrets(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact_secrets(logging.Formatter().formatException(record.exc_info))
        return True


# The JSON views open pages poll every few seconds (admin/live.py): "…sms.json" and "…sms.json?ids=…".
_LIVE_CHECK_REQUEST = re.compile(r"^GET \S*sms\.json(?:\?\S*)? HTTP/")


class QuietLiveChecksFilter(logging.Filter):
    """Leave out of the development server's request log the live checks that succeeded: each open page
    makes one every 1.5 s, which would bury every other line. Failed ones (4xx, 5xx) are kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", 500) >= 400 or not record.args:
            return True
        request_line = record.args[0] if isinstance(record.args, tuple) else ""
        return not _LIVE_CHECK_REQUEST.match(str(request_line))


# The addresses whose 503 is their answer, not a failure of the request: monitoring and load balancers
# ask them every few seconds, and each would be an ERROR line for as long as Redis or beat is away.
HEALTH_ADDRESSES = frozenset({"/healthz", "/readyz"})


class HealthAnswersFilter(logging.Filter):
    """Log a health address's 503 (Django's "Service Unavailable") at INFO: /healthz says what is down."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if getattr(record, "status_code", None) == 503 and getattr(request, "path", "") in HEALTH_ADDRESSES:
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        return True
