"""The total parser of SMS.online replies (contract, section 2).

Every byte string maps either to a result (``Success``, ``Balance``) or to a ``ProviderError``:
nothing the provider sends can make this module raise anything else.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import ProviderError, UnknownOutcome, error_for_token

TOKEN_ALIASES = {
    "SQL_ERROR": "ERROR_SQL",
    "WRONG_ACTION": "BAD_ACTION",
    "WRONG ACTION": "BAD_ACTION",
    "INVALID_STATUS": "INCORECT_STATUS",
    "BAD_STATUS": "INCORECT_STATUS",
    "WRONG_COUNTRY": "BAD_COUNTRY",
    "WRONG_COUNTRY_ID": "BAD_COUNTRY",
    "BAD_OPERATOR": "WRONG_OPERATOR",
    "BAD_TIME": "INVALID_TIME",
    "OUT_OF_STOCK": "NO_NUMBERS",
}
_TOKEN_SHAPE = re.compile(r"[A-Z][A-Z0-9_ ]{1,63}")
_BALANCE = re.compile(r"ACCESS_BALANCE\s*:\s*['\"]?\s*(-?\d+(?:[.,]\d+)?)\s*['\"]?", re.IGNORECASE)
_BAN_DATE_FORMATS = ("%Y-%m-%d %H-%M-%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
_RAW_BODY_KEEP = 500


@dataclass(frozen=True)
class Success:
    payload: dict[str, Any] | list[Any]


@dataclass(frozen=True)
class Balance:
    amount: Decimal


@dataclass(frozen=True)
class RentedPhone:
    rent_id: str
    number: str
    end_date: datetime
    cost: Decimal | None


def parse_reply(body: bytes, *, http_status: int, provider_tz: tzinfo) -> Success | Balance:
    """Read one reply; raise the ``ProviderError`` it stands for when it is not a success."""
    text = _decode(body)
    context = {"http_status": http_status, "raw_body": text[:_RAW_BODY_KEEP]}
    if not text:
        raise UnknownOutcome(detail="empty reply", **context)
    if text[0] in '{["':
        return _parse_json(text, context, provider_tz)
    if text[0] == "<":
        raise UnknownOutcome(detail="an HTML page instead of an API reply", **context)
    return _parse_text(text, context, provider_tz)


def _decode(body: bytes) -> str:
    if body[:2] == b"\x1f\x8b":  # gzip sent without a Content-Encoding header
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, zlib.error):
            return "<undecodable gzip body>"
    return body.decode("utf-8", errors="replace").strip().lstrip("\ufeff").strip()


def _parse_json(text: str, context: dict[str, Any], provider_tz: tzinfo) -> Success | Balance:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise UnknownOutcome(detail="truncated or malformed JSON", **context) from None
    if isinstance(data, list):
        return Success(data)
    if isinstance(data, str):
        return _parse_text(data.strip(), context, provider_tz)
    if not isinstance(data, dict):
        raise UnknownOutcome(detail="JSON that is neither an object nor a list", **context)
    status = str(data.get("status", "")).strip().lower()
    if status == "success" or "status" not in data:
        return Success(data)
    raw_token = next(
        (value for key in ("message", "msg", "error") if isinstance(value := data.get(key), str) and value.strip()),
        None,
    )
    if status != "error" or raw_token is None:
        raise UnknownOutcome(detail=f"JSON reply with status {status!r} and no error token", **context)
    extra = " ".join(str(data[key]) for key in ("errorMsg", "info") if data.get(key))
    raise _token_error(raw_token, context, provider_tz, extra_detail=extra)


def _parse_text(text: str, context: dict[str, Any], provider_tz: tzinfo) -> Balance:
    match = _BALANCE.fullmatch(text)
    if match:
        return Balance(Decimal(match.group(1).replace(",", ".")))
    raise _token_error(text, context, provider_tz)


def _token_error(raw: str, context: dict[str, Any], provider_tz: tzinfo, *, extra_detail: str = "") -> ProviderError:
    name, _, detail = raw.strip().partition(":")
    token = name.strip().strip("'\"").upper()
    token = TOKEN_ALIASES.get(token, token)
    detail = detail.strip()
    if not _TOKEN_SHAPE.fullmatch(token):
        return UnknownOutcome(detail=f"unreadable reply: {raw.strip()[:200]}", **context)
    banned_until = parse_ban_date(detail, provider_tz) if token == "BANNED" else None
    full_detail = f"{detail} {extra_detail}".strip()
    return error_for_token(token, full_detail, banned_until=banned_until, **context)


def parse_ban_date(detail: str, provider_tz: tzinfo) -> datetime | None:
    """``'2025-5-10 12-34-56'`` (format ``Y-n-j H-i-s``, quotes optional) in the provider's timezone."""
    cleaned = detail.strip().strip("'\"").strip()
    for date_format in _BAN_DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, date_format).replace(tzinfo=provider_tz)
        except ValueError:
            continue
    return None


def parse_rented_phone(reply: Success | Balance, *, provider_tz: tzinfo) -> RentedPhone:
    """The ``phone`` object of a getRentNumber / continueRentNumber success.

    A "success" we cannot read is still a success on the provider's side: money may have moved, so
    it is an unknown outcome, never a failure.
    """
    payload = reply.payload if isinstance(reply, Success) else None
    phone = payload.get("phone") if isinstance(payload, dict) else None
    if not isinstance(phone, dict):
        raise UnknownOutcome(detail="success reply without a phone object", raw_body=str(payload)[:_RAW_BODY_KEEP])
    try:
        return RentedPhone(
            rent_id=_identifier(phone.get("id")),
            number=_phone_number(phone.get("number", phone.get("phone"))),
            end_date=_aware_datetime(phone.get("endDate"), provider_tz),
            cost=_first_decimal(phone, payload, keys=("cost", "price")),
        )
    except (TypeError, ValueError) as exc:
        raise UnknownOutcome(
            detail=f"success reply with an unreadable phone: {exc}", raw_body=str(payload)[:_RAW_BODY_KEEP]
        ) from None


def _identifier(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip():
        raise ValueError(f"rent id {value!r}")
    identifier = str(value).strip()
    if len(identifier) > 64:
        raise ValueError("rent id longer than 64 characters")
    return identifier


def _phone_number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"number {value!r}")
    digits = str(value).strip().lstrip("+")
    if not digits.isdigit() or not 5 <= len(digits) <= 20:
        raise ValueError(f"number {value!r}")
    return digits


def _aware_datetime(value: object, provider_tz: tzinfo) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"endDate {value!r}")
    parsed = datetime.fromisoformat(value.strip())
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=provider_tz)


def _first_decimal(*sources: dict[str, Any], keys: tuple[str, ...]) -> Decimal | None:
    for source in sources:
        for key in keys:
            value = source.get(key)
            if isinstance(value, (int, float, str)) and not isinstance(value, bool):
                try:
                    amount = Decimal(str(value).strip())
                except InvalidOperation:
                    continue
                if amount.is_finite() and amount >= 0:
                    return amount
    return None
