from django.urls import path, register_converter

from .views import healthz
from .webhooks import sms_webhook


class WebhookToken:
    """A rental's webhook token, as ``secrets.token_urlsafe`` writes it. Anything else is no rental's
    (a NUL in it failed the lookup on PostgreSQL, as a server error): 404 before any query."""

    regex = "[A-Za-z0-9_-]{1,100}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(WebhookToken, "webhook_token")

app_name = "rentals"
urlpatterns = [
    # The path is part of every webhook URL already registered with the provider: never change it.
    path("hooks/sms/<webhook_token:token>/", sms_webhook, name="sms_webhook"),
    # Probes ask for it by this path (and production settings exempt it from the HTTPS redirect).
    path("healthz", healthz, name="healthz"),
]
