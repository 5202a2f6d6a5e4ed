"""Floors: the least a Django view or a Celery task can do, measured beside the app's own path.

``insert_one`` is a bare Django view doing one INSERT (the webhook's row, unchecked); ``empty`` is a
task that does nothing, so its round trip is Celery's and Redis's alone.
"""

import hashlib

from celery import shared_task
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from rentals.models import WebhookDelivery


@csrf_exempt
@require_POST
def insert_one(request: HttpRequest, rental_id: int) -> HttpResponse:
    body = request.body
    WebhookDelivery.objects.create(
        rental_id=rental_id, body_hash=hashlib.sha256(body).hexdigest(), body=body, content_type="bench"
    )
    return HttpResponse("OK", content_type="text/plain")


@shared_task(name="bench.floor.empty", ignore_result=False)
def empty() -> None:
    return None
