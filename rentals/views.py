"""Pages outside the admin that are not the provider's webhook."""

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from . import metrics as figures
from .health import system_health, web_readiness


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and monitoring: no login, and nothing in it a stranger could use."""
    health = system_health()
    checks: dict[str, dict[str, object]] = {
        part.name: {"ok": part.ok, **({"problem": part.problem} if part.problem else {})} for part in health.parts
    }
    if health.beat is not None:
        checks["beat"]["seconds_since_tick"] = round(health.beat.seconds_since_tick)
    if health.webhooks_kept is not None:
        # Kept in Redis while the database could not store them; a backlog that stays says it still cannot.
        checks["broker"] |= {"webhooks_kept": health.webhooks_kept, "webhooks_dropped": health.webhooks_dropped}
    body: dict[str, object] = {
        "status": "ok" if health.ok else "unavailable",
        "version": settings.RENTDESK_VERSION,
        "checks": checks,
    }
    if not health.ok:
        body["down"] = health.down
    return JsonResponse(body, status=200 if health.ok else 503)


@never_cache
@require_safe
def livez(request: HttpRequest) -> HttpResponse:
    """For a supervisor: this process answers. Asks nothing else, so a database or Redis restart never
    has a healthy web process killed."""
    return HttpResponse("ok", content_type="text/plain")


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """For a load balancer: this web can take a webhook now, into the database or, while the database is
    away, into Redis. A beat restart or a Redis restart alone does not take it out (that is /healthz's)."""
    readiness = web_readiness()
    body = {
        "status": "ready" if readiness.ready else "unavailable",
        "checks": {"database": {"ok": readiness.database}, "webhook_spool": {"ok": readiness.webhook_spool}},
    }
    return JsonResponse(body, status=200 if readiness.ready else 503)


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """For Prometheus: served only with ``Authorization: Bearer $RENTDESK_METRICS_TOKEN``; not at all
    while the setting is empty (account names and spend are the team's business)."""
    expected = settings.RENTDESK_METRICS_TOKEN
    if not expected:
        raise Http404
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        response = HttpResponse("A bearer token is needed.", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(figures.exposition(), content_type=figures.CONTENT_TYPE)
