"""Settings: local use needs no variables; production refuses to start without its secrets."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

PROJECT = Path(__file__).resolve().parents[2]
GOOD = {
    "DJANGO_SECRET_KEY": "x" * 50,
    "DJANGO_ALLOWED_HOSTS": "rentdesk.example.com",
    "API_KEY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "DATABASE_URL": "sqlite:////tmp/rentdesk-settings-check.sqlite3",
    "PUBLIC_BASE_URL": "https://rentdesk.example.com",
    "EMAIL_URL": "smtp://mail.example.com:587",
}


def check(
    settings_module: str, env: dict[str, str], command: tuple[str, ...] = ("check",)
) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in GOOD and not k.startswith(("DJANGO_", "SMSONLINE_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=PROJECT,
        env={**clean, "DJANGO_SETTINGS_MODULE": settings_module, "RENTDESK_ENV_FILE": os.devnull, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_local_settings_need_no_variables():
    assert check("config.settings.local", {}).returncode == 0


def test_production_starts_with_its_secrets():
    result = check("config.settings.production", GOOD)
    assert result.returncode == 0, result.stderr


def test_production_takes_a_plain_http_api_url_only_for_an_allowed_local_host():
    local = {"SMSONLINE_API_URL": "http://127.0.0.1:8001/stubs/handler_api.php", "SMSONLINE_ALLOWED_HOSTS": "127.0.0.1"}
    assert check("config.settings.production", {**GOOD, **local}).returncode == 0


@pytest.mark.parametrize(("settings_module", "env", "required"), [
    ("config.settings.local", {}, "False"),  # `make run`'s superuser signs in with its password
    ("config.settings.production", GOOD, "True"),
    ("config.settings.production", {**GOOD, "RENTDESK_REQUIRE_2FA": "false"}, "False"),
])  # fmt: skip
def test_two_factor_sign_in_is_required_in_production_by_default(settings_module, env, required):
    shown = "from django.conf import settings; print(settings.RENTDESK_REQUIRE_2FA)"
    result = check(settings_module, env, ("shell", "-c", shown))
    assert result.stdout.strip().splitlines()[-1] == required, result.stderr


def test_production_on_sqlite_waits_for_locks_like_local_use():
    """Web, worker and beat share the file there too: a lock is waited for, not a 503 at once."""
    show = "from django.db import connection; print(*connection.settings_dict['OPTIONS'].values())"
    shown = check("config.settings.production", GOOD, ("shell", "-c", show))
    assert "20 IMMEDIATE PRAGMA journal_mode=WAL;" in shown.stdout, shown.stdout + shown.stderr


@pytest.mark.parametrize(
    "missing", ["DJANGO_SECRET_KEY", "API_KEY_ENCRYPTION_KEYS", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL"]
)
def test_production_refuses_to_start_without_a_secret(missing):
    result = check("config.settings.production", {k: v for k, v in GOOD.items() if k != missing})
    assert result.returncode != 0 and missing in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("API_KEY_ENCRYPTION_KEYS", "cmVudGRlc2stbG9jYWwtZGV2LW9ubHkta2V5LTMyYiE="),
        ("DJANGO_SECRET_KEY", "short"),
        ("PROVIDER_TIMEZONE", "Mars/Olympus"),
        ("SMSONLINE_TIMEOUT", "0"),
        ("SMSONLINE_TIMEOUT", "thirty"),
        ("API_KEY_ENCRYPTION_KEYS", "not-a-fernet-key"),
        ("PUBLIC_BASE_URL", "rentdesk.example.com"),
        ("PUBLIC_BASE_URL", "http://rentdesk.example.com"),
        ("PUBLIC_BASE_URL", "https://rentdesk.example.com/?x=1"),
        ("PUBLIC_BASE_URL", "http://[::1"),
        ("RENTDESK_REMINDER_HOURS", "72,soon"),
        ("RENTDESK_LOGIN_FAILURE_LIMIT", "0"),
        ("RENTDESK_LOGIN_LOCKOUT_MINUTES", "2.5"),
        ("RENTDESK_LANGUAGE", "ukrainian"),
        ("RENTDESK_TRUSTED_PROXIES", "127.0.0.1,proxy.example"),
        ("SMSONLINE_API_URL", "ftp://api.sms.online/stubs/handler_api.php"),
        ("SMSONLINE_API_URL", "http://api.sms.online/stubs/handler_api.php"),  # the key would travel in clear
    ],
)
def test_unsafe_or_malformed_values_are_refused_with_a_clear_message(name, value):
    result = check("config.settings.production", {**GOOD, name: value})
    assert result.returncode != 0 and name in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def logged_by_local_settings(script: str) -> subprocess.CompletedProcess:
    """``script`` run by a fresh Python with the local settings and no environment file: what it logged."""
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "RENTDESK_ENV_FILE": os.devnull},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("logger", ["django.request", "rentals", "celery.app.trace", "root"])
def test_every_log_handler_redacts_an_api_key_in_a_url(logger):
    script = (
        "import django, logging; django.setup(); "
        f"logging.getLogger({logger!r} if {logger!r} != 'root' else None)"
        ".error('GET /stubs/handler_api.php?api_key=SECRET123abc&action=getBalance')"
    )
    result = logged_by_local_settings(script)
    assert "handler_api.php?api_key=[REDACTED]" in result.stderr
    assert "SECRET123abc" not in result.stdout + result.stderr


@pytest.mark.parametrize("logger", ["django.request", "django.server", "rentals", "root"])
def test_every_log_handler_masks_a_webhook_token(logger):
    """Django wrote /hooks/sms/<token>/ on every 400, 405 and 500 (the request log) and in runserver's
    request lines; the token lets anyone post SMS to the rental."""
    lines = [
        "Method Not Allowed (GET): /hooks/sms/TOKENsecret123/",
        '"POST /hooks%2Fsms%2FTOKENsecret456/ HTTP/1.1" 400',
    ]
    script = (
        "import django, logging; django.setup(); "
        f"log = logging.getLogger({logger!r} if {logger!r} != 'root' else None); "
        + "; ".join(f"log.error({line!r})" for line in lines)
    )
    result = logged_by_local_settings(script)
    assert "(GET): /hooks/sms/[token]/" in result.stderr and "/hooks%2Fsms%2F[token]/ " in result.stderr
    assert "TOKENsecret" not in result.stdout + result.stderr


def test_gunicorns_error_log_masks_a_webhook_token():
    """gunicorn logs the URI of a request the application failed under, in its own logger."""
    script = (
        "import runpy; from gunicorn.config import Config; from gunicorn.glogging import Logger; "
        "settings = runpy.run_path('config/gunicorn.py'); config = Config(); "
        "config.set('logconfig_dict', settings['logconfig_dict']); log = Logger(config); "
        "log.error('Error handling request %s', '/hooks/sms/TOKENsecret789/'); "
        "log.access(type('R', (), {'status': '200 OK', 'headers': []})(), "
        "type('Q', (), {'headers': [], 'uri': '/hooks/sms/TOKENsecret000/'})(), {}, 0)"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "RENTDESK_ENV_FILE": os.devnull})  # fmt: skip
    assert "Error handling request /hooks/sms/[token]/" in result.stderr, result.stderr
    assert "TOKENsecret" not in result.stdout + result.stderr


def test_an_environment_file_that_is_not_there_is_named():
    """A typo in RENTDESK_ENV_FILE used to show as the first required setting the file held."""
    result = check("config.settings.production", {**GOOD, "RENTDESK_ENV_FILE": "/etc/rentdesk/nope.env"})
    assert result.returncode != 0
    assert "RENTDESK_ENV_FILE names /etc/rentdesk/nope.env, which does not exist." in result.stderr


def test_the_team_language_is_read_from_the_environment():
    shown = check("config.settings.production", {**GOOD, "RENTDESK_LANGUAGE": "UK"},
                  ("shell", "-c", "from django.conf import settings; print(settings.LANGUAGE_CODE)"))  # fmt: skip
    assert shown.stdout.strip().splitlines()[-1] == "uk", shown.stderr


def test_old_secret_keys_are_read_from_the_environment_and_must_have_been_real_ones():
    old = "o" * 50
    shown = "from django.conf import settings; print(settings.SECRET_KEY_FALLBACKS)"
    result = check("config.settings.production", {**GOOD, "DJANGO_SECRET_KEY_FALLBACKS": old}, ("shell", "-c", shown))
    assert result.stdout.strip().splitlines()[-1] == repr([old]), result.stderr
    refused = check("config.settings.production", {**GOOD, "DJANGO_SECRET_KEY_FALLBACKS": "short"})
    assert refused.returncode != 0 and "DJANGO_SECRET_KEY_FALLBACKS" in refused.stderr


@pytest.mark.django_db
def test_people_stay_signed_in_across_a_secret_key_rotation_while_the_old_key_is_kept(settings):
    from django.contrib.auth.models import User
    from django.test import Client

    olena = User.objects.create_superuser("olena", password="pw")
    kept, dropped = Client(), Client()
    kept.force_login(olena)
    dropped.force_login(olena)
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "n" * 50
    assert dropped.get("/admin/").status_code == 302  # without the old key: signed out
    settings.SECRET_KEY_FALLBACKS = [old]
    assert kept.get("/admin/").status_code == 200


def test_check_deploy_fails_when_waiting_requests_could_take_the_threads_webhooks_need():
    deploy = ("check", "--deploy", "--fail-level", "WARNING")
    fine = check("config.settings.production", GOOD, deploy)
    assert "rentals.W003" not in fine.stdout + fine.stderr
    crowded = check("config.settings.production", {**GOOD, "WEB_THREADS": "4"}, deploy)
    assert crowded.returncode != 0 and "rentals.W003" in crowded.stderr, crowded.stdout + crowded.stderr


def test_check_deploy_fails_on_a_metrics_token_short_enough_to_guess():
    deploy = ("check", "--deploy", "--fail-level", "WARNING")
    strong = check("config.settings.production", {**GOOD, "RENTDESK_METRICS_TOKEN": "t" * 43}, deploy)
    assert "rentals.W004" not in strong.stdout + strong.stderr
    weak = check("config.settings.production", {**GOOD, "RENTDESK_METRICS_TOKEN": "hunter2"}, deploy)
    assert weak.returncode != 0 and "rentals.W004" in weak.stderr, weak.stdout + weak.stderr
    assert "hunter2" not in weak.stderr  # the token itself is not shown


def test_the_chat_servers_a_team_names_are_read_from_the_environment_and_checked():
    named = {**GOOD, "RENTDESK_CHAT_ALLOWED_HOSTS": "Chat.Corp.Example., 10.8.0.7"}
    read = "from django.conf import settings; print(settings.RENTDESK_CHAT_ALLOWED_HOSTS)"
    shown = check("config.settings.production", named, ("shell", "-c", read))
    assert shown.stdout.strip().splitlines()[-1] == "['chat.corp.example', '10.8.0.7/32']", shown.stderr
    refused = check("config.settings.production", {**GOOD, "RENTDESK_CHAT_ALLOWED_HOSTS": "chat.corp, http://x/"})
    assert refused.returncode != 0 and "RENTDESK_CHAT_ALLOWED_HOSTS: 'http://x/' is neither" in refused.stderr


def test_a_page_naming_a_static_file_the_running_release_lacks_is_served_not_a_500(tmp_path):
    """Between `git pull` and the end of `make reload`, a running worker renders new templates with the
    manifest it started with."""
    from config.static_files import ReleaseTolerantStaticFilesStorage

    manifest = {"paths": {"rentals/known.css": "rentals/known.0123456789ab.css"}, "version": "1.1"}
    (tmp_path / "staticfiles.json").write_text(json.dumps(manifest))
    storage = ReleaseTolerantStaticFilesStorage(location=str(tmp_path), base_url="/static/")
    assert storage.url("rentals/known.css") == "/static/rentals/known.0123456789ab.css"
    assert storage.url("rentals/added-since.css") == "/static/rentals/added-since.css"  # not collected yet
    (tmp_path / "rentals").mkdir()
    (tmp_path / "rentals" / "collected-since.css").write_text("body {}")
    hashed = storage.url("rentals/collected-since.css")  # collected, not yet in this manifest: hashed from the file
    assert re.fullmatch(r"/static/rentals/collected-since\.[0-9a-f]{12}\.css", hashed)
    shown = "from django.conf import settings; print(settings.STORAGES['staticfiles']['BACKEND'])"
    used = check("config.settings.production", GOOD, ("shell", "-c", shown))
    assert used.stdout.strip().splitlines()[-1] == "config.static_files.ReleaseTolerantStaticFilesStorage", used.stderr


def test_the_web_log_leaves_out_the_live_checks_that_succeeded_and_keeps_the_rest():
    """Each open page checks for SMS every 1.5 s: a line for each buried the log; a failed one matters."""
    requests = [
        ("GET /admin/rentals/rental/7/sms.json HTTP/1.1", "200", "quiet-1"),
        ("GET /admin/rentals/rental/last-sms.json?ids=1,2 HTTP/1.1", "200", "quiet-2"),
        ("GET /admin/rentals/rental/new-sms.json?after=9&open= HTTP/1.1", "304", "quiet-3"),
        ("GET /admin/rentals/rental/new-sms.json?after=9 HTTP/1.1", "500", "kept-1"),
        ("GET /admin/rentals/rental/ HTTP/1.1", "200", "kept-2"),
    ]
    # As runserver's request handler logs each request (django.core.servers.basehttp).
    script = "import django, logging; django.setup(); log = logging.getLogger('django.server'); " + "; ".join(
        f"log.log(40 if {code!r} >= '500' else 20, '\"%s\" %s %s', {line!r}, {code!r}, {size!r}, "
        f"extra={{'status_code': int({code!r})}})"
        for line, code, size in requests
    )
    result = logged_by_local_settings(script)
    assert "quiet-" not in result.stderr + result.stdout
    assert "kept-1" in result.stderr and "kept-2" in result.stderr
