"""/healthz and the dashboard's health block, against a real Redis and a real beat scheduler tick."""

import os
import re
import subprocess
import sys
import tomllib

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.urls import reverse

from config.celery import app, broker_location
from rentals.beat import SingleBeatScheduler
from rentals.health import BEAT_LOCK_KEY, WEBHOOKS_KEPT_KEY, broker_redis

from ..conftest import PROJECT, database_away, free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker(settings, redis_url):
    """The health check and the scheduler look at this Redis; no beat lock is held at the start."""
    settings.CELERY_BROKER_URL = redis_url
    client = broker_redis()
    client.delete(BEAT_LOCK_KEY)
    yield client
    client.delete(BEAT_LOCK_KEY)


@pytest.fixture
def beat(broker):
    """A beat scheduler that has ticked once, as `celery beat` does every few seconds."""
    scheduler = SingleBeatScheduler(app=app, lazy=False)
    scheduler.tick()
    yield scheduler
    scheduler.close()


def test_healthz_is_200_when_the_database_and_broker_answer_and_beat_ticked(client, beat):
    response = client.get("/healthz")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "broker": True,
        "beat": True,
    }
    assert 0 <= body["checks"]["beat"]["seconds_since_tick"] <= 30
    assert "no-cache" in response["Cache-Control"]


def test_healthz_names_beat_when_no_beat_ticked(client, broker):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["beat"]
    assert response.json()["checks"]["beat"]["problem"] == "no_recent_tick"


def test_healthz_names_the_broker_when_redis_does_not_answer(client, settings, beat):
    settings.CELERY_BROKER_URL = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"  # nothing listens
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["down"] == ["broker", "beat"]
    assert body["checks"]["broker"] == {"ok": False, "problem": "unreachable"}
    assert "hunter2" not in response.content.decode() and "127.0.0.1" not in response.content.decode()


def test_a_beat_that_closes_lets_go_of_the_lock_at_once(client, beat):
    beat.close()
    assert client.get("/healthz").json()["down"] == ["beat"]


def test_healthz_needs_no_login_and_only_reads(client, beat):
    assert client.get("/healthz").status_code == 200  # the client is not logged in
    assert client.post("/healthz").status_code == 405


def test_the_dashboard_shows_the_same_health(client, broker):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_user("viewer", password="pw", is_staff=True))
    html = client.get(reverse("admin:index")).content.decode()
    health = html[html.index('id="rentdesk-health"') :]
    health = health[: health.index("</div>")]
    assert "Database" in health and "Broker (Redis)" in health and "Beat (scheduled jobs)" in health
    assert "No beat has ticked in the last 30 seconds" in health


def test_the_dashboard_names_the_beat_that_runs(client, beat):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_user("viewer", password="pw", is_staff=True))
    html = client.get(reverse("admin:index")).content.decode()
    assert "OK: last tick" in html and beat._identity in html


def test_processes_log_the_broker_without_its_password():
    assert broker_location("redis://:hunter2@redis.internal:6380/1") == "redis://redis.internal:6380/1"
    assert broker_location("rediss://rentdesk:hunter2@10.0.0.5/0") == "rediss://10.0.0.5/0"


def test_healthz_and_the_admin_say_which_release_runs_as_the_changelog_names_it(client, beat):
    version = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["version"]
    # Keep a Changelog: what is not released yet sits under "Unreleased", above the newest release.
    newest = re.search(r"^## \[(?!Unreleased)([^\]]+)\]", (PROJECT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert newest is not None and newest.group(1) == version
    assert client.get("/healthz").json()["version"] == version
    client.force_login(User.objects.create_superuser("olena", password="pw"))
    assert f"Rentdesk {version}" in client.get("/admin/").content.decode()


def test_livez_answers_while_neither_the_database_nor_redis_does(client, settings):
    """A supervisor restarting web processes on it would restart every one during a database restart."""
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens
    with database_away():
        response = client.get("/livez")
    assert response.status_code == 200 and response.content == b"ok"


def test_readyz_stays_ready_through_a_beat_or_redis_restart_that_healthz_reports(client, settings, broker):
    """A load balancer pointed at /readyz keeps a web that still stores webhooks (/healthz says 503 here)."""
    assert client.get("/healthz").status_code == 503  # no beat ticked
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == {"ok": True}
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"  # Redis restarting
    assert client.get("/readyz").status_code == 200


def test_readyz_stays_ready_while_the_database_is_away_and_redis_keeps_webhooks(client, broker):
    skip_on_sqlite()
    with database_away():
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": {"ok": False}, "webhook_spool": {"ok": True}}


def test_readyz_is_503_when_a_webhook_could_be_neither_stored_nor_kept(client, settings, broker):
    skip_on_sqlite()
    settings.RENTDESK_WEBHOOK_SPOOL_ENTRIES = 1
    broker.rpush(WEBHOOKS_KEPT_KEY, "{}")  # the spool is full
    try:
        with database_away():
            response = client.get("/readyz")
    finally:
        broker.delete(WEBHOOKS_KEPT_KEY)
    assert response.status_code == 503 and response.json()["status"] == "unavailable"


def skip_on_sqlite() -> None:
    if connection.vendor == "sqlite":
        pytest.skip("a SQLite file answers reads while another connection holds it: it is never away here")


def test_a_503_of_healthz_is_logged_as_information_not_as_an_error(tmp_path):
    """Probes ask every few seconds: an ERROR line for each, while Redis restarts, is noise. Run as a
    process of its own, so that its log goes where the settings send it."""
    script = (
        "import django; django.setup(); from django.test import Client; "
        "print(Client().get('/healthz', HTTP_HOST='localhost').status_code)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "RENTDESK_ENV_FILE": os.devnull,
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT, env=env, capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.stdout.strip() == "503", result.stderr[-2000:]
    assert "INFO django.request: Service Unavailable: /healthz" in result.stderr and "ERROR" not in result.stderr
