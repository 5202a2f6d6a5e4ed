"""The one module that talks HTTP to SMS.online.

Rules it keeps (contract sections 1 and 6):
- GET with explicit (connect, read) timeouts, no redirects, a cap on the body size;
- never a retry: getRentNumber spends money and has no idempotency key, and urllib3 would happily
  retry a GET, so the adapter is mounted with retries switched off;
- the API key travels only in the outgoing query string: every message we raise or log is built
  without the URL, and library exceptions are re-raised as our own, redacted, ``from None``.
"""

from __future__ import annotations

import functools
import logging
import re
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, quote_plus

import requests
from django.views.decorators.debug import sensitive_variables
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from .destinations import refusal_as_written, refusal_for_addresses, resolve, url_origin
from .errors import (
    DestinationRefused,
    KeyNotForThisUrl,
    NoNumbers,
    ProviderError,
    ProviderUnreachable,
    RateLimited,
    RentStatusReply,
    UnknownAction,
    UnknownOutcome,
)
from .parsing import (
    STATUS_TOKENS,
    Balance,
    ListedRent,
    RentedPhone,
    RentStatus,
    ServiceOffer,
    Success,
    parse_price,
    parse_rent_list,
    parse_rent_prices,
    parse_rent_status,
    parse_rented_phone,
    parse_reply,
)

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
STATUS_PAGE_SIZE = 10
_URL_QUERY = re.compile(r"\?[^\s'\")]*")
USER_AGENT = "Rentdesk/1.0"
# HTTP 429 without a readable Retry-After waits this long; a longer wait than the cap is not believed
# (a broken or hostile header must not silence an account for days).
DEFAULT_RETRY_AFTER = timedelta(seconds=5)
MAX_RETRY_AFTER = timedelta(hours=1)

# Operations the family offers under more than one action name: the current name first, then the
# older one, tried when the first answers BAD_ACTION (contract section 4).
ACTION_NAMES = {
    "extension_price": ("continueRentInfo", "getContinueRentPriceNumber"),
    "rent_prices": ("getRentPrices", "getRentServicesAndCountries"),
}


@dataclass(frozen=True)
class ClientConfig:
    api_url: str
    connect_timeout: float
    read_timeout: float
    provider_tz: tzinfo
    # Where the key was entered for (``scheme://host:port``): it is sent nowhere else. None: the key
    # came with this very URL (an account keeps the two apart, so it always says).
    key_origin: str | None = None
    # Hosts that may resolve to loopback or private addresses (SMSONLINE_ALLOWED_HOSTS).
    allowed_hosts: frozenset[str] = frozenset()
    require_https: bool = False


class AccountMemory:
    """What the client learns about the provider for one account, kept between clients: which of the
    family's action names it answers, and until when it asked the account to wait (HTTP 429).

    This one keeps it in memory; the services pass one that also saves it with the account.
    """

    def __init__(self, *, actions: dict[str, str] | None = None, wait_until: datetime | None = None) -> None:
        self.actions = dict(actions or {})
        self.wait_until = wait_until

    def action_learned(self, operation: str, action: str) -> None:
        self.actions[operation] = action

    def rate_limited(self, until: datetime) -> None:
        self.wait_until = until

    def answered(self, action: str, outcome: str) -> None:
        """A request that left (or failed to reach the provider) and its outcome: ``OK`` or the error's
        token. This one forgets it; the services' counts it for monitoring."""


@functools.lru_cache(maxsize=64)
def _environment_settings(api_url: str) -> dict[str, Any]:
    """The proxies and certificate bundle requests takes from the environment for ``api_url``, as a
    session that trusts it would at each call (netrc credentials are never wanted: the key is the
    query's). Keyed by the URL alone, which holds no key."""
    found = requests.Session().merge_environment_settings(api_url, {}, None, None, None)
    return {"proxies": found["proxies"], "verify": found["verify"]}


class SmsOnlineClient:
    def __init__(self, *, api_key: str, config: ClientConfig, memory: AccountMemory | None = None) -> None:
        self._api_key = api_key
        self._config = config
        self._memory = memory or AccountMemory()
        self._session = requests.Session()
        # What requests would read from the environment at every call (proxies, NO_PROXY, a CA bundle,
        # ~/.netrc) is read once per process instead: the reading cost a rent as much as the database's
        # two writes. A process's environment does not change while it runs.
        self._session.trust_env = False
        self._environment = _environment_settings(config.api_url)
        no_retries = _VettingAdapter(
            allowed_hosts=config.allowed_hosts, plain_http_loopback_only=config.require_https, max_retries=0
        )
        self._session.mount("http://", no_retries)
        self._session.mount("https://", no_retries)

    def __repr__(self) -> str:
        return f"<SmsOnlineClient {self._config.api_url}>"

    def rent_number(
        self, *, service: str, country: int, operator: str, hours: int, webhook_url: str | None
    ) -> RentedPhone:
        """Rent a number. Spends money: the caller records the attempt first and never repeats it."""
        params: dict[str, Any] = {
            "service": service,
            "country": country,
            "operator": operator or "any",
            # Members of the handler_api family read one or the other; both carry the same value.
            "rent_time": hours,
            "time": hours,
        }
        if webhook_url:
            params["url"] = webhook_url
        reply = self._call("getRentNumber", params)
        return parse_rented_phone(reply, provider_tz=self._config.provider_tz)

    def get_rent_status(self, *, rent_id: str, page: int = 0, size: int = STATUS_PAGE_SIZE) -> RentStatus:
        """One page of the rent's SMS, newest first; a waiting or ended rent answers with a token."""
        try:
            reply = self._call("getRentStatus", {"id": rent_id, "page": page, "size": size})
        except RentStatusReply as status:
            return RentStatus(state=STATUS_TOKENS[status.token], messages=[], total=0)
        return parse_rent_status(reply, provider_tz=self._config.provider_tz)

    def set_rent_status(self, *, rent_id: str, finish: bool) -> None:
        """Finish (status 1) or cancel with a refund (status 2, only within 20 minutes of renting)."""
        self._call("setRentStatus", {"id": rent_id, "status": 1 if finish else 2})

    def get_rent_list(self, *, page: int = 0) -> list[ListedRent]:
        """The account's latest rents, newest first, a page of the provider's size (about ten);
        ``NO_NUMBERS`` means none (or no such page)."""
        try:
            # No page size is sent: a provider that caps it would skip rents between pages.
            reply = self._call("getRentList", {"page": page} if page else {})
        except NoNumbers:
            return []
        return parse_rent_list(reply)

    def continue_rent(self, *, rent_id: str, hours: int) -> RentedPhone:
        """Extend a rent. Spends money: recorded first by the caller, never repeated. The id may change."""
        reply = self._call("continueRentNumber", {"id": rent_id, "rent_time": hours, "time": hours})
        return parse_rented_phone(reply, provider_tz=self._config.provider_tz)

    def get_continue_price(self, *, rent_id: str, hours: int) -> Decimal | None:
        """What extending by ``hours`` would cost; None when a success names no price.

        ``continueRentInfo`` (``hours``), or the older ``getContinueRentPriceNumber`` (``rent_time`` and
        ``time``, as every rent action sends them).
        """
        params = {
            "continueRentInfo": {"id": rent_id, "hours": hours},
            "getContinueRentPriceNumber": {"id": rent_id, "rent_time": hours, "time": hours},
        }
        return parse_price(self._call_either("extension_price", params))

    def get_rent_prices(self, *, country: int, hours: int) -> dict[str, ServiceOffer]:
        """Price and stock per service in a country; empty when the provider has no numbers there.

        ``getRentPrices``, or ``getRentServicesAndCountries`` where the provider lacks it.
        """
        params = {
            "getRentPrices": {"country": country, "rent_time": hours, "time": hours},
            "getRentServicesAndCountries": {"country": country, "rent_time": hours, "time": hours, "operator": "any"},
        }
        try:
            reply = self._call_either("rent_prices", params)
        except NoNumbers:
            return {}
        return parse_rent_prices(reply, country=country)

    def get_balance(self) -> Decimal:
        reply = self._call("getBalance", {})
        if not isinstance(reply, Balance):
            raise UnknownOutcome(detail="getBalance answered without ACCESS_BALANCE")
        return reply.amount

    def _call_either(self, operation: str, params: dict[str, dict[str, Any]]) -> Success | Balance:
        """Call whichever of the operation's action names this provider answers.

        The name that worked is remembered for the account, so a provider that knows only the older
        name costs one BAD_ACTION once, not on every call.
        """
        names = ACTION_NAMES[operation]
        known = self._memory.actions.get(operation)
        *earlier, last = [known, *(name for name in names if name != known)] if known in names else names
        for action in earlier:
            try:
                reply = self._call(action, params[action])
            except UnknownAction:
                logger.info("%s is unknown to the provider: trying the next name", action)
                continue
            break
        else:
            action, reply = last, self._call(last, params[last])
        if action != known:
            self._memory.action_learned(operation, action)
        return reply

    def _call(self, action: str, params: dict[str, Any]) -> Success | Balance:
        self._check_sendable()
        try:
            reply = self._answer(action, params)
        except ProviderError as error:
            self._memory.answered(action, error.token)
            raise
        self._memory.answered(action, "OK")
        return reply

    def _answer(self, action: str, params: dict[str, Any]) -> Success | Balance:
        started = time.monotonic()
        status, retry_after, body = self._send(action, params)
        if status == 429:
            until = _retry_until(retry_after, now=datetime.now(UTC))
            self._memory.rate_limited(until)
            logger.info("%s -> HTTP 429: the account waits until %s", action, until.isoformat())
            raise RateLimited(detail=f"HTTP 429: wait until {until:%H:%M:%S} UTC", http_status=429, retry_until=until)
        try:
            reply = parse_reply(body, http_status=status, provider_tz=self._config.provider_tz, redact=self.redact)
        except ProviderError as error:
            logger.info("%s -> HTTP %s %s in %.0f ms", action, status, error.token, _ms_since(started))
            raise
        logger.info("%s -> HTTP %s ok in %.0f ms", action, status, _ms_since(started))
        return reply

    @sensitive_variables("query")
    def _send(self, action: str, params: dict[str, Any]) -> tuple[int, str | None, bytes]:
        """Status, Retry-After and body."""
        query = {"api_key": self._api_key, "action": action, **params}
        try:
            with self._session.get(
                self._config.api_url,
                params=query,
                timeout=(self._config.connect_timeout, self._config.read_timeout),
                allow_redirects=False,
                stream=True,
                headers={"User-Agent": USER_AGENT},
                **self._environment,
            ) as response:
                # A 429 is a refusal whatever its body says: no need to read it.
                body = b"" if response.status_code == 429 else _read_capped(response)
                return response.status_code, response.headers.get("Retry-After"), body
        except requests.RequestException as exc:
            failure = self._transport_error(action, exc)
        # Raised here, not in the except block: the library's exception, whose message quotes the URL
        # and its key, must not ride along as the error's __context__ (``from None`` only hides it).
        raise failure

    def check_sendable(self) -> None:
        """Raise the ``ProviderError`` (not sent) a request would raise now before anything leaves: an
        earlier 429's wait still runs, or the URL is refused. A caller that records a request as sent
        before sending it asks first."""
        self._check_sendable()

    def _check_sendable(self) -> None:
        """Refuse before anything leaves: while an earlier 429's wait runs, or to a refused URL."""
        wait_until = self._memory.wait_until
        if wait_until is not None and wait_until > datetime.now(UTC):
            detail = f"not sent: SMS.online asked to wait until {wait_until:%H:%M:%S} UTC"
            raise RateLimited(detail=detail, retry_until=wait_until, sent=False)
        self._check_destination()

    def _check_destination(self) -> None:
        """Refuse, before anything leaves, a URL the key was not entered for or may not go to (the
        addresses themselves are checked as each connection opens: see ``_VettedConnectionMixin``)."""
        url, key_origin = self._config.api_url, self._config.key_origin
        if key_origin is not None and url_origin(url) != key_origin:
            raise KeyNotForThisUrl(detail=f"the key was entered for {key_origin or 'another URL'}")
        allowed = self._config.allowed_hosts
        if problem := refusal_as_written(url, require_https=self._config.require_https, allowed_hosts=allowed):
            raise DestinationRefused(detail=str(problem))

    def _transport_error(self, action: str, exc: requests.RequestException) -> ProviderError:
        # Library messages quote the whole URL: drop its query (key, webhook token) altogether.
        reason = _URL_QUERY.sub("?…", self.redact(f"{type(exc).__name__}: {exc}"))
        if _never_sent(exc):
            logger.warning("%s not sent: %s", action, reason)
            return ProviderUnreachable(detail=f"could not connect ({reason})")
        logger.warning("%s sent, no answer read: %s", action, reason)
        return UnknownOutcome(detail=f"no answer read ({reason})")

    def redact(self, text: str) -> str:
        """Remove the API key, in every form it takes in a URL, from text meant for people."""
        for form in {self._api_key, quote(self._api_key, safe=""), quote_plus(self._api_key)}:
            if form:
                text = text.replace(form, "[REDACTED]")
        return text


class _VettedConnectionMixin:
    """Connects only to addresses that passed ``refusal_for_addresses``, resolved once here: a
    second lookup by the library could answer differently (DNS rebinding)."""

    allowed_hosts: frozenset[str] = frozenset()
    loopback_only: bool = False

    def _new_conn(self) -> socket.socket:
        try:
            addresses = resolve(self._dns_host, self.port)
        except socket.gaierror as e:
            raise NameResolutionError(self.host, self, e) from e
        vetting = {"allowed_hosts": self.allowed_hosts, "loopback_only": self.loopback_only}
        if problem := refusal_for_addresses(self.host, addresses, **vetting):
            raise DestinationRefused(detail=str(problem))
        error: OSError | None = None
        for address in addresses:
            try:
                return urllib3_connection.create_connection(
                    (address, self.port), self.timeout, source_address=self.source_address,
                    socket_options=self.socket_options,
                )  # fmt: skip
            except TimeoutError as e:
                raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from e
            except OSError as e:
                error = e
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")


class _VettingAdapter(HTTPAdapter):
    """requests' adapter, with connection classes that check every address they connect to."""

    def __init__(self, *, allowed_hosts: frozenset[str], plain_http_loopback_only: bool, **kwargs: Any) -> None:
        self._pool_classes = _vetted_pool_classes(allowed_hosts, plain_http_loopback_only)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes


@functools.cache
def _vetted_pool_classes(allowed_hosts: frozenset[str], plain_http_loopback_only: bool) -> dict[str, type]:
    """urllib3's pool classes whose connections vet their addresses. Built once per setting, not per
    client: every rent and poll makes a client, and making classes costs more than the rest of it."""
    vetted = {"allowed_hosts": allowed_hosts}
    plain = {**vetted, "loopback_only": plain_http_loopback_only}
    http = type("VettedHTTPConnection", (_VettedConnectionMixin, HTTPConnection), plain)
    https = type("VettedHTTPSConnection", (_VettedConnectionMixin, HTTPSConnection), vetted)
    return {
        "http": type("VettedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
        "https": type("VettedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
    }


def _read_capped(response: requests.Response) -> bytes:
    body = bytearray()
    for chunk in response.iter_content(chunk_size=64 * 1024):
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise UnknownOutcome(detail=f"reply larger than {MAX_BODY_BYTES} bytes", http_status=response.status_code)
    return bytes(body)


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the connection itself failed, so the provider cannot have acted on the request.

    A reset or a timeout after the connection opened may come after the provider acted: those are
    unknown outcomes, not failures.
    """
    if isinstance(
        exc,
        (
            requests.ConnectTimeout,
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        ),
    ):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", None) if isinstance(cause, MaxRetryError) else None
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError, NameResolutionError))


def _retry_until(retry_after: str | None, *, now: datetime) -> datetime:
    """When a 429's ``Retry-After`` (seconds, or an HTTP date) lets the account ask again."""
    wait = DEFAULT_RETRY_AFTER
    text = (retry_after or "").strip()
    if re.fullmatch(r"[0-9]+", text):  # ASCII digits: str.isdigit() also takes "²", which int() refuses
        wait = timedelta(seconds=int(text[:7]))
    elif text:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            moment = None
        if moment is not None:
            wait = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) - now
    return now + min(max(wait, timedelta(0)), MAX_RETRY_AFTER)


def _ms_since(started: float) -> float:
    return (time.monotonic() - started) * 1000
