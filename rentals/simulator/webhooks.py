"""The provider's webhook: one POST per SMS, sent once, never retried (as SMS.online does)."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

logger = logging.getLogger(__name__)


def post_sms_webhook(url: str, payload: dict[str, object]) -> int | None:
    """POST the SMS as JSON; return the HTTP status, or None when nothing answered."""
    if not url.startswith(("http://", "https://")):
        return None
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - http(s) only
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError) as error:
        logger.info("simulator: webhook not delivered: %s", error)
        return None
