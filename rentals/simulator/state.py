"""The simulated provider: accounts, stock, prices and rents, guarded by one lock.

Special API keys (documented in docs/simulator.md) put an account in a state on first use:
``sim-bad-key…`` is refused with BAD_KEY, ``sim-banned…`` is banned for a day, ``sim-inactive…``
is inactive, ``sim-no-balance…`` has no money, ``sim-blocked…`` answers CHANNELS_LIMIT.
Any other key is a new account with ``DEFAULT_BALANCE``.
"""

from __future__ import annotations

import base64
import dataclasses
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal

from . import lifecycle
from .wire import Dialect, Reply, error_reply, text_reply

DEFAULT_BALANCE = Decimal("100.00")
DEFAULT_STOCK = 50
MAX_LOGGED_REQUESTS = 10_000
RENT_HOURS = (4, 8, 12, 24, 72, 168, 360, 720, 2160)
SERVICES = {"tg": "Telegram", "wa": "WhatsApp", "vk": "VKontakte", "go": "Google", "full": "Any sender", "ot": "Other"}
COUNTRIES = {0: "7", 1: "380", 2: "77", 6: "62", 16: "44", 22: "91", 43: "49", 187: "1"}  # id -> dialling code
# About as many countries as SMS.online's catalog holds (``/_control/countries``, ``runsimulator --countries``).
PROVIDER_SIZED_COUNTRIES = 180
OPERATORS = {0: {"mts", "tele2", "beeline", "megafon"}, 1: {"kyivstar", "life", "vodafone"}}
# Price in USD by rent time; "full" (any sender) costs three times as much.
PRICES = {
    4: "0.30",
    8: "0.45",
    12: "0.60",
    24: "0.90",
    72: "2.20",
    168: "4.50",
    360: "8.00",
    720: "14.00",
    2160: "35.00",
}


_ids_issued_up_to = 0


def _rent_id_base() -> int:
    """Where a new state starts numbering rents: past the clock and past any id issued before,
    so a restarted or reset simulator never hands out an id it gave earlier."""
    global _ids_issued_up_to
    _ids_issued_up_to = max(int(time.time() * 1000), _ids_issued_up_to + 1_000_000)
    return _ids_issued_up_to


@dataclass
class SimAccount:
    balance: Decimal = DEFAULT_BALANCE
    banned_until: datetime | None = None
    inactive: bool = False
    blocked: bool = False


@dataclass
class SimRent:
    id: int
    api_key: str
    number: str
    service: str
    country: int
    operator: str
    hours: int
    cost: Decimal  # the price of the last order (the rent, or the extension that re-ordered it)
    created_at: datetime
    end_date: datetime
    webhook_url: str | None
    state: str = "active"
    sms: list[SimSms] = field(default_factory=list)  # oldest first
    paid: Decimal = Decimal(0)  # the rent and its extensions: what a cancel or a revoke refunds

    def state_at(self, now: datetime) -> str:
        """Rents end by themselves at their end date."""
        return "finished" if self.state == "active" and now >= self.end_date else self.state


@dataclass
class SimSms:
    sender: str
    text: str
    date: datetime


@dataclass
class ForcedReply:
    reply: Reply | None  # None: handle the request as usual, then apply the delay
    delay: float = 0.0
    action: str | None = None  # only for this action; None for any
    # Carry the request out first (a rent is made and charged), then answer ``reply`` instead: the
    # provider that acted and then failed, as a crash or a proxy error after the work does.
    handle: bool = False


@dataclass
class SimulatorState:
    lock: threading.RLock = field(default_factory=threading.RLock)
    accounts: dict[str, SimAccount] = field(default_factory=dict)
    stock: dict[tuple[int, str, str], int] = field(default_factory=dict)
    rents: dict[int, SimRent] = field(default_factory=dict)
    forced: deque[ForcedReply] = field(default_factory=deque)
    requests: list[dict[str, object]] = field(default_factory=list)
    clock_offset: timedelta = timedelta(0)
    timezone: tzinfo = UTC  # the provider writes naive dates in this zone
    next_rent_id: int = field(default_factory=lambda: _rent_id_base())
    rng: random.Random = field(default_factory=random.Random)
    dialect: Dialect = field(default_factory=Dialect)
    # The countries it offers (id -> dialling code): the contract's named ones unless told otherwise.
    countries: dict[int, str] = field(default_factory=lambda: dict(COUNTRIES))

    def now(self) -> datetime:
        return datetime.now(UTC) + self.clock_offset

    def wall_clock(self, moment: datetime, date_format: str = "%Y-%m-%d %H:%M:%S") -> str:
        """How the provider writes a moment: naive, in its own timezone."""
        return moment.astimezone(self.timezone).strftime(date_format)

    def account_for(self, api_key: str) -> SimAccount:
        if api_key not in self.accounts:
            self.accounts[api_key] = _account_from_special_key(api_key, self.now())
        return self.accounts[api_key]

    def take_forced(self, action: str) -> ForcedReply | None:
        for forced in list(self.forced):
            if forced.action in (None, action):
                self.forced.remove(forced)
                return forced
        return None

    # --- handler_api.php actions -------------------------------------------------------------

    def log_request(self, params: dict[str, str]) -> None:
        """Keep what was asked (never the key), with the moment it arrived (Unix seconds, ``at``)."""
        with self.lock:
            self.requests.append({**{k: v for k, v in params.items() if k != "api_key"}, "at": time.time()})
            del self.requests[:-MAX_LOGGED_REQUESTS]

    def handle(self, params: dict[str, str], *, logged: bool = False) -> Reply:
        action = params.get("action", "")
        api_key = params.get("api_key", "")
        with self.lock:
            if not logged:
                self.log_request(params)
            if not api_key:
                return self.dialect.generic_error("NO_KEY")
            refusal = self._account_refusal(api_key, action)
            if refusal:
                return refusal
            handler = ACTIONS.get(action)
            if handler is None or action in self.dialect.unknown_actions:
                return self.dialect.generic_error("BAD_ACTION")
            return handler(self, api_key, params)

    def _account_refusal(self, api_key: str, action: str) -> Reply | None:
        if api_key.startswith("sim-bad-key"):
            return self.dialect.generic_error("BAD_KEY")
        account = self.account_for(api_key)
        if account.banned_until and account.banned_until > self.now():
            return self.dialect.generic_error(f"BANNED:'{php_date(account.banned_until.astimezone(self.timezone))}'")
        if account.inactive:
            return self.dialect.generic_error("ACCOUNT_INACTIVE")
        if account.blocked and action in SPENDING_ACTIONS:
            # A blocked key still reads its balance and its rents; it only cannot spend.
            return self.dialect.rent_error("CHANNELS_LIMIT")
        return None

    def get_balance(self, api_key: str, params: dict[str, str]) -> Reply:
        return text_reply(f"ACCESS_BALANCE:{self.account_for(api_key).balance:.2f}")

    def get_rent_number(self, api_key: str, params: dict[str, str]) -> Reply:
        service = params.get("service", "")
        if service not in SERVICES:
            return self.dialect.rent_error("BAD_SERVICE")
        where = country_and_hours(self, params)
        if isinstance(where, Reply):
            return where
        country, hours = where
        operator = params.get("operator") or "any"
        if operator != "any" and not set(operator.split(",")) <= OPERATORS.get(country, set()):
            return self.dialect.rent_error("WRONG_OPERATOR")
        cost = price_of(service, hours)
        account = self.account_for(api_key)
        if account.balance < cost:
            return self.dialect.rent_error("NO_BALANCE")
        stock_key = (country, service, operator)
        if self.stock.get(stock_key, DEFAULT_STOCK) <= 0:
            return self.dialect.rent_error("NO_NUMBERS")
        self.stock[stock_key] = self.stock.get(stock_key, DEFAULT_STOCK) - 1
        account.balance -= cost
        rent = self._new_rent(api_key, service, country, operator, hours, cost, params.get("url") or None)
        return lifecycle.phone_reply(self, rent)

    def stock_of(self, country: int, service: str, operator: str = "any") -> int:
        return self.stock.get((country, service, operator), DEFAULT_STOCK)

    def _new_rent(
        self, api_key: str, service: str, country: int, operator: str, hours: int, cost: Decimal, url: str | None
    ) -> SimRent:
        now = self.now().replace(microsecond=0)
        prefix = self.countries[country]
        number = prefix + "".join(str(self.rng.randrange(10)) for _ in range(12 - len(prefix)))
        rent = SimRent(
            id=self.next_rent_id,
            api_key=api_key,
            number=number,
            service=service,
            country=country,
            operator=operator,
            hours=hours,
            cost=cost,
            created_at=now,
            end_date=now + timedelta(hours=hours),
            webhook_url=url,
            paid=cost,
        )
        self.rents[rent.id] = rent
        self.next_rent_id += 1
        return rent


def countries_offered(count: int) -> dict[int, str]:
    """``count`` countries, as a provider-sized catalog has them: the contract's named ones (their
    ids and dialling codes) and the lowest free ids after them, each with a made-up dialling code."""
    if not len(COUNTRIES) <= count <= 1000:
        raise ValueError(f"count must be between {len(COUNTRIES)} and 1000")
    offered = dict(COUNTRIES)
    free_ids = (country for country in range(count * 2) if country not in offered)
    while len(offered) < count:
        country = next(free_ids)
        offered[country] = str(100 + country)
    return dict(sorted(offered.items()))


def country_and_hours(
    state: SimulatorState, params: dict[str, str], *, default_country: int | None = None
) -> tuple[int, int] | Reply:
    """The request's country and rent time (4 hours when none is named), or the error that refuses them."""
    text = params.get("country", "")
    country = int(text) if text.isascii() and text.isdigit() and int(text) in state.countries else None
    if not text and default_country is not None:
        country = default_country
    if country is None:
        return state.dialect.rent_error("BAD_COUNTRY")
    hours = hours_param(params, default=4)
    if hours is None:
        return state.dialect.rent_error("INVALID_TIME")
    return country, hours


def hours_param(params: dict[str, str], *, default: int | None = None) -> int | None:
    """The rent time, whichever name the client used (``rent_time``, ``time`` or ``hours``); None
    when it is not one the provider offers."""
    text = params.get("rent_time") or params.get("time") or params.get("hours") or ""
    if not text:
        return default
    return int(text) if text.isascii() and text.isdigit() and int(text) in RENT_HOURS else None


def price_of(service: str, hours: int) -> Decimal:
    return Decimal(PRICES[hours]) * (3 if service == "full" else 1)


def php_date(moment: datetime) -> str:
    """PHP's 'Y-n-j H-i-s': month and day without leading zeros, the time dashed."""
    return f"{moment.year}-{moment.month}-{moment.day} {moment:%H-%M-%S}"


def _account_from_special_key(api_key: str, now: datetime) -> SimAccount:
    if api_key.startswith("sim-banned"):
        return SimAccount(banned_until=(now + timedelta(days=1)).replace(microsecond=0))
    if api_key.startswith("sim-inactive"):
        return SimAccount(inactive=True)
    if api_key.startswith("sim-no-balance"):
        return SimAccount(balance=Decimal("0.00"))
    if api_key.startswith("sim-blocked"):
        return SimAccount(blocked=True)
    return SimAccount()


# The actions that spend money: the only ones a blocked key (CHANNELS_LIMIT) is refused.
SPENDING_ACTIONS = {"getRentNumber", "continueRentNumber"}
ACTIONS = {
    "getRentNumber": SimulatorState.get_rent_number,
    "getBalance": SimulatorState.get_balance,
    "getRentPrices": lifecycle.get_rent_prices,
    "getRentServicesAndCountries": lifecycle.get_rent_services_and_countries,
    "getRentStatus": lifecycle.get_rent_status,
    "setRentStatus": lifecycle.set_rent_status,
    "getRentList": lifecycle.get_rent_list,
    "continueRentNumber": lifecycle.continue_rent_number,
    "continueRentInfo": lifecycle.continue_rent_info,
    "getContinueRentPriceNumber": lifecycle.get_continue_rent_price_number,
}


def forced_reply_from_spec(spec: dict[str, object]) -> ForcedReply:
    """Build a forced reply from a control-plane request (see server.py for the fields)."""
    delay = float(spec.get("delay", 0) or 0)
    if not 0 <= delay <= 600:
        raise ValueError("delay must be between 0 and 600 seconds")
    action = spec.get("action")
    status = spec.get("status", 200)
    if status != "mapped" and not (isinstance(status, int) and 200 <= status <= 599):
        raise ValueError('status must be an HTTP status from 200 to 599, or "mapped"')
    reply: Reply | None
    content_type = str(spec.get("content_type", "text/plain; charset=utf-8"))
    if "body_base64" in spec:
        reply = Reply(int(status), base64.b64decode(str(spec["body_base64"])), content_type)  # type: ignore[arg-type]
    elif "body" in spec:
        reply = Reply(int(status), str(spec["body"]).encode(), content_type)  # type: ignore[arg-type]
    elif "token" in spec:
        reply = error_reply(str(spec["token"]), wire=str(spec.get("wire", "text")), status=status)  # type: ignore[arg-type]
    else:
        reply = None
    headers = spec.get("headers") or {}
    if not isinstance(headers, dict):
        raise ValueError('headers must be an object such as {"Retry-After": "3"}')
    if reply is not None and headers:
        reply = dataclasses.replace(reply, headers=tuple((str(k), str(v)) for k, v in headers.items()))
    handle = spec.get("handle", False)
    if not isinstance(handle, bool):
        raise ValueError("handle must be true or false")
    return ForcedReply(reply=reply, delay=delay, action=str(action) if action else None, handle=handle)
