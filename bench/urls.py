"""The app's URLs and the floor the webhook is measured against (bench/webhook_ingest.py)."""

from django.urls import path

from config.urls import urlpatterns as app_urlpatterns

from .floor import insert_one

urlpatterns = [path("bench/insert/<int:rental_id>/", insert_one), *app_urlpatterns]
