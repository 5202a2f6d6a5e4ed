"""A stand-in for Telegram's Bot API, served by the simulator under ``/bot<token>/<method>``.

What Rentdesk's bot uses, as Telegram answers it: ``getMe``, ``getUpdates`` (a long poll: ``timeout``
seconds at most, ``offset`` confirms what came before it), ``sendMessage`` (HTML checked as Telegram
does, inline keyboards, only to a chat that has written to the bot), ``answerCallbackQuery``,
``setWebhook`` / ``deleteWebhook`` / ``getWebhookInfo`` (while a webhook is set, ``getUpdates`` answers
409 and each update is POSTed to it with the secret header). Every answer is Telegram's envelope
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": ..., "description": ...}``.

Control plane, for tests and for a person trying ``make run`` (``/_control/telegram/...``):
- ``POST message`` ``{"chat_id", "text", "first_name", "language_code"}``: that chat writes to the bot
  (``/start <code>``, ``/numbers``...); answers ``{"update_id", "webhook_status"}``.
- ``POST tap`` ``{"chat_id", "message_id", "data"}``: a tap on a button of a message the bot sent.
- ``GET sent`` (``?chat_id=``): what the bot sent, oldest first. ``GET calls``: every method called
  (``?method=``), its parameters, never the token. ``GET state``: webhook, updates not yet confirmed,
  callback queries answered.
- ``POST force`` ``{"method", "error_code": 429, "description", "retry_after"}``: the next call of that
  method fails so. ``POST bot`` ``{"username", "token"}``: the bot's name; with ``token``, any other
  token is answered 401, as Telegram answers a revoked one.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import parse_qsl

from .wire import Reply, json_reply

DEFAULT_USERNAME = "rentdesk_demo_bot"
BOT_ID = 7000000001
MAX_POLL_SECONDS = 50
MAX_TEXT = 4096
TOKEN_SHAPE = re.compile(r"^[0-9]{1,20}:[A-Za-z0-9_-]{20,100}$")
_HTML_TAG = re.compile(r"<(/?)([a-z-]+)(\s[^<>]*)?>")
_HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "a", "blockquote",
              "tg-spoiler", "span"}  # fmt: skip
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);")


class BotApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int = 0) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


class TelegramStandIn:
    """One bot's side of Telegram: the updates waiting for it and the messages it sent."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.username, self.token = DEFAULT_USERNAME, ""
        self.updates: list[dict[str, Any]] = []
        self.next_update_id, self.next_message_id = 1, 1
        self.sent: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.answered: list[dict[str, Any]] = []
        self.forced: list[dict[str, Any]] = []
        self.webhook: dict[str, str] = {}
        self.known_chats: set[int] = set()
        self.closed = False

    def close(self) -> None:
        """Wake every long poll (the simulator was reset)."""
        with self.changed:
            self.closed = True
            self.changed.notify_all()

    # --- the Bot API -------------------------------------------------------------------------------

    def api(self, token: str, method: str, params: dict[str, Any]) -> Reply:
        try:
            if not TOKEN_SHAPE.match(token) or (self.token and token != self.token):
                raise BotApiError(401, "Unauthorized")
            with self.changed:
                self.calls.append({"method": method, "params": params, "at": time.time()})
                self._take_forced(method)
            if method == "getUpdates":
                return _ok(self._get_updates(params))
            with self.changed:
                return _ok(self._call(method, params))
        except BotApiError as error:
            answer = {"ok": False, "error_code": error.code, "description": error.description}
            if error.retry_after:
                answer["parameters"] = {"retry_after": error.retry_after}
            return json_reply(answer, status=error.code)

    def _take_forced(self, method: str) -> None:
        for spec in self.forced:
            if spec.get("method") in (None, method):
                self.forced.remove(spec)
                code = int(spec.get("error_code", 500))
                raise BotApiError(code, str(spec.get("description", "Internal Server Error")),
                                  int(spec.get("retry_after", 0)))  # fmt: skip

    def _call(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return {"id": BOT_ID, "is_bot": True, "first_name": "Rentdesk", "username": self.username}
        if method == "sendMessage":
            return self._send_message(params)
        if method == "answerCallbackQuery":
            self.answered.append({"callback_query_id": str(params.get("callback_query_id", "")),
                                  "text": str(params.get("text", ""))})  # fmt: skip
            return True
        if method == "setWebhook":
            self.webhook = {"url": str(params.get("url", "")), "secret_token": str(params.get("secret_token", ""))}
            return True
        if method == "deleteWebhook":
            self.webhook = {}
            return True
        if method == "getWebhookInfo":
            return {"url": self.webhook.get("url", ""), "pending_update_count": len(self.updates)}
        raise BotApiError(404, "Not Found")

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        deadline = time.monotonic() + min(max(float(params.get("timeout", 0)), 0), MAX_POLL_SECONDS)
        offset = int(params.get("offset", 0) or 0)
        with self.changed:
            if self.webhook:
                raise BotApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                       "use deleteWebhook to delete the webhook first")  # fmt: skip
            if offset:
                self.updates = [update for update in self.updates if update["update_id"] >= offset]
            while not self.updates and not self.closed and (left := deadline - time.monotonic()) > 0:
                self.changed.wait(left)
            return list(self.updates[: int(params.get("limit", 100) or 100)])

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id, text = _chat_id(params.get("chat_id")), str(params.get("text", ""))
        if chat_id not in self.known_chats:
            raise BotApiError(400, "Bad Request: chat not found")
        if not text.strip():
            raise BotApiError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            raise BotApiError(400, "Bad Request: message is too long")
        if params.get("parse_mode") == "HTML":
            _check_html(text)
        markup = _reply_markup(params.get("reply_markup"))
        message = {"message_id": self.next_message_id, "date": int(time.time()), "chat": {"id": chat_id,
                   "type": "private"}, "text": text, "parse_mode": params.get("parse_mode"),
                   "reply_markup": markup}  # fmt: skip
        self.next_message_id += 1
        self.sent.append(message)
        return {key: value for key, value in message.items() if key != "parse_mode"}

    # --- the control plane -------------------------------------------------------------------------

    def control(self, command: str, spec: dict[str, Any], query: str) -> Reply:
        filters = dict(parse_qsl(query))
        if command == "message":
            return self._arrive(spec, self._message_update(spec))
        if command == "tap":
            return self._arrive(spec, self._tap_update(spec))
        with self.changed:
            if command == "sent":
                chat = filters.get("chat_id")
                return json_reply([m for m in self.sent if chat is None or str(m["chat"]["id"]) == chat])
            if command == "calls":
                return json_reply([c for c in self.calls if filters.get("method") in (None, c["method"])])
            if command == "state":
                return json_reply({"webhook": self.webhook, "updates": self.updates, "answered": self.answered})
            if command == "force":
                self.forced.append(spec)
            elif command == "bot":
                self.username = str(spec.get("username", self.username))
                self.token = str(spec.get("token", self.token))
            else:
                return json_reply({"error": f"unknown control command 'telegram/{command}'"}, status=404)
        return json_reply({"status": "ok"})

    def _message_update(self, spec: dict[str, Any]) -> dict[str, Any]:
        chat_id, text = _chat_id(spec.get("chat_id")), str(spec["text"])
        message = {"message_id": 100_000 + self.next_message_id, "from": _person(chat_id, spec),
                   "chat": {"id": chat_id, "type": "private"}, "date": int(time.time()), "text": text}  # fmt: skip
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return {"message": message}

    def _tap_update(self, spec: dict[str, Any]) -> dict[str, Any]:
        chat_id, data = _chat_id(spec.get("chat_id")), str(spec["data"])
        with self.changed:
            message = next((m for m in self.sent if m["message_id"] == int(spec["message_id"])), None)
        buttons = [b for row in ((message or {}).get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
        if message is None or message["chat"]["id"] != chat_id or data not in [b.get("callback_data") for b in buttons]:
            raise ValueError("no such button on a message the bot sent to this chat")
        query_id = f"cb{int(time.time() * 1000)}{message['message_id']}"
        return {"callback_query": {"id": query_id, "from": _person(chat_id, spec), "chat_instance": str(chat_id),
                                   "message": message, "data": data}}  # fmt: skip

    def _arrive(self, spec: dict[str, Any], update: dict[str, Any]) -> Reply:
        with self.changed:
            self.known_chats.add(_chat_id(spec.get("chat_id")))
            update = {"update_id": self.next_update_id, **update}
            self.next_update_id += 1
            webhook = dict(self.webhook)
            if not webhook:
                self.updates.append(update)
                self.changed.notify_all()
        # Outside the lock, as the SMS webhook: a slow receiver must not stall the bot's other calls.
        status = _post_update(webhook, update) if webhook else None
        return json_reply({"update_id": update["update_id"], "webhook_status": status})


def _ok(result: Any) -> Reply:
    return json_reply({"ok": True, "result": result})


def _chat_id(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BotApiError(400, "Bad Request: chat not found") from None


def _person(chat_id: int, spec: dict[str, Any]) -> dict[str, Any]:
    return {"id": chat_id, "is_bot": False, "first_name": str(spec.get("first_name", "Olena")),
            "language_code": str(spec.get("language_code", "en"))}  # fmt: skip


def _check_html(text: str) -> None:
    """Refuse what Telegram refuses in HTML mode: an unknown or unclosed tag, a bare ``<`` or ``&``."""
    open_tags: list[str] = []
    for match in _HTML_TAG.finditer(text):
        closing, name = match.group(1), match.group(2)
        if name not in _HTML_TAGS:
            raise BotApiError(400, f'Bad Request: can\'t parse entities: unsupported start tag "{name}"')
        if not closing:
            open_tags.append(name)
        elif not open_tags or open_tags.pop() != name:
            raise BotApiError(400, f'Bad Request: can\'t parse entities: unexpected end tag "{name}"')
    outside = _ENTITY.sub("", _HTML_TAG.sub("", text))
    if open_tags or "<" in outside or ">" in outside or "&" in outside:
        raise BotApiError(400, "Bad Request: can't parse entities: unescaped character or unclosed tag")


def _reply_markup(markup: Any) -> dict[str, Any] | None:
    if isinstance(markup, str):
        markup = json.loads(markup)
    if markup is None:
        return None
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not str(button.get("text", "")) or len(str(button.get("callback_data", "")).encode()) > 64:
                raise BotApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup


def _post_update(webhook: dict[str, str], update: dict[str, Any]) -> int | None:
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": webhook.get("secret_token", "")}
    request = urllib.request.Request(  # noqa: S310 - the URL the bot set; http(s) checked below
        webhook["url"], data=json.dumps(update).encode(), headers=headers, method="POST"
    )
    if not webhook["url"].startswith(("http://", "https://")):
        return None
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


def request_params(query: str, body: bytes, content_type: str) -> dict[str, Any]:
    """A Bot API request's parameters, however sent: JSON body, form body or query string."""
    params: dict[str, Any] = dict(parse_qsl(query))
    if body and "json" in content_type:
        loaded = json.loads(body)
        if not isinstance(loaded, dict):
            raise BotApiError(400, "Bad Request: parameters must be a JSON object")
        params.update(loaded)
    elif body:
        params.update(parse_qsl(body.decode("utf-8", "replace")))
    return params
