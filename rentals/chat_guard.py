"""Where a chat post may go: outside the team's network, unless the team named the place.

A chat URL is written by an Operator and posted to by the worker, from inside. Unchecked, it reaches
the cloud's metadata service, the database port, an admin interface on loopback, and the error shown
afterwards tells an open port from a closed one. So an address that is loopback, private, link-local,
multicast, reserved or unspecified is refused:

- when the URL is saved, if its host is written as such an address or is a name that resolves to one;
- on every connection made while posting, checked on the very address being connected to (the
  lookup's answer, not the name), so a name that resolves inside later is refused too.

The second is a Python audit hook (PEP 578) on ``socket.connect`` / ``sendto`` / ``sendmsg``, which
every library apprise uses (requests, smtplib, paho) goes through; it acts only inside ``guarded()``
(a context variable, which apprise copies into its sending threads), so nothing else is touched. A
connection by name, resolved where no lookup could be checked first, is refused. The hook also sees
``socket.getaddrinfo``: that is how a name written in ``RENTDESK_CHAT_ALLOWED_HOSTS`` lets its own
addresses through, and only those of a lookup of that name.

apprise also reads URL parameters that add HTTP headers (``+Name=``), GET parameters (``-name=``),
payload fields (``:name=``) or change the method (``method=PUT``): Rentdesk refuses them, on save and
on send.
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import apprise
from apprise.utils.parse import parse_url
from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# What apprise makes of a parameter by its first character: a header, a GET parameter, a payload field.
_ADDING_PREFIXES = ("qsd+", "qsd-", "qsd:")
_PREFIX_OF = {"qsd+": "+", "qsd-": "-", "qsd:": ":"}
_CONNECTING = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg"})
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class ChatAddressRefused(PermissionError):
    """A connection, made while posting to chat, to an address inside (an OSError: libraries treat it
    as the connection failing)."""


@dataclass(frozen=True)
class Allowance:
    """The exceptions named in RENTDESK_CHAT_ALLOWED_HOSTS: host names, addresses and networks."""

    names: frozenset[str]
    networks: tuple[Network, ...]

    @classmethod
    def from_settings(cls, *, also: tuple[str, ...] = ()) -> Allowance:
        names, networks = set(), []
        for entry in [*getattr(settings, "RENTDESK_CHAT_ALLOWED_HOSTS", []), *also]:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                names.add(_host_name(entry))
        return cls(frozenset(names), tuple(networks))

    def names_host(self, host: str) -> bool:
        return bool(host) and _host_name(host) in self.names

    def covers(self, address: Address) -> bool:
        return any(address in network for network in self.networks)


def _host_name(host: str | bytes) -> str:
    text = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
    return text.strip().strip("[]").rstrip(".").lower()


def inside_kind(address: Address) -> str:
    """What kind of address inside this is ("loopback", "private"...), or "" for a public one."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return inside_kind(embedded)
    checks = (
        ("unspecified", address.is_unspecified), ("loopback", address.is_loopback),
        ("link-local", address.is_link_local), ("multicast", address.is_multicast),
        ("reserved", address.is_reserved), ("private", address.is_private),
        ("not public", not address.is_global or getattr(address, "is_site_local", False)),
    )  # fmt: skip
    return next((kind for kind, applies in checks if applies), "")


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    # ::ffff:127.0.0.1, 2002:7f00:1:: (6to4) and 64:ff9b::7f00:1 (NAT64) all reach an IPv4 address.
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour


def added_parameters(url: str) -> list[str]:
    """The parameters of ``url`` that would add headers, GET parameters or payload fields, or change the
    HTTP method (names only: their values may be secrets)."""
    parsed = parse_url(url, verify_host=False) or {}
    added = [_PREFIX_OF[key] + name for key in _ADDING_PREFIXES for name in parsed.get(key) or {}]
    method, default = (parsed.get("qsd") or {}).get("method", ""), _default_http_method(url)
    if method and default is not None and method.upper() != default:
        added.append(f"method={method}")
    return added


def _default_http_method(url: str) -> str | None:
    """The method a plugin sends with when told none; None when its ``method`` is no HTTP method (Twilio's
    is "sms" or "call")."""
    plugin = apprise.Apprise.instantiate(url)
    choice = (getattr(plugin, "template_args", None) or {}).get("method") or {}
    return str(choice.get("default", "POST")).upper() if "POST" in choice.get("values", ()) else None


def inside_addresses(url: str) -> list[str]:
    """Where ``url``'s host is inside the team's network, as "address (kind)" for each address it is or
    resolves to ([] when outside, allowed, or not a host apprise connects to: a bot token is no host)."""
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None or "host" not in (getattr(plugin, "template_tokens", None) or {}):
        return []
    host, allowance = _host_name(plugin.host or ""), Allowance.from_settings()
    if not host or allowance.names_host(host):
        return []
    if host == "localhost" or host.endswith(".localhost"):
        return [f"{host} (loopback)"]
    addresses = _lookup(host, numeric_only=True) or _lookup(host, numeric_only=False)
    return [f"{address} ({kind})" for address in addresses if (kind := _refused_kind(address, allowance))]


def _lookup(host: str, *, numeric_only: bool) -> list[Address]:
    # Numeric first: the resolver reads 2130706433 and 0x7f.1 as 127.0.0.1, so they are addresses too.
    flags = socket.AI_NUMERICHOST if numeric_only else 0
    try:
        answers = socket.getaddrinfo(host, None, flags=flags, type=socket.SOCK_STREAM)
        return list(dict.fromkeys(ipaddress.ip_address(answer[4][0]) for answer in answers))
    except (OSError, UnicodeError, ValueError):
        return []  # not resolvable now: every connection is checked again when posting


def _refused_kind(address: Address, allowance: Allowance) -> str:
    return "" if allowance.covers(address) else inside_kind(address)


@dataclass
class Guard:
    """One post's connections: the allowance it was started with and what was refused (for the log)."""

    allowance: Allowance
    refused: list[str] = field(default_factory=list)
    looked_up: dict[int, str] = field(default_factory=dict)  # thread -> the last name it resolved

    def refusal(self, destination: Any) -> str:
        if not (isinstance(destination, tuple) and len(destination) >= 2 and isinstance(destination[0], str)):
            return f"a connection to {destination!r}, not to an internet address"
        try:
            address = ipaddress.ip_address(destination[0])
        except ValueError:
            return f"a connection to {destination[0]!r} by name, with no lookup that could be checked"
        if self.allowance.names_host(self.looked_up.get(threading.get_ident(), "")):
            return ""
        kind = _refused_kind(address, self.allowance)
        return f"{address} is {kind} (RENTDESK_CHAT_ALLOWED_HOSTS can allow it)" if kind else ""


_guard: contextvars.ContextVar[Guard | None] = contextvars.ContextVar("rentdesk_chat_guard", default=None)
_hook_lock = threading.Lock()
_hook_installed = False


@contextmanager
def guarded(*, also: tuple[str, ...] = ()) -> Iterator[Guard]:
    """Every connection made in this block (and in threads apprise starts from it) is checked. ``also``:
    hosts this caller alone may reach besides RENTDESK_CHAT_ALLOWED_HOSTS (the Bot API's, for the
    Telegram client: never for a URL a person wrote)."""
    _install_hook()
    guard = Guard(Allowance.from_settings(also=also))
    token = _guard.set(guard)
    try:
        yield guard
    finally:
        _guard.reset(token)


def _install_hook() -> None:
    global _hook_installed
    with _hook_lock:
        if not _hook_installed:
            sys.addaudithook(_audit)  # for the life of the process; idle outside guarded()
            _hook_installed = True


def _audit(event: str, args: tuple) -> None:
    if event != "socket.getaddrinfo" and event not in _CONNECTING:
        return
    guard = _guard.get()
    if guard is None:
        return
    if event == "socket.getaddrinfo":
        guard.looked_up[threading.get_ident()] = _host_name(args[0] or "")
        return
    try:
        reason = guard.refusal(args[1])
    except Exception:  # whatever could not be checked is not let through
        reason = "a connection that could not be checked"
    if reason:
        guard.refused.append(reason)
        raise ChatAddressRefused(reason)
