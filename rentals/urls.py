from django.urls import path, register_converter

from .views import healthz, livez, metrics, readyz
from .webhooks import sms_webhook, telegram_webhook


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
    path("hooks/telegram/<webhook_token:secret>/", telegram_webhook, name="telegram_webhook"),
    # Probes ask for them by these paths (and production settings exempt them from the HTTPS redirect):
    # the whole stack for monitoring and people, this process for a supervisor, this web's readiness to
    # take a webhook for a load balancer (docs/deploy.md, "Health").
    path("healthz", healthz, name="healthz"),
    path("livez", livez, name="livez"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
]
