"""The total parser of SMS.online replies (contract, section 2).

Every byte string maps either to a result (``Success``, ``Balance``) or to a ``ProviderError``:
nothing the provider sends can make this module raise anything else, and every value it hands
on fits where Rentdesk stores it (amounts, dates, ids, text).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from ..charsets import TEXT_CHARSETS, declared_charsets, known_charset
from .errors import ProviderError, UnknownOutcome, error_for_token, provider_detail, storable_text

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
_TOKEN_SHAPE = re.compile(r"[A-Z][A-Z0-9_]{1,63}")
_BALANCE = re.compile(r"ACCESS_BALANCE\s*:\s*['\"]?\s*(-?[0-9]+(?:[.,][0-9]+)?)\s*['\"]?", re.IGNORECASE)
_RENT_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
_PHONE_NUMBER = re.compile(r"[0-9]{5,20}")
_TIMESTAMP = re.compile(r"[0-9]{1,20}")
_COUNT = re.compile(r"[0-9]{1,9}")
_MAX_LISTED_HOURS = 24 * 366
_BAN_DATE_FORMATS = ("%Y-%m-%d %H-%M-%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
_RAW_BODY_KEEP = 500
MAX_DECODED_BYTES = 1024 * 1024
# Amounts are stored as DecimalField(max_digits=14, decimal_places=4).
_MAX_AMOUNT = Decimal("1e10")
_AMOUNT_PLACES = Decimal("0.0001")
# An end date outside these years is not a date SMS.online meant.
_EARLIEST_END = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST_END = datetime(2200, 1, 1, tzinfo=UTC)


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


def _unchanged(text: str) -> str:
    return text


def parse_reply(
    body: bytes, *, http_status: int, provider_tz: tzinfo, redact: Callable[[str], str] = _unchanged
) -> Success | Balance:
    """Read one reply; raise the ``ProviderError`` it stands for when it is not a success.

    ``redact`` is applied to the whole decoded body first, so no part of a secret the provider
    echoes survives into a detail, a kept body or a payload.
    """
    context: dict[str, Any] = {"http_status": http_status}
    text = redact(_decode(body, context))
    context["raw_body"] = text[:_RAW_BODY_KEEP]
    try:
        return _parse_text(text, context, provider_tz)
    except ProviderError as error:
        if http_status >= 500 and not isinstance(error, UnknownOutcome):
            # A server error may have come after the work was done: whatever the body says (a rent's
            # status too: a STATUS_FINISH on an error page ends no rental).
            raise UnknownOutcome(error.token, f"HTTP {http_status}: {error.detail}".strip(), **context) from None
        raise


def _decode(body: bytes, context: dict[str, Any]) -> str:
    if body[:2] == b"\x1f\x8b":  # gzip sent without a Content-Encoding header
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, MAX_DECODED_BYTES + 1)
        except zlib.error:
            raise UnknownOutcome(detail="an undecodable gzip body", **context) from None
        if len(body) > MAX_DECODED_BYTES or inflater.unconsumed_tail:
            raise UnknownOutcome(detail=f"a gzip body larger than {MAX_DECODED_BYTES} bytes", **context)
        if not inflater.eof:  # cut short: what was inflated may read as a different answer (a smaller balance)
            raise UnknownOutcome(detail="a truncated gzip body", **context)
    return body.decode("utf-8", errors="replace").strip().lstrip("\ufeff").strip()


def _parse_text(text: str, context: dict[str, Any], provider_tz: tzinfo) -> Success | Balance:
    if not text:
        raise UnknownOutcome(detail="empty reply", **context)
    if text[0] in '{["':
        return _parse_json(text, context, provider_tz)
    if text[0] == "<":
        raise UnknownOutcome(detail="an HTML page instead of an API reply", **context)
    match = _BALANCE.fullmatch(text)
    if match:
        return Balance(_balance(match.group(1), context))
    raise _token_error(text, context, provider_tz)


def _balance(digits: str, context: dict[str, Any]) -> Decimal:
    amount = _bounded_amount(digits.replace(",", "."))
    if amount is None:
        raise UnknownOutcome(detail=f"a balance Rentdesk cannot hold: {digits[:40]}", **context)
    return amount


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
        raise UnknownOutcome(detail=f"JSON reply with status {provider_detail(status)!r} and no error token", **context)
    info = data.get("info")
    extras = [str(data[key])[:_RAW_BODY_KEEP] for key in ("errorMsg", "info") if data.get(key)]
    max_hours = _count(info.get("max")) if isinstance(info, dict) else None
    raise _token_error(raw_token, context, provider_tz, extras=extras, max_hours=max_hours)


def _token_error(
    raw: str, context: dict[str, Any], provider_tz: tzinfo, *, extras: list[str] | None = None,
    max_hours: int | None = None,
) -> ProviderError:  # fmt: skip
    """The error a token stands for. ``extras``: what the JSON form adds (``errorMsg``, ``info``), each
    read on its own (a ban date may be in either); ``max_hours``: its ``info.max``."""
    name, _, detail = raw.strip().partition(":")
    token = name.strip().strip("'\"").upper()
    token = TOKEN_ALIASES.get(token, token)
    detail = detail.strip()[:_RAW_BODY_KEEP]
    if not _TOKEN_SHAPE.fullmatch(token):
        # No token, so nothing in it is the provider's word: its text is not kept where staff read.
        return UnknownOutcome(detail=f"an unreadable reply of {len(raw.strip())} characters", **context)
    texts = [detail, *(extras or [])]
    banned_until = None
    if token == "BANNED":
        banned_until = next(filter(None, (parse_ban_date(text, provider_tz) for text in texts)), None)
    if token == "MAX_HOURS_EXCEED" and max_hours is None:
        max_hours = _count(detail.strip("'\" "))  # the text form: MAX_HOURS_EXCEED:720
    full_detail = provider_detail(" ".join(texts).strip())
    return error_for_token(token, full_detail, banned_until=banned_until, max_hours=max_hours, **context)


def parse_ban_date(detail: str, provider_tz: tzinfo) -> datetime | None:
    """``'2025-5-10 12-34-56'`` (format ``Y-n-j H-i-s``, quotes optional) in the provider's timezone."""
    cleaned = detail.strip().strip("'\"").strip()
    for date_format in _BAN_DATE_FORMATS:
        try:
            return _plausible(datetime.strptime(cleaned, date_format).replace(tzinfo=provider_tz))
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
            end_date=_end_date(phone.get("endDate"), provider_tz),
            cost=_first_amount(phone, payload, keys=("cost", "price")),
        )
    except (TypeError, ValueError, OverflowError) as exc:
        raise UnknownOutcome(
            detail=f"success reply with an unreadable phone: {provider_detail(str(exc))}",
            raw_body=str(payload)[:_RAW_BODY_KEEP],
        ) from None


def _identifier(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not _RENT_ID.fullmatch(str(value).strip()):
        raise ValueError(f"rent id {str(value)[:80]!r}")
    return str(value).strip()


def _phone_number(value: object) -> str:
    digits = str(value).strip().lstrip("+") if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
    if not _PHONE_NUMBER.fullmatch(digits):
        raise ValueError(f"number {str(value)[:40]!r}")
    return digits


def _end_date(value: object, provider_tz: tzinfo) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"endDate {str(value)[:40]!r}")
    return _written_date(value.strip(), provider_tz)


def _plausible(moment: datetime) -> datetime:
    if not _EARLIEST_END <= moment.astimezone(UTC) <= _LATEST_END:
        raise ValueError(f"date {moment.isoformat()} is out of range")
    return moment


def _first_amount(*sources: dict[str, Any], keys: tuple[str, ...]) -> Decimal | None:
    for source in sources:
        for key in keys:
            value = source.get(key)
            if isinstance(value, (int, float, str)) and not isinstance(value, bool):
                amount = _bounded_amount(str(value).strip())
                if amount is not None and amount >= 0:
                    return amount
    return None


def _bounded_amount(text: str) -> Decimal | None:
    """An amount that fits DecimalField(14, 4), or None."""
    if len(text) > 40:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    if not amount.is_finite() or abs(amount) >= _MAX_AMOUNT:
        return None
    return amount.quantize(_AMOUNT_PLACES)


@dataclass(frozen=True)
class IncomingSms:
    sender: str
    text: str
    received_at: datetime | None  # None: the provider's date could not be read
    raw_date: str = ""


@dataclass(frozen=True)
class RentStatus:
    state: str  # active, finished, cancelled or revoked
    messages: list[IncomingSms]
    total: int


STATUS_TOKENS = {
    "STATUS_WAIT_CODE": "active",
    "STATUS_FINISH": "finished",
    "STATUS_CANCEL": "cancelled",
    "STATUS_REVOKE": "revoked",
}


@dataclass(frozen=True)
class ListedRent:
    rent_id: str
    number: str
    hours: int | None
    price: Decimal | None


@dataclass(frozen=True)
class ServiceOffer:
    cost: Decimal | None
    count: int | None


def _entries(container: object) -> list[dict[str, Any]]:
    """``values`` arrives as an object keyed "0", "1", ... or as an array: the entries, in order."""
    if isinstance(container, dict):
        items = [container[key] for key in sorted(container, key=lambda k: (len(str(k)), str(k)))]
    elif isinstance(container, list):
        items = container
    else:
        items = []
    return [item for item in items if isinstance(item, dict)]


def _count(value: object) -> int | None:
    """A count or a number of hours, as an int or a digit string, that any column holds; None otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value < 10**9 else None
    return int(value.strip()) if isinstance(value, str) and _COUNT.fullmatch(value.strip()) else None


def parse_rent_status(reply: Success | Balance, *, provider_tz: tzinfo) -> RentStatus:
    """The SMS page of a getRentStatus success; entries that cannot be read are left out."""
    payload = reply.payload if isinstance(reply, Success) and isinstance(reply.payload, dict) else {}
    messages = [sms for entry in _entries(payload.get("values")) if (sms := incoming_sms(entry, provider_tz))]
    total = payload.get("quantity")
    total_count = _count(total)
    return RentStatus(
        state="active", messages=messages, total=len(messages) if total_count is None else min(total_count, 100_000)
    )


def incoming_sms(entry: dict[str, Any], provider_tz: tzinfo) -> IncomingSms | None:
    """One SMS from getRentStatus or a webhook body: ``phoneFrom``, ``text``, ``date``.

    Only an entry without text is no SMS (a whole number is its digits). A sender or a date that cannot
    be read still gives one: an SMS is never dropped for its envelope (the caller stamps an unreadable
    date on arrival).
    """
    sender, text, date = entry.get("phoneFrom"), entry.get("text"), entry.get("date")
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)  # a code-only SMS, made a number by PHP's JSON_NUMERIC_CHECK
    if not isinstance(text, str):
        return None
    readable_sender = isinstance(sender, (str, int)) and not isinstance(sender, bool) and str(sender).strip()
    try:
        received_at = _sms_date(date, provider_tz)
    except (TypeError, ValueError, OverflowError, OSError):
        received_at = None
    return IncomingSms(
        sender=storable_text(str(sender).strip())[:64] if readable_sender else "unknown",
        text=storable_text(text)[:4000],
        received_at=received_at,
        raw_date=storable_text(str(date))[:64] if received_at is None else "",
    )


_SMS_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H-%M-%S", "%d.%m.%Y %H:%M:%S")


def _sms_date(value: object, provider_tz: tzinfo) -> datetime:
    """ISO 8601, PHP's unpadded ``Y-n-j H:i:s``, or a Unix timestamp (number or digit string).

    Raises ``ValueError`` for anything else: a timestamp is checked against the plausible range
    before the platform's time functions see it (they raise OSError or OverflowError for huge ones).
    """
    if isinstance(value, str) and _TIMESTAMP.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not _EARLIEST_END.timestamp() <= value <= _LATEST_END.timestamp():  # also False for NaN
            raise ValueError("a timestamp out of range")
        return datetime.fromtimestamp(value, tz=UTC)
    if not isinstance(value, str):
        raise ValueError("no date")
    return _written_date(value.strip(), provider_tz)


def _written_date(text: str, provider_tz: tzinfo) -> datetime:
    """A date as the family writes it: ISO 8601, or PHP's unpadded ``Y-n-j H:i:s`` and its kin; a
    naive one is in the provider's timezone. Raises ``ValueError`` for anything else."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = next((d for f in _SMS_DATE_FORMATS if (d := _strptime(text, f))), None)
        if parsed is None:
            raise
    return _plausible(parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=provider_tz))


def _strptime(text: str, date_format: str) -> datetime | None:
    try:
        return datetime.strptime(text, date_format)
    except ValueError:
        return None


def parse_rent_list(reply: Success | Balance) -> list[ListedRent]:
    """getRentList's rents, newest first: ``values`` keyed "0", "1", ... or an array, or the whole
    reply an array (contract section 2: a JSON array is a success payload)."""
    payload = reply.payload if isinstance(reply, Success) else {}
    listed = []
    for entry in _entries(payload if isinstance(payload, list) else payload.get("values")):
        try:
            rent_id, number = _identifier(entry.get("id")), _phone_number(entry.get("phone", entry.get("number")))
        except ValueError:
            continue
        hours = _count(entry.get("hours"))
        listed.append(
            ListedRent(
                rent_id=rent_id,
                number=number,
                # More than a year is no rent time: Rentdesk estimates one rather than store it.
                hours=hours if hours is not None and 0 < hours <= _MAX_LISTED_HOURS else None,
                price=_first_amount(entry, keys=("price", "cost")),
            )
        )
    return listed


def parse_price(reply: Success | Balance) -> Decimal | None:
    payload = reply.payload if isinstance(reply, Success) and isinstance(reply.payload, dict) else {}
    return _first_amount(payload, keys=("price", "cost"))


def parse_rent_prices(reply: Success | Balance, *, country: int) -> dict[str, ServiceOffer]:
    """getRentPrices (``values.<country>.<service>``) or its fallback's ``services`` map."""
    payload = reply.payload if isinstance(reply, Success) and isinstance(reply.payload, dict) else {}
    values = payload.get("values")
    services = values.get(str(country)) if isinstance(values, dict) else payload.get("services")
    offers = {}
    for code, offer in (services or {}).items() if isinstance(services, dict) else []:
        if isinstance(offer, dict) and isinstance(code, str) and len(code) <= 32:
            quantity = offer.get("count", offer.get("quant"))
            if isinstance(quantity, dict):
                quantity = quantity.get("current")
            offers[code] = ServiceOffer(cost=_first_amount(offer, keys=("cost", "price")), count=_count(quantity))
    return offers


class UnreadableWebhook(ValueError):
    """A webhook body that is not the contract's SMS notification."""


@dataclass(frozen=True)
class WebhookSms:
    rent_id: str
    sms: IncomingSms


def parse_webhook(body: bytes, *, content_type: str, provider_tz: tzinfo) -> WebhookSms:
    """The rent webhook (contract section 5): JSON, or form-encoded with ``sms[...]`` fields, in the
    charset its Content-Type declares (UTF-8 when it declares none, or one Python does not know)."""
    charset = _declared_charset(content_type)
    text = body.decode(charset, errors="replace").strip().lstrip("\ufeff")
    if "json" in content_type or text.startswith("{"):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            raise UnreadableWebhook("malformed JSON") from None
    else:
        # Percent-escapes stand for bytes in the declared charset: "%C2%E0%F8" is "Ваш" in windows-1251.
        form = dict(parse_qsl(text, keep_blank_values=True, encoding=charset, errors="replace"))
        data = {"rentId": form.get("rentId"), "sms": {k[4:-1]: v for k, v in form.items() if k.startswith("sms[")}}
    if not isinstance(data, dict) or not isinstance(data.get("sms"), dict):
        raise UnreadableWebhook("no sms object")
    try:
        rent_id = _identifier(data.get("rentId"))
    except ValueError:
        raise UnreadableWebhook("no readable rentId") from None
    sms = incoming_sms(data["sms"], provider_tz)
    if sms is None:
        raise UnreadableWebhook("the sms object has no text")
    return WebhookSms(rent_id=rent_id, sms=sms)


def _declared_charset(content_type: str) -> str:
    """The first ``charset`` parameter of a Content-Type header, if it names a text charset Python
    has; else UTF-8. A byte transform (zlib, rot13...) cannot decode; requests declaring one are
    refused before they reach here (TextCharsetsOnlyMiddleware), kept ones are read as UTF-8."""
    names = declared_charsets(content_type)
    normalised = known_charset(names[0]) if names else None
    return normalised if normalised in TEXT_CHARSETS else "utf-8"
