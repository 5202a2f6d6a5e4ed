"""How the simulator writes replies: every wire form the handler_api.php family uses."""

from __future__ import annotations

import json
from dataclasses import dataclass

# Clones that map tokens to HTTP statuses (contract section 1); the real service answers 200.
MAPPED_STATUS = {
    "BAD_KEY": 401,
    "NO_KEY": 401,
    "NOT_AUTHORIZED": 401,
    "BAD_ACTION": 400,
    "BAD_COUNTRY": 400,
    "BAD_SERVICE": 400,
    "INVALID_TIME": 400,
    "WRONG_OPERATOR": 400,
    "NO_BALANCE": 402,
    "NO_NUMBERS": 404,
    "BANNED": 403,
    "CHANNELS_LIMIT": 403,
    "ACCOUNT_INACTIVE": 403,
    "ERROR_SQL": 500,
    "SERVER_ERROR": 500,
}
WIRE_FORMS = ("text", "json_message", "json_msg", "json_error")


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


def error_reply(token: str, *, wire: str = "text", status: int | str = 200) -> Reply:
    """A token in one of the wire forms; ``status="mapped"`` uses the clones' HTTP status."""
    if wire not in WIRE_FORMS:
        raise ValueError(f"wire must be one of {', '.join(WIRE_FORMS)}")
    http_status = MAPPED_STATUS.get(token.partition(":")[0], 400) if status == "mapped" else int(status)
    if wire == "text":
        return Reply(http_status, token.encode())
    key = wire.removeprefix("json_")
    return json_reply({"status": "error", key: token}, status=http_status)


def json_reply(payload: object, *, status: int = 200) -> Reply:
    return Reply(status, json.dumps(payload).encode(), "application/json")


def text_reply(text: str, *, status: int = 200) -> Reply:
    return Reply(status, text.encode())
