"""Who is asking, and how often: a person's API token, and a limit on requests per token."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer
from ninja.throttling import SimpleRateThrottle

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


class TokenRateThrottle(SimpleRateThrottle):
    """At most RENTDESK_API_REQUESTS_PER_MINUTE requests a minute per token (a sliding minute).

    Counted in Redis, so every server process shares one count. While Redis is away, each process
    counts on its own: the limit is looser (it holds per process), but a script in a loop is still
    stopped, and scripts keep working (the limit protects the service, it is not the service).
    """

    cache_alias = "api"

    def __init__(self) -> None:
        super().__init__(rate="1/min")  # the real rate is read per request: settings may change

    @property
    def cache(self):  # type: ignore[override]
        return caches[self.cache_alias]

    def get_cache_key(self, request: HttpRequest) -> str | None:
        token = getattr(request, "auth", None)
        return f"rentdesk-api-token-{token.pk}" if isinstance(token, ApiToken) else None

    def allow_request(self, request: HttpRequest) -> bool:
        self.num_requests, self.duration = settings.RENTDESK_API_REQUESTS_PER_MINUTE, 60
        try:
            return super().allow_request(request)
        except Exception as error:
            logger.warning("API request counting in Redis unavailable (%s): counted by this process alone", error)
        here = _CountedByThisProcess()
        here.num_requests, here.duration = self.num_requests, self.duration
        allowed = here.allow_request(request)
        self.history, self.now = here.history, here.now  # what wait() reads for Retry-After
        return allowed


class _CountedByThisProcess(TokenRateThrottle):
    """The count each server process keeps while Redis is away (CACHES["api-process"], in memory)."""

    cache_alias = "api-process"

    def allow_request(self, request: HttpRequest) -> bool:
        return SimpleRateThrottle.allow_request(self, request)
