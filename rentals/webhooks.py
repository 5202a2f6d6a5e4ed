"""SMS.online's rent webhook: check the token, store the body, acknowledge, process in a task.

SMS.online sends each SMS once and never retries, so the body is stored before the 200; a store
that fails answers 503, so nothing is acknowledged and then lost. Bad input is answered 4xx,
never 500.
"""

import logging

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import services, tasks
from .provider.parsing import UnreadableWebhook

logger = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 16 * 1024


@csrf_exempt  # the provider cannot hold a CSRF token: the unguessable URL token is the check
@require_POST
def sms_webhook(request: HttpRequest, token: str) -> HttpResponse:
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit() or int(declared) > MAX_WEBHOOK_BYTES:
        return HttpResponse("Request body too large.", status=413, content_type="text/plain")
    body = request.read(MAX_WEBHOOK_BYTES + 1)
    if len(body) > MAX_WEBHOOK_BYTES:
        return HttpResponse("Request body too large.", status=413, content_type="text/plain")
    try:
        delivery = services.webhook_store(token=token, body=body, content_type=request.content_type or "")
    except services.UnknownWebhookToken:
        return HttpResponse("Unknown webhook.", status=404, content_type="text/plain")
    except UnreadableWebhook as problem:
        return HttpResponse(f"Unreadable SMS notification: {problem}.", status=400, content_type="text/plain")
    except DatabaseError:
        logger.exception("webhook delivery could not be stored")
        return HttpResponse("Try again later.", status=503, content_type="text/plain")
    try:
        tasks.process_webhook.delay_on_commit(delivery.pk)
    except Exception:
        # Stored is what matters: the polling cycle processes deliveries whose task never ran.
        logger.warning("webhook delivery %s stored; its task could not be queued", delivery.pk)
    return HttpResponse("OK", content_type="text/plain")
