from django.urls import path

from .views import healthz
from .webhooks import sms_webhook

app_name = "rentals"
urlpatterns = [
    # The path is part of every webhook URL already registered with the provider: never change it.
    path("hooks/sms/<str:token>/", sms_webhook, name="sms_webhook"),
    # Probes ask for it by this path (and production settings exempt it from the HTTPS redirect).
    path("healthz", healthz, name="healthz"),
]
