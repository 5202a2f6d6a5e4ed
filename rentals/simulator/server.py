"""The simulator's HTTP server: ``/stubs/handler_api.php``, a stand-in for Telegram's Bot API under
``/bot<token>/`` (telegram.py, with its own control plane under ``/_control/telegram/``) and a control
plane under ``/_control/``.

Control plane (JSON in, JSON out; never under handler_api.php):
- ``POST /_control/reset``: forget every account, rent, forced reply and logged request, and the
  Telegram stand-in's updates and messages.
- ``POST /_control/force``: queue a reply for the next request (optionally only for ``action``):
  ``{"token": "NO_BALANCE", "wire": "text|json_message|json_msg|json_error", "status": 200|"mapped"}``,
  or a raw ``{"body": "...", "status": 502, "content_type": "text/html"}`` / ``{"body_base64": ...}``,
  plus ``"delay": seconds`` and ``"headers": {"Retry-After": "3"}``. A delay alone handles the
  request as usual and answers late. ``"handle": true`` carries the request out first (a rent is
  made and charged) and then answers the forced reply instead of the real one: a provider that
  charged and then failed. ``{"action": "getRentNumber"}`` alone takes a turn and changes nothing,
  so a sequence of forced replies can say which of the next requests go wrong.
- ``POST /_control/dialect``: which of the family's forms to speak until the next reset (see
  ``wire.Dialect``): ``{"rent_errors": "text", "error_status": "mapped", "unknown_actions":
  ["continueRentInfo"], "countries_key": "counties", "quant": "object", "lists": "array",
  "values": "array", "early_cancel_denied_seconds": 120}``.
- ``POST /_control/accounts``: ``{"api_key", "balance", "banned_until" (ISO), "inactive", "blocked"}``.
- ``POST /_control/stock``: ``{"country": 1, "service": "tg", "operator": "any", "count": 0}``.
- ``POST /_control/countries``: ``{"count": 180}``: offer that many countries, as SMS.online's catalog
  does (the contract's named ones and generated ids after them), until the next reset; answers
  ``{"status": "ok", "countries": [0, 1, 2, ...]}``. ``runsimulator --countries`` sets the default.
- ``GET /_control/requests``: what handler_api.php received (API keys left out), each with ``at``,
  when it arrived (Unix seconds).
- ``GET /_control/rents``: the rents made so far.
- ``POST /_control/sms``: ``{"rent_id", "text", "sender", "webhook": true, "date"}``: an SMS reaches the rent;
  with ``webhook`` (the default) it is POSTed to the rent's registered URL, as the provider does.
- ``POST /_control/advance``: ``{"seconds": 3600}`` moves the simulator's clock (rents expire).
- ``POST /_control/revoke``: ``{"rent_id"}``: the provider takes the number back and refunds it.
- ``GET /_control/clock``: the simulator's current time.
- ``POST /_control/timezone``: ``{"name": "Europe/Kyiv"}``: the zone its naive dates are written in,
  until the next reset (``runsimulator --timezone`` sets the default).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from . import lifecycle
from .state import COUNTRIES, SimulatorState, countries_offered, forced_reply_from_spec
from .telegram import BotApiError, TelegramStandIn, request_params
from .webhooks import post_sms_webhook
from .wire import Reply, json_reply

logger = logging.getLogger(__name__)

API_PATH = "/stubs/handler_api.php"
# Telegram's Bot API, stood in for (telegram.py): /bot<token>/<method>.
BOT_PATH = re.compile(r"^/bot([^/]*)/([A-Za-z]+)$")
MAX_REQUEST_BYTES = 64 * 1024


class SimulatorHandler(BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes: with Nagle's algorithm the body waits for the
    # client's delayed ACK, 40 ms a request on a kept-alive connection (a catalog pass is 1,600 of them).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        # The default logs the request line, whose query string holds the API key.
        pass

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        try:
            body = self._read_body()
            if url.path == API_PATH:
                self._api(dict(parse_qsl(url.query)) | dict(parse_qsl(body.decode("utf-8", "replace"))))
            elif match := BOT_PATH.match(url.path):
                self._send(self._bot_api(match.group(1), match.group(2), url.query, body))
            elif url.path.startswith("/_control/telegram/"):
                spec = json.loads(body or b"{}")
                self._send(self.server.telegram.control(url.path.removeprefix("/_control/telegram/"), spec, url.query))
            elif url.path.startswith("/_control/"):
                self._send(self._control(url.path.removeprefix("/_control/"), body))
            else:
                self._send(json_reply({"error": "not found"}, status=404))
        except Exception as exc:
            # Whatever a test or a demo sends, it gets an answer that says what was wrong.
            self._send(json_reply({"error": f"{type(exc).__name__}: {exc}"}, status=400))

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 <= length <= MAX_REQUEST_BYTES:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def _api(self, params: dict[str, str]) -> None:
        state = self.server.state
        with state.lock:
            forced = state.take_forced(params.get("action", ""))
        if forced is not None and forced.reply is not None:
            state.log_request(params)
            if forced.handle:
                state.handle(params, logged=True)  # acted upon (a rent charged); its real answer is lost
            time.sleep(forced.delay)
            self._send(forced.reply)
            return
        reply = state.handle(params)
        logger.info("simulator: %s -> %s", params.get("action", "?"), reply.body[:80].decode("utf-8", "replace"))
        if forced is not None:
            time.sleep(forced.delay)
        self._send(reply)

    def _bot_api(self, token: str, method: str, query: str, body: bytes) -> Reply:
        try:
            params = request_params(query, body, self.headers.get("Content-Type") or "")
        except (BotApiError, ValueError):
            answer = {"ok": False, "error_code": 400, "description": "Bad Request: bad parameters"}
            return json_reply(answer, status=400)
        return self.server.telegram.api(token, method, params)

    def _control(self, command: str, body: bytes) -> Reply:
        spec: dict[str, Any] = json.loads(body or b"{}")
        if not isinstance(spec, dict):
            raise ValueError("the control plane takes a JSON object")
        if command == "sms":
            return self._inject_sms(spec)
        state = self.server.state
        with state.lock:
            if command == "reset":
                self.server.state = self.server.new_state()
                self.server.telegram.close()
                self.server.telegram = TelegramStandIn()
            elif command == "timezone":  # until the next reset
                state.timezone = ZoneInfo(str(spec["name"]))
            elif command == "dialect":
                state.dialect.update(spec)
            elif command == "force":
                state.forced.append(forced_reply_from_spec(spec))
            elif command == "accounts":
                _set_account(state, spec)
            elif command == "countries":  # until the next reset
                state.countries = countries_offered(int(spec["count"]))
                return json_reply({"status": "ok", "countries": list(state.countries)})
            elif command == "stock":
                key = (int(spec["country"]), str(spec["service"]), str(spec.get("operator", "any")))
                state.stock[key] = int(spec["count"])
            elif command == "advance":
                state.clock_offset += timedelta(seconds=float(spec["seconds"]))
            elif command == "revoke":
                lifecycle.revoke(state, int(spec["rent_id"]))
            elif command == "requests":
                return json_reply(state.requests)
            elif command == "rents":
                return json_reply([_jsonable(asdict(rent)) for rent in state.rents.values()])
            elif command == "clock":
                return json_reply({"now": state.now().isoformat()})
            else:
                return json_reply({"error": f"unknown control command {command!r}"}, status=404)
        return json_reply({"status": "ok"})

    def _inject_sms(self, spec: dict[str, Any]) -> Reply:
        at = datetime.fromisoformat(spec["date"]) if spec.get("date") else None
        state = self.server.state
        with state.lock:
            url, payload = lifecycle.inject_sms(
                state, int(spec["rent_id"]), str(spec.get("sender", "SMS.online")), str(spec["text"]),
                at=at.replace(tzinfo=UTC) if at and at.tzinfo is None else at,
            )  # fmt: skip
        # Outside the lock: a slow receiver must not stall every other request to the simulator.
        delivered = post_sms_webhook(url, payload) if url and spec.get("webhook", True) else None
        return json_reply({"status": "ok", "webhook_status": delivered})

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        # The client may have given up already (a read timeout): exactly what some tests arrange.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(reply.body)


def _set_account(state: SimulatorState, spec: dict[str, Any]) -> None:
    account = state.account_for(str(spec["api_key"]))
    if "balance" in spec:
        account.balance = Decimal(str(spec["balance"]))
    if "banned_until" in spec:
        until = datetime.fromisoformat(spec["banned_until"]) if spec["banned_until"] else None
        account.banned_until = until.replace(tzinfo=UTC) if until and until.tzinfo is None else until
    for flag in ("inactive", "blocked"):
        if flag in spec:
            setattr(account, flag, bool(spec[flag]))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items() if key != "api_key"}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if isinstance(value, Decimal) else value


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], *, provider_tz: tzinfo = UTC, countries: int = len(COUNTRIES)) -> None:
        super().__init__(address, SimulatorHandler)
        self.provider_tz = provider_tz
        self.countries = countries_offered(countries)
        self.state = self.new_state()
        self.telegram = TelegramStandIn()

    def new_state(self) -> SimulatorState:
        """A fresh provider, as at start and after a reset."""
        return SimulatorState(timezone=self.provider_tz, countries=dict(self.countries))

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return self.base_url + API_PATH


def start_in_thread(host: str = "127.0.0.1", port: int = 0) -> SimulatorServer:
    """Start a simulator on a background thread (port 0: any free port); stop it with ``shutdown()``."""
    server = SimulatorServer((host, port))
    threading.Thread(target=server.serve_forever, name="sms-online-simulator", daemon=True).start()
    return server
