"""How the simulator writes replies: every wire form the handler_api.php family uses.

The default dialect is the family's (contract section 4): generic and account tokens as plain text,
the rent actions' own errors in the JSON envelope ``{"status": "error", "message": "TOKEN"}``. Every
other form stays available through the control plane (``/_control/dialect``), so the client can be
held to all of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

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
    "RATE_LIMITED": 429,
}
WIRE_FORMS = ("text", "json_message", "json_msg", "json_error")


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Dialect:
    """Which of the family's forms the simulator speaks, until the next reset."""

    # The wire form of the rent actions' own errors (getRentStatus's STATUS_* included).
    rent_errors: str = "json_message"
    # 200 for every outcome (the real service), or "mapped": the clones' statuses (MAPPED_STATUS).
    error_status: int | str = 200
    # Actions answered with BAD_ACTION, as a member of the family that lacks them would.
    unknown_actions: set[str] = field(default_factory=set)
    # getRentServicesAndCountries: "countries" or the misspelt "counties"; quant as a number or
    # {"current", "total"}; its countries and operators as maps or arrays.
    countries_key: str = "countries"
    quant: str = "number"
    lists: str = "map"
    # getRentStatus and getRentList: ``values`` as an object keyed "0", "1"... or as an array.
    values: str = "map"
    # Some clones refuse a cancel in the first minutes (EARLY_CANCEL_DENIED); 0: never.
    early_cancel_denied_seconds: int = 0

    def update(self, spec: dict[str, object]) -> None:
        """Apply a control-plane request; an unknown field or value is refused with its name."""
        checked = {name: _dialect_value(name, value) for name, value in spec.items()}
        for name, value in checked.items():
            setattr(self, name, value)

    def rent_error(self, token: str, **extra: object) -> Reply:
        """One of the rent actions' own errors, in this dialect."""
        return error_reply(token, wire=self.rent_errors, status=self.error_status, extra=extra)

    def generic_error(self, token: str) -> Reply:
        """A generic or account token (BAD_KEY, BANNED:'…', ERROR_SQL…): plain text in every dialect."""
        return error_reply(token, wire="text", status=self.error_status)

    def values_of(self, entries: list[dict[str, object]]) -> object:
        return entries if self.values == "array" else {str(index): entry for index, entry in enumerate(entries)}


_DIALECT_CHOICES = {
    "rent_errors": WIRE_FORMS,
    "countries_key": ("countries", "counties"),
    "quant": ("number", "object"),
    "lists": ("map", "array"),
    "values": ("map", "array"),
}


def _dialect_value(name: str, value: object) -> object:
    if name in _DIALECT_CHOICES:
        if value not in _DIALECT_CHOICES[name]:
            raise ValueError(f"{name} must be one of {', '.join(_DIALECT_CHOICES[name])}")
        return value
    if name == "error_status":
        return value if value == "mapped" else int(str(value))
    if name == "unknown_actions" and isinstance(value, list):
        return {str(action) for action in value}
    if name == "early_cancel_denied_seconds":
        return int(str(value))
    known = sorted([*_DIALECT_CHOICES, "error_status", "unknown_actions", "early_cancel_denied_seconds"])
    raise ValueError(f"unknown dialect field {name!r} or bad value; fields: {', '.join(known)}")


def error_reply(
    token: str, *, wire: str = "text", status: int | str = 200, extra: dict[str, object] | None = None
) -> Reply:
    """A token in one of the wire forms; ``status="mapped"`` uses the clones' HTTP status."""
    if wire not in WIRE_FORMS:
        raise ValueError(f"wire must be one of {', '.join(WIRE_FORMS)}")
    http_status = MAPPED_STATUS.get(token.partition(":")[0], 400) if status == "mapped" else int(status)
    if wire == "text":
        return Reply(http_status, token.encode())
    key = wire.removeprefix("json_")
    return json_reply({"status": "error", key: token, **(extra or {})}, status=http_status)


def json_reply(payload: object, *, status: int = 200) -> Reply:
    return Reply(status, json.dumps(payload).encode(), "application/json")


def text_reply(text: str, *, status: int = 200) -> Reply:
    return Reply(status, text.encode())
