"""A last line of defence: scrub ``api_key=...`` from every log record before it is written.

The provider client never logs the key; this filter catches what a library might (a URL in an
exception message from urllib3 or requests, say).
"""

import logging
import re

_API_KEY_IN_TEXT = re.compile(r"(api_key=)[^&\s'\"]+", re.IGNORECASE)


def redact_api_key_params(text: str) -> str:
    return _API_KEY_IN_TEXT.sub(r"\1[REDACTED]", text)


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_api_key_params(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact_api_key_params(logging.Formatter().formatException(record.exc_info))
        return True
