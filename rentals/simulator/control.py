"""Talking to a running simulator's control plane, for demos and ops drills (never the real provider)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .server import API_PATH


class NotASimulator(Exception):
    """The URL does not lead to a simulator's control plane."""


def control_url(api_url: str, command: str) -> str:
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.path.endswith(API_PATH):
        raise NotASimulator(f"{api_url} is not a simulator's handler_api.php URL")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.removesuffix(API_PATH) + f"/_control/{command}", "", ""))


def send(api_url: str, command: str, payload: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked by control_url
        control_url(api_url, command), data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        if error.code == 404:
            raise NotASimulator(f"{api_url} has no simulator control plane") from None
        raise NotASimulator(f"the simulator refused: {error.read()[:200].decode('utf-8', 'replace')}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise NotASimulator(f"no simulator answered at {api_url}: {error}") from None


def telegram(base_url: str, command: str, payload: dict[str, object] | None = None) -> Any:
    """The Telegram stand-in's control plane at ``base_url`` (TELEGRAM_API_URL): POST with a payload,
    GET without (``command`` may carry a query, e.g. ``sent?chat_id=1000``)."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https"):
        raise NotASimulator(f"{base_url} is not an http(s) URL")
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        f"{base_url.rstrip('/')}/_control/telegram/{command}", data=data, headers={"Content-Type": "application/json"},
        method="POST" if payload is not None else "GET",
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        raise NotASimulator(f"no simulator's stand-in for Telegram answered at {base_url}") from None
