"""/metrics: what a Prometheus server scrapes, read back with prometheus-client's own parser."""

import json
import re
import socket
import threading
from decimal import Decimal
from pathlib import Path

import pytest
import redis
import yaml
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from harness.servers import PROJECT, wait_until
from rentals import metrics, services, tasks
from rentals.models import SmsMessage, WebhookDelivery
from rentals.queues import BACKGROUND_QUEUE, URGENT_QUEUE

from ..conftest import database_away, task_sender
from ..factories import rent_number
from .test_health import skip_on_sqlite

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "m" * 40


@pytest.fixture
def scraped(settings, redis_url, monkeypatch):
    """Metrics on, counted in the test's Redis, starting from nothing; ``scraped()`` reads /metrics as
    Prometheus would and returns its samples as {(name, labels): value}."""
    from django.test import Client

    settings.RENTDESK_METRICS_TOKEN = TOKEN
    settings.REDIS_URL = settings.CELERY_BROKER_URL = redis_url
    client = redis.Redis.from_url(redis_url)
    client.delete(*client.keys(metrics.PREFIX + "*") or ["-"], URGENT_QUEUE, BACKGROUND_QUEUE)
    monkeypatch.setattr(metrics, "_quiet_until", 0.0)  # a test that took Redis away left it quiet

    def scrape() -> dict[tuple[str, tuple], float]:
        response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
        samples = {}
        for family in text_string_to_metric_families(response.content.decode()):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    return scrape


def webhook(client, rental, text: str):
    body = json.dumps({"rentId": rental.provider_rent_id,
                       "sms": {"phoneFrom": "Bank", "text": text, "date": "2030-01-01 12:00:00"}})  # fmt: skip
    url = reverse("rentals:sms_webhook", args=[rental.webhook_token])
    return client.post(url, body, content_type="application/json")


def test_metrics_are_not_served_without_a_token_setting(client, settings):
    settings.RENTDESK_METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", TOKEN])
def test_metrics_need_the_bearer_token(client, settings, header):
    settings.RENTDESK_METRICS_TOKEN = TOKEN
    response = client.get("/metrics", **({"HTTP_AUTHORIZATION": header} if header else {}))
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert b"rentdesk_" not in response.content


def test_each_sms_by_webhook_is_timed_once_from_arrival_to_stored_and_to_the_screen(client, scraped, account, catalog):
    rental = rent_number(account, catalog, webhook=True).rental
    for text in ("Code 1111", "Code 2222", "Code 2222"):  # the last is the same SMS again
        assert webhook(client, rental, text).status_code == 200
    tasks.process_webhooks(WebhookDelivery.objects.order_by("pk").first().pk)
    assert SmsMessage.objects.count() == 2
    samples = scraped()
    for name in ("rentdesk_webhook_stored_seconds", "rentdesk_webhook_on_screen_seconds"):
        assert samples[(f"{name}_count", ())] == 2
        assert samples[(f"{name}_bucket", (("le", "+Inf"),))] == 2
        assert samples[(f"{name}_sum", ())] >= 0
    assert samples[("rentdesk_webhook_deliveries_unprocessed", ())] == 0


def test_provider_calls_rent_attempts_and_spend_are_counted_by_outcome(client, scraped, account, catalog, simulator):
    rental = rent_number(account, catalog, webhook=True).rental
    simulator.force(token="NO_NUMBERS")
    assert rent_number(account, catalog, webhook=True).token == "NO_NUMBERS"
    samples = scraped()
    calls = {"account": account.name, "action": "getRentNumber"}
    assert samples[("rentdesk_provider_calls_total", tuple(sorted({**calls, "outcome": "OK"}.items())))] == 1
    assert samples[("rentdesk_provider_calls_total", tuple(sorted({**calls, "outcome": "NO_NUMBERS"}.items())))] == 1
    assert samples[("rentdesk_rent_attempts_total", (("state", "succeeded"), ("token", "")))] == 1
    assert samples[("rentdesk_rent_attempts_total", (("state", "failed"), ("token", "NO_NUMBERS")))] == 1
    spend = samples[("rentdesk_account_spend_usd", (("account", account.name),))]
    assert Decimal(str(spend)) == rental.cost > 0


class RedisThatNeverAnswers:
    """A TCP server where Redis would be: it takes what is sent and answers nothing."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.received = b""
        self.open = False
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        self.open = True
        while chunk := connection.recv(4096):
            self.received += chunk
        self.open = False  # the client gave up on its answer


def test_a_rent_does_not_wait_on_redis_for_its_count(settings, monkeypatch, account, catalog, simulator):
    redis_away = RedisThatNeverAnswers()
    settings.REDIS_URL = redis_away.url
    monkeypatch.setattr(metrics, "_quiet_until", 0.0)
    assert rent_number(account, catalog, webhook=True).ok
    # The count's connection is made, and still waits for Redis's first answer: the rent came back
    # without it (waiting, it would have come back once its client gave up, the connection closed).
    assert wait_until(lambda: redis_away.received, seconds=10)
    assert redis_away.open


def test_queue_depth_and_the_oldest_task_waiting_are_per_queue(scraped, redis_url):
    sender = task_sender(redis_url)
    for _ in range(3):
        sender.send_task("rentals.tasks.process_webhooks")  # urgent; no worker runs here
    sender.send_task("rentals.tasks.check_balances")
    samples = scraped()
    assert samples[("rentdesk_queue_depth", (("queue", URGENT_QUEUE),))] == 3
    assert samples[("rentdesk_queue_depth", (("queue", BACKGROUND_QUEUE),))] == 1
    assert samples[("rentdesk_queue_oldest_task_age_seconds", (("queue", URGENT_QUEUE),))] > 0
    assert samples[("rentdesk_redis_up", ())] == 1


def test_without_redis_the_sms_is_stored_and_metrics_still_answer_from_the_database(
    client, scraped, settings, account, catalog
):
    rental = rent_number(account, catalog, webhook=True).rental
    settings.REDIS_URL = settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    assert webhook(client, rental, "Code 3333").status_code == 200
    tasks.process_webhooks(WebhookDelivery.objects.get().pk)
    assert SmsMessage.objects.filter(code="3333").exists()
    samples = scraped()
    assert samples[("rentdesk_redis_up", ())] == 0
    assert samples[("rentdesk_rent_attempts_total", (("state", "succeeded"), ("token", "")))] == 1


def shipped_metric_names() -> set[str]:
    """Every rentdesk_* name the dashboard and the alert examples in deploy/ use."""
    shipped = [*Path(PROJECT, "deploy", "grafana").glob("*.json"), *Path(PROJECT, "deploy", "prometheus").glob("*")]
    assert shipped, "deploy/grafana and deploy/prometheus ship a dashboard and alert rules"
    return {name for path in shipped for name in re.findall(r"\brentdesk_[a-z_]+", path.read_text())}


def test_the_shipped_dashboard_and_alerts_use_only_metrics_rentdesk_serves(client, scraped, account, catalog):
    rental = rent_number(account, catalog, webhook=True).rental
    assert webhook(client, rental, "Code 4444").status_code == 200
    tasks.process_webhooks(WebhookDelivery.objects.get().pk)
    services.account_check_balance(account=account)
    served = {name for name, _labels in scraped()}
    assert shipped_metric_names() - served == set()


def test_the_alert_examples_are_well_formed_rules_with_unique_names():
    rules = yaml.safe_load(Path(PROJECT, "deploy", "prometheus", "rentdesk-alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert alerts and all({"alert", "expr", "annotations"} <= rule.keys() for rule in alerts)
    assert len({rule["alert"] for rule in alerts}) == len(alerts)


def test_with_the_database_away_metrics_still_answer_with_the_queues(scraped, redis_url):
    skip_on_sqlite()
    task_sender(redis_url).send_task("rentals.tasks.process_webhooks")
    with database_away():
        samples = scraped()
    assert samples[("rentdesk_database_up", ())] == 0
    assert samples[("rentdesk_queue_depth", (("queue", URGENT_QUEUE),))] == 1
    assert ("rentdesk_rent_attempts_total", (("state", "succeeded"), ("token", ""))) not in samples


def test_the_fault_suite_waits_as_long_as_a_process_leaves_redis_alone():
    """S3 reads /metrics after S2 restarted Redis: it must wait until every process counts again."""
    from faults.storms import METRICS_QUIET_SECONDS

    assert METRICS_QUIET_SECONDS >= metrics.QUIET_AFTER_FAILURE
