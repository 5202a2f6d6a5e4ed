"""Readers for settings that must be right before anything starts: each names the variable at fault."""

import ipaddress
import re
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

_HOST_NAME = re.compile(r"(?=.{1,253}\.?$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")


def seconds(env: environ.Env, name: str, default: float) -> float:
    return _positive(env, name, default, maximum=600, meaning="a number of seconds")


def per_second(env: environ.Env, name: str, default: float) -> float:
    return _positive(env, name, default, maximum=100, meaning="a rate per second")


def whole_number(env: environ.Env, name: str, default: int, maximum: int) -> int:
    value = _positive(env, name, default, maximum=maximum, meaning="a whole number")
    if value != int(value):
        raise ImproperlyConfigured(f"{name} must be a whole number above 0 and at most {maximum}.")
    return int(value)


def _positive(env: environ.Env, name: str, default: float, *, maximum: float, meaning: str) -> float:
    try:
        value = env.float(name, default=default)
    except ValueError:
        value = -1.0
    if not 0 < value <= maximum:
        raise ImproperlyConfigured(f"{name} must be {meaning} above 0 and at most {maximum}.")
    return value


def days_or_forever(env: environ.Env, name: str, default: int | None) -> int | None:
    """A number of days to keep something; None (keep forever) for 0 or an empty value."""
    raw = env.str(name, default="" if default is None else str(default)).strip()
    if raw in ("", "0"):
        return None
    if not raw.isdigit() or int(raw) > MAX_KEEP_DAYS:
        raise ImproperlyConfigured(
            f"{name} must be a whole number of days from 1 to {MAX_KEEP_DAYS}, or 0 or empty to keep forever;"
            f" not {raw!r}."
        )
    return int(raw)


# A hundred years: more is a typo.
MAX_KEEP_DAYS = 36500


def http_url(env: environ.Env, name: str, default: str | None = None, *, base_only: bool = False) -> str:
    """An http(s) URL; ``base_only`` also refuses a query or fragment (other URLs are built on it)."""
    raw = env.str(name) if default is None else env.str(name, default=default)
    try:
        parts = urlsplit(raw)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid or (base_only and (parts.query or parts.fragment)):
        shape = "an http:// or https:// URL" + (" without ?query or #fragment" if base_only else "")
        raise ImproperlyConfigured(f"{name} must be {shape}, not {raw!r}.")
    return raw


def language(env: environ.Env, name: str, default: str, languages: list[tuple[str, str]]) -> str:
    value = env.str(name, default=default).strip().lower()
    codes = [code for code, _ in languages]
    if value not in codes:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of Rentdesk's languages: {', '.join(codes)}.")
    return value


def timezone_name(env: environ.Env, name: str, default: str) -> str:
    value = env.str(name, default=default)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not an IANA timezone such as 'UTC' or 'Europe/Kyiv'."
        ) from None
    return value


def fernet_keys(env: environ.Env, name: str, default: list[str] | None = None) -> list[str]:
    keys = env.list(name) if default is None else env.list(name, default=default)
    try:
        if not keys:
            raise ValueError
        for key in keys:
            Fernet(key.strip())
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must hold Fernet keys, comma separated; make one with: python -c "
            "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        ) from None
    return [key.strip() for key in keys]


def positive_hours(env: environ.Env, name: str, default: list[int]) -> list[int]:
    try:
        hours = sorted({int(value) for value in env.list(name, default=[str(h) for h in default])})
    except ValueError:
        hours = []
    if not hours or hours[0] <= 0:
        raise ImproperlyConfigured(f"{name} must list whole hours above 0, comma separated, e.g. 72,24,2.")
    return hours


def positive_int(env: environ.Env, name: str, default: int, *, maximum: int) -> int:
    try:
        value = env.int(name, default=default)
    except ValueError:
        value = 0
    if not 0 < value <= maximum:
        raise ImproperlyConfigured(f"{name} must be a whole number above 0 and at most {maximum}.")
    return value


def database(env: environ.Env, name: str, default: str | None = None) -> dict:
    """The database at the URL in ``name``. On SQLite, where the web processes, workers and beat share
    one file: wait for a lock rather than fail at once, and take the write lock when a transaction
    starts, so two writers never deadlock upgrading a read lock."""
    settings = env.db(name) if default is None else env.db(name, default=default)
    if settings["ENGINE"] == "django.db.backends.sqlite3":
        settings.setdefault("OPTIONS", {}).update(
            {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            }
        )
    return settings


def host_allowances(env: environ.Env, name: str) -> list[str]:
    """Host names, addresses and networks (CIDR), comma separated; each checked, networks written as
    networks (10.0.0.7 as 10.0.0.7/32), names in lower case."""
    allowed = []
    for entry in (part.strip() for part in env.list(name, default=[])):
        try:
            allowed.append(str(ipaddress.ip_network(entry, strict=False)))
        except ValueError:
            if not _HOST_NAME.fullmatch(entry):
                raise ImproperlyConfigured(
                    f"{name}: {entry!r} is neither a host name nor an address or network (10.0.0.7, 10.8.0.0/16)."
                ) from None
            allowed.append(entry.rstrip(".").lower())
    return allowed


def proxy_addresses(env: environ.Env, name: str, default: list[str]) -> list[str]:
    """Addresses or networks (``10.0.0.0/8``), and ``unix`` for gunicorn's unix socket, whose
    X-Forwarded-For is believed. Each is checked here, so a typo stops the start, named."""
    entries = [entry.strip() for entry in env.list(name, default=default) if entry.strip()]
    for entry in entries:
        if entry == "unix":
            continue
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must list IP addresses, networks (10.0.0.0/8) or unix, not {entry!r}."
            ) from None
    return entries
