"""The one module that talks HTTP to Telegram's Bot API.

Plain ``requests``, not python-telegram-bot or aiogram: both are asyncio libraries that want an event
loop of their own (and PTB an ``Application`` that owns the polling), which sits badly in a Celery task
that reads a batch of updates, answers them and returns. Rentdesk calls six methods with JSON bodies;
one short module does it with the project's habits: explicit (connect, read) timeouts, no redirects, a
cap on the body, no retries of its own.

The bot token is a credential (whoever holds it reads and sends as the bot) and it travels in the URL's
path (``/bot<token>/<method>``). So nothing here quotes a URL: library exceptions are re-raised as
``TelegramError`` built from the exception's type and our own words, ``from None``; ``redact`` removes the
token from any text; and ``rentals.logging`` scrubs ``/bot<token>`` from every log line besides.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from .. import chat_guard

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
CONNECT_TIMEOUT = 5.0
# A reply to anything but a long poll comes at once: past this, Telegram is in trouble.
READ_TIMEOUT = 15.0
USER_AGENT = "Rentdesk/1.0"
# What @BotFather hands out: the bot's id, a colon, 35 characters.
TOKEN_SHAPE = re.compile(r"^[0-9]{1,20}:[A-Za-z0-9_-]{20,100}$")


class TelegramError(Exception):
    """A Bot API call that failed. ``sent`` is False when the request never left; ``retry_after`` is
    Telegram's own "wait N seconds" (HTTP 429); ``status`` its error_code."""

    def __init__(self, detail: str, *, sent: bool = True, status: int | None = None, retry_after: int = 0) -> None:
        super().__init__(detail)
        self.detail, self.sent, self.status, self.retry_after = detail, sent, status, retry_after


@dataclass(frozen=True)
class Bot:
    id: int
    username: str


class TelegramClient:
    def __init__(self, *, token: str, api_url: str) -> None:
        self._token = token
        self._api_url = api_url.rstrip("/")
        # The operator's setting, so it may be on loopback (the stand-in) or a private network (a local
        # Bot API server): reachable by this client's connections only, not by the chat URLs people write.
        self._own_host = tuple(filter(None, [urlsplit(self._api_url).hostname]))
        self._session = requests.Session()
        self._session.mount("http://", requests.adapters.HTTPAdapter(max_retries=0))
        self._session.mount("https://", requests.adapters.HTTPAdapter(max_retries=0))

    def __repr__(self) -> str:
        return f"<TelegramClient {self._api_url}>"

    @property
    def fingerprint(self) -> str:
        """Tells bots apart (a cache key) without their token."""
        return hashlib.sha256(f"{self._api_url} {self._token}".encode()).hexdigest()[:16]

    def get_me(self) -> Bot:
        me = self.call("getMe")
        return Bot(id=int(me["id"]), username=str(me.get("username") or ""))

    def get_updates(self, *, offset: int | None, timeout: int) -> list[dict[str, Any]]:
        """Updates after ``offset``, waiting up to ``timeout`` seconds for one (a long poll)."""
        params = {"timeout": timeout, "allowed_updates": ["message", "callback_query"]}
        if offset is not None:
            params["offset"] = offset
        updates = self.call("getUpdates", params, read_timeout=timeout + READ_TIMEOUT)
        return [update for update in updates if isinstance(update, dict) and "update_id" in update]

    def send_message(self, *, chat_id: int, text: str, buttons: list[list[dict]] | None = None) -> dict[str, Any]:
        """Send HTML text (our own markup; whatever a stranger wrote is escaped by the caller)."""
        params: dict[str, Any] = {"chat_id": chat_id, "text": text, "parse_mode": "HTML",
                                  "link_preview_options": {"is_disabled": True}}  # fmt: skip
        if buttons:
            params["reply_markup"] = {"inline_keyboard": buttons}
        return self.call("sendMessage", params)

    def answer_callback_query(self, *, callback_query_id: str, text: str = "") -> None:
        self.call("answerCallbackQuery", {"callback_query_id": callback_query_id, "text": text})

    def set_webhook(self, *, url: str, secret_token: str) -> None:
        # One delivery at a time: the stored offset answers each update once, in order.
        self.call("setWebhook", {"url": url, "secret_token": secret_token, "max_connections": 1,
                                 "allowed_updates": ["message", "callback_query"]})  # fmt: skip

    def delete_webhook(self) -> None:
        self.call("deleteWebhook", {"drop_pending_updates": False})

    def call(self, method: str, params: dict[str, Any] | None = None, *, read_timeout: float = READ_TIMEOUT) -> Any:
        """The ``result`` of one Bot API method, or ``TelegramError`` (never with the token in it)."""
        status, body = self._post(method, params or {}, read_timeout=read_timeout)
        try:
            answer = json.loads(body)
        except ValueError:
            raise TelegramError(f"{method}: HTTP {status}, not a Bot API answer", status=status) from None
        if not isinstance(answer, dict) or not answer.get("ok"):
            raise _refusal(method, status, answer if isinstance(answer, dict) else {}, self.redact)
        return answer.get("result")

    @sensitive_variables("url")
    def _post(self, method: str, params: dict[str, Any], *, read_timeout: float) -> tuple[int, bytes]:
        url = f"{self._api_url}/bot{self._token}/{method}"
        # Every connection is checked as a chat post's is: the Bot API's host passes as the operator's
        # setting, anything a redirect or a lookup might lead to does not.
        with chat_guard.guarded(also=self._own_host) as guard:
            try:
                with self._session.post(
                    url, json=params, timeout=(CONNECT_TIMEOUT, read_timeout), allow_redirects=False,
                    stream=True, headers={"User-Agent": USER_AGENT},
                ) as response:  # fmt: skip
                    return response.status_code, _read_capped(response)
            except requests.RequestException as exc:
                failure = _transport_error(method, exc, refused=guard.refused)
        # Raised outside the except block: the library's exception quotes the URL, token and all.
        raise failure

    def redact(self, text: str) -> str:
        return text.replace(self._token, "[REDACTED]") if self._token else text


def _transport_error(method: str, exc: requests.RequestException, *, refused: list[str]) -> TelegramError:
    if refused:
        return TelegramError(f"{method}: not sent, {refused[0]}", sent=False)
    never_sent = isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.ReadTimeout)
    logger.warning("Telegram %s: %s", method, type(exc).__name__)
    return TelegramError(f"{method}: Telegram did not answer ({type(exc).__name__})", sent=not never_sent)


def _refusal(method: str, status: int, answer: dict[str, Any], redact: Any) -> TelegramError:
    description = redact(str(answer.get("description") or f"HTTP {status}"))[:300]
    parameters = answer.get("parameters") if isinstance(answer.get("parameters"), dict) else {}
    retry_after = parameters.get("retry_after") if isinstance(parameters.get("retry_after"), int) else 0
    code = answer.get("error_code") if isinstance(answer.get("error_code"), int) else status
    return TelegramError(f"{method}: {description}", status=code, retry_after=max(0, min(retry_after, 3600)))


def _read_capped(response: requests.Response) -> bytes:
    body = bytearray()
    for chunk in response.iter_content(chunk_size=64 * 1024):
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise TelegramError(f"answer larger than {MAX_BODY_BYTES} bytes", status=response.status_code)
    return bytes(body)


def bot_enabled() -> bool:
    return bool(settings.TELEGRAM_BOT_TOKEN)


def telegram_client() -> TelegramClient:
    """The team's bot, as the settings say (callers check ``bot_enabled`` first)."""
    return TelegramClient(token=settings.TELEGRAM_BOT_TOKEN, api_url=settings.TELEGRAM_API_URL)
