"""SMS.online's rent webhook: check the token, store the body, acknowledge, process in a task's run.

SMS.online sends each SMS once and never retries, so the body is stored before the 200. When the
database cannot store it, it is kept in Redis and stored once the database can
(services/kept_webhooks.py); only when nothing can keep it is it answered 503, so nothing is
acknowledged and then lost. Bad input is answered 4xx, never 500.
"""

import json
import logging
from functools import partial

from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import services

logger = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 16 * 1024


def _body(request: HttpRequest) -> bytes:
    """Up to one byte past the limit. A chunked body has no Content-Length, and Django reads none
    without one: where the server says its input ends with the body (gunicorn sets
    ``wsgi.input_terminated``), it is read from there, or the SMS in it would be refused as empty."""
    if not request.META.get("CONTENT_LENGTH") and request.META.get("wsgi.input_terminated"):
        return request.META["wsgi.input"].read(MAX_WEBHOOK_BYTES + 1)
    return request.read(MAX_WEBHOOK_BYTES + 1)


@csrf_exempt  # the provider cannot hold a CSRF token: the unguessable URL token is the check
@require_POST
def sms_webhook(request: HttpRequest, token: str) -> HttpResponse:
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not (declared.isascii() and declared.isdigit()) or int(declared) > MAX_WEBHOOK_BYTES:
        return HttpResponse("Request body too large.", status=413, content_type="text/plain")
    body = _body(request)
    if len(body) > MAX_WEBHOOK_BYTES:
        return HttpResponse("Request body too large.", status=413, content_type="text/plain")
    arrived = timezone.now()
    # The whole header, its charset too: the body is read (now and if processed again) in that charset.
    content_type = request.META.get("CONTENT_TYPE", "")
    try:
        delivery_id = services.webhook_store(token=token, body=body, content_type=content_type, briefly=True)
    except services.UnknownWebhookToken:
        return HttpResponse("Unknown webhook.", status=404, content_type="text/plain")
    except services.UnreadableWebhook as problem:
        return _unreadable(problem)
    except DatabaseError as error:
        delivery = {"token": token, "body": body, "content_type": content_type, "received_at": arrived}
        return _kept_or_refused(delivery, why=type(error).__name__)
    # Once committed (at once, outside a transaction): the run must find the delivery stored.
    transaction.on_commit(partial(_processing_queued, delivery_id))
    return HttpResponse("OK", content_type="text/plain")


def _kept_or_refused(delivery: dict, *, why: str) -> HttpResponse:
    """The database could not store it: kept in Redis, and acknowledged, or 503 when nothing keeps it.
    No query here: Django's connection would try the database again (on_commit too)."""
    try:
        kept = services.webhook_keep(**delivery, why=why)
    except services.UnreadableWebhook as problem:  # never kept: the token cannot be told apart, the body can
        return _unreadable(problem)
    if not kept:
        logger.error("webhook delivery could not be stored (%s), nor kept in Redis: answered 503", why)
        return HttpResponse("Try again later.", status=503, content_type="text/plain")
    return HttpResponse("OK", content_type="text/plain")


def _unreadable(problem: services.UnreadableWebhook) -> HttpResponse:
    return HttpResponse(f"Unreadable SMS notification: {problem}.", status=400, content_type="text/plain")


def _processing_queued(delivery_id: int) -> None:
    try:
        services.webhooks_process_soon(first_id=delivery_id)
        # Stored again after the database was away: what this process kept meanwhile is moved in now.
        services.kept_webhooks_store_soon(kept_here_only=True)
    except Exception:
        # Stored is what matters: the polling cycle processes deliveries whose task never ran.
        logger.warning("webhook delivery %s stored; its processing could not be queued", delivery_id)


MAX_TELEGRAM_UPDATE_BYTES = 64 * 1024


@csrf_exempt  # Telegram holds no CSRF token: the path's secret and the header's are the check
@require_POST
def telegram_webhook(request: HttpRequest, secret: str) -> HttpResponse:
    """An update from Telegram (services/telegram_webhook.py): checked, queued, 200. When it cannot be
    queued, 503: Telegram delivers it again."""
    header = request.META.get("HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN", "")
    if not services.telegram_webhook_checks(path_secret=secret, header_secret=header):
        return HttpResponse("Unknown webhook.", status=404, content_type="text/plain")
    try:
        update = json.loads(request.read(MAX_TELEGRAM_UPDATE_BYTES + 1))
    except (ValueError, RecursionError):  # RecursionError: "[[[[…", nested deeper than Python recurses
        update = None
    if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
        return HttpResponse("Not a Telegram update.", status=400, content_type="text/plain")
    from .tasks import telegram_answer_update  # tasks import services: import here, at call time

    try:
        telegram_answer_update.delay(update)
    except Exception as error:  # the broker is away: Telegram keeps the update and tries again
        logger.warning("Telegram update %s not queued (%s): answered 503", update["update_id"], type(error).__name__)
        return HttpResponse("Try again later.", status=503, content_type="text/plain")
    return HttpResponse("OK", content_type="text/plain")
