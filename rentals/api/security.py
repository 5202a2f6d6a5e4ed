"""Who is asking, and how often: a person's API token, a limit on requests per person (all their tokens
together), and a pause for an address that keeps sending tokens that do not exist."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer
from ninja.throttling import BaseThrottle, SimpleRateThrottle

from ..client_address import client_address
from ..models import ApiToken
from ..outcomes import Token
from ..services.api_tokens import SecondFactorMissing, api_token_authenticate
from .errors import ApiError

logger = logging.getLogger(__name__)

INVALID_TOKENS_WINDOW = 60  # seconds: invalid tokens are counted per address per minute


class TokenAuth(HttpBearer):
    """``Authorization: Bearer <token>``: the request acts as the token's person, with their permissions.

    An address that sent RENTDESK_API_INVALID_TOKENS_PER_MINUTE tokens that do not work is answered 429
    for the rest of that minute, whatever token it sends: answered at once, not slowed down in a thread
    (a sleeping thread is one the webhooks lack, services/turns.py), and with no answer that would tell
    a right token from a wrong one meanwhile."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        address = client_address(request) or "unknown"
        if (wait := _invalid_tokens_wait(address)) is not None:
            raise ApiError(429, Token.TOO_MANY_INVALID_TOKENS, headers={"Retry-After": str(wait)}, retry_after=wait)
        try:
            found = api_token_authenticate(plain=token, now=timezone.now())
        except SecondFactorMissing:
            raise ApiError(403, Token.TWO_FACTOR_REQUIRED) from None
        if found is None:
            _count_invalid_token(address)
            return None
        request.user = found.user  # the admin's permission checks apply as they are
        return found


def _invalid_tokens_key(address: str, now: float) -> tuple[str, int]:
    """This minute's counter for ``address``, and the seconds left in the minute."""
    minute, into = divmod(now, INVALID_TOKENS_WINDOW)
    return f"rentdesk-api-invalid-{address}-{int(minute)}", max(1, math.ceil(INVALID_TOKENS_WINDOW - into))


def _invalid_tokens_wait(address: str) -> int | None:
    key, left = _invalid_tokens_key(address, time.time())
    count = _counted(lambda cache: cache.get(key, 0))
    return left if count >= settings.RENTDESK_API_INVALID_TOKENS_PER_MINUTE else None


def _count_invalid_token(address: str) -> None:
    key, _left = _invalid_tokens_key(address, time.time())

    def count(cache: Any) -> int:
        cache.add(key, 0, timeout=INVALID_TOKENS_WINDOW * 2)
        return cache.incr(key)

    _counted(count)


def _counted(operation: Callable[[Any], Any]) -> Any:
    """``operation`` on the shared counts in Redis; while Redis is away, on this process's own."""
    try:
        return operation(caches["api"])
    except Exception as error:
        logger.warning("API request counting in Redis unavailable (%s): counted by this process alone", error)
        return operation(caches["api-process"])


class TokenRateThrottle(BaseThrottle):
    """At most RENTDESK_API_REQUESTS_PER_MINUTE requests a minute per person, all their tokens together
    (a sliding minute): a second token is not a second allowance.

    Counted in Redis, so every server process shares one count. While Redis is away, each process
    counts on its own: the limit is looser (it holds per process), but a script in a loop is still
    stopped, and scripts keep working (the limit protects the service, it is not the service).

    django-ninja keeps one throttle object for every request, in every thread, and its own throttles
    keep the request's token and count on that object. So each request is counted on a counter of
    its own here, kept for its thread until ``wait`` reads it: two people's requests at once never
    count against each other.
    """

    def __init__(self) -> None:
        self._this_thread = threading.local()

    def allow_request(self, request: HttpRequest) -> bool:
        count = _TokenCount(shared=True)
        try:
            allowed = count.allow_request(request)
        except Exception as error:
            logger.warning("API request counting in Redis unavailable (%s): counted by this process alone", error)
            count = _TokenCount(shared=False)
            allowed = count.allow_request(request)
        self._this_thread.count = count
        return allowed

    def wait(self) -> float | None:
        """Seconds until the refused request's person may ask again (Retry-After)."""
        return self._this_thread.count.wait()


class _TokenCount(SimpleRateThrottle):
    """One request's count for its person: in Redis (CACHES["api"]), shared by every process, or in this
    process's memory (CACHES["api-process"]) while Redis is away."""

    def __init__(self, *, shared: bool) -> None:
        super().__init__(rate="1/min")  # the real rate is read per request: settings may change
        self.num_requests, self.duration = settings.RENTDESK_API_REQUESTS_PER_MINUTE, 60
        self._cache_alias = "api" if shared else "api-process"

    @property
    def cache(self):  # type: ignore[override]
        return caches[self._cache_alias]

    def get_cache_key(self, request: HttpRequest) -> str | None:
        token = getattr(request, "auth", None)
        return f"rentdesk-api-person-{token.user_id}" if isinstance(token, ApiToken) else None
