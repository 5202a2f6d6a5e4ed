"""Where an account's API key may be sent. Checked when an API URL is saved and again at each
connection, since what a name resolves to can change between the two.

An API key travels in the query string of every request, so it goes only where its account's URL
points: never to a loopback, private, link-local or cloud-metadata address (a colleague's typo or a
hostile DNS answer would hand it to whatever listens there) unless the host is explicitly allowed,
and never in clear text where https is required. No Django and no HTTP here.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

# The migrations and the client name url_origin here; it lives where the models may import it.
from ..origins import DEFAULT_PORTS
from ..origins import url_origin as url_origin

# Why a URL is refused, in English, for error details and logs; rentals.wording.pages.url_refusal says it
# in the reader's language.
REFUSAL_REASONS = {
    "invalid": "it is not a valid URL",
    "not_http": "it is not an http:// or https:// URL with a host",
    "carries_credentials": (
        "it carries a query string or a user name: the API key goes in its own field, not in the URL"
    ),
    "https_only": (
        "API keys are sent only over https:// here (plain http only to a loopback host named in "
        "SMSONLINE_ALLOWED_HOSTS, such as the simulator's)"
    ),
    "plain_http_elsewhere": "plain http:// goes only to this machine here, and {host} resolves to {address}",
    "not_public": "{host} resolves to {address}, which is not a public address (allow it in SMSONLINE_ALLOWED_HOSTS)",
}


@dataclass(frozen=True)
class UrlRefusal:
    """Why an API key may not go to a URL: one of ``REFUSAL_REASONS``, and the host and address it is about."""

    reason: str
    host: str = ""
    address: str = ""

    def __str__(self) -> str:
        return REFUSAL_REASONS[self.reason].format(host=self.host, address=self.address)


def refusal_as_written(url: str, *, require_https: bool, allowed_hosts: frozenset[str]) -> UrlRefusal | None:
    """Why ``url`` is no API URL Rentdesk may call, judging by its text alone; None when it may be.

    Where https is required, plain http is left only for an allowed host, and only if it resolves to
    this machine's loopback (a local gateway, or the simulator): see ``refusal_for_addresses``.
    """
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return UrlRefusal("invalid")
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname:
        return UrlRefusal("not_http")
    if parts.query or parts.fragment or "@" in parts.netloc:
        # The family's docs show the key in the URL's query: kept there, it would be stored and shown
        # in clear text. The key has its own field (encrypted); a user name or password has no use.
        return UrlRefusal("carries_credentials")
    if require_https and parts.scheme.lower() != "https" and not is_allowed_host(parts.hostname, allowed_hosts):
        return UrlRefusal("https_only")
    return None


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to now. Raises ``socket.gaierror`` when it resolves to none."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def is_allowed_host(host: str, allowed_hosts: frozenset[str]) -> bool:
    return host.strip("[]").rstrip(".").lower() in allowed_hosts


def refusal_for_addresses(
    host: str, addresses: list[str], *, allowed_hosts: frozenset[str], loopback_only: bool = False
) -> UrlRefusal | None:
    """Why ``host`` may not receive an API key at these addresses, or None.

    Only public (globally routable) addresses are accepted: that leaves out loopback, private,
    link-local (169.254.169.254, the cloud metadata service), shared, reserved, multicast and unspecified ones,
    and IPv6 forms of them, unless the host is listed in ``allowed_hosts``. ``loopback_only`` (plain
    http where https is required) accepts nothing but this machine's loopback, where no one else hears.
    """
    for text in addresses:
        address = _address(text)
        if loopback_only and not address.is_loopback:
            return UrlRefusal("plain_http_elsewhere", host, text)
        # Python counts multicast (224.0.0.0/4, ff00::/8) as global: nobody's one server is there.
        public = address.is_global and not address.is_multicast
        if not public and not is_allowed_host(host, allowed_hosts):
            return UrlRefusal("not_public", host, text)
    return None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return mapped or address


def destination_refusal(url: str, *, allowed_hosts: frozenset[str], require_https: bool) -> UrlRefusal | None:
    """Why an API URL may not be saved, or None. A host that does not resolve now is accepted: it
    cannot be judged, and every connection checks again (so nothing is sent to a bad address)."""
    problem = refusal_as_written(url, require_https=require_https, allowed_hosts=allowed_hosts)
    if problem:
        return problem
    parts = urlsplit(url.strip())
    host, scheme = parts.hostname or "", parts.scheme.lower()
    try:
        addresses = resolve(host, parts.port or DEFAULT_PORTS[scheme])
    except (OSError, UnicodeError):
        return None
    loopback_only = require_https and scheme == "http"
    return refusal_for_addresses(host, addresses, allowed_hosts=allowed_hosts, loopback_only=loopback_only)


def normalised_hosts(hosts: list[str]) -> frozenset[str]:
    """``SMSONLINE_ALLOWED_HOSTS`` as compared: lower case, no brackets or trailing dot."""
    return frozenset(host.strip().strip("[]").rstrip(".").lower() for host in hosts if host.strip())
