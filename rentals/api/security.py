"""Who is asking, and how often: a person's API token, and a limit on requests per token."""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer
from ninja.throttling import BaseThrottle, SimpleRateThrottle

from ..models import ApiToken
from ..services.api_tokens import api_token_authenticate

logger = logging.getLogger(__name__)


class TokenAuth(HttpBearer):
    """``Authorization: Bearer <token>``: the request acts as the token's person, with their permissions."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = api_token_authenticate(plain=token, now=timezone.now())
        if found is not None:
            request.user = found.user  # the admin's permission checks apply as they are
        return found


class TokenRateThrottle(BaseThrottle):
    """At most RENTDESK_API_REQUESTS_PER_MINUTE requests a minute per token (a sliding minute).

    Counted in Redis, so every server process shares one count. While Redis is away, each process
    counts on its own: the limit is looser (it holds per process), but a script in a loop is still
    stopped, and scripts keep working (the limit protects the service, it is not the service).

    django-ninja keeps one throttle object for every request, in every thread, and its own throttles
    keep the request's token and count on that object. So each request is counted on a counter of
    its own here, kept for its thread until ``wait`` reads it: two tokens' requests at once never
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
        """Seconds until the refused request's token may ask again (Retry-After)."""
        return self._this_thread.count.wait()


class _TokenCount(SimpleRateThrottle):
    """One request's count for its token: in Redis (CACHES["api"]), shared by every process, or in this
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
        return f"rentdesk-api-token-{token.pk}" if isinstance(token, ApiToken) else None
