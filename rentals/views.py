"""Pages outside the admin that are not the provider's webhook."""

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .health import system_health


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
