"""`make run` as a person runs it: on a fresh copy of the project, on free ports, then Ctrl-C.

What they read must be quiet: no warning on a first run, no traceback on the way out, no "Error 130",
each email the worker sends shown as an email, no line per live check of an open page.
"""

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 180

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="no make on PATH")

# In the scratch copy's database: a rental two hours from its end, then the reminders, now.
SEND_A_REMINDER = """
from datetime import timedelta
from celery import current_app
from django.utils import timezone
from rentals.models import Country, ProviderAccount, Service
from tests.factories import RentalFactory
RentalFactory(account=ProviderAccount.objects.get(), service=Service.objects.get(code="tg"),
              country=Country.objects.get(provider_id=1), end_date=timezone.now() + timedelta(minutes=90))
current_app.send_task("rentals.tasks.send_expiry_reminders")
"""


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for each in sockets:
        each.bind(("127.0.0.1", 0))
    ports = [each.getsockname()[1] for each in sockets]
    for each in sockets:
        each.close()
    return ports


def scratch_copy(target: Path) -> None:
    """The project as a fresh checkout has it (what git tracks, and new files it does not ignore: never a
    developer's own database or .env), with the installed virtualenv beside it."""
    git = [shutil.which("git") or "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    listed = subprocess.run(git, cwd=PROJECT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = PROJECT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to((PROJECT / ".venv").resolve())


class Output:
    """The process's output, read as it comes (a pipe left unread would block it)."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in iter(stream.readline, ""):
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, words: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while words not in self.text():
            assert time.monotonic() < deadline, f"{words!r} never came:\n{self.text()[-3000:]}"
            time.sleep(0.2)

    def finish(self) -> None:
        self._thread.join(timeout=10)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (a loopback URL made here)
            return True
    except OSError as error:
        return getattr(error, "code", None) is not None  # an HTTP error is an answer too


def status_of(base_url: str, path: str) -> int:
    connection = http.client.HTTPConnection(base_url.removeprefix("http://"), timeout=10)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.fixture
def running_app():
    """`make run` in a scratch copy, in a session of its own as a terminal would start it."""
    web, simulator, redis = free_ports(3)
    env = {key: value for key, value in os.environ.items()
           if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "RENTDESK_ENV_FILE"}}  # fmt: skip
    env.update(WEB_PORT=str(web), SIMULATOR_PORT=str(simulator), REDIS_PORT=str(redis))
    with tempfile.TemporaryDirectory(prefix="rentdesk-make-run-") as scratch:
        root = Path(scratch)
        scratch_copy(root)
        # The virtualenv is installed already: make must not reinstall it from the copy's newer files.
        command = [shutil.which("make"), "--no-print-directory", "-o", ".venv/.installed", "run"]
        make = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)  # fmt: skip
        output = Output(make.stdout)
        try:
            yield make, output, root, env, f"http://127.0.0.1:{web}"
        finally:
            if make.poll() is None:
                os.killpg(make.pid, signal.SIGKILL)
            make.wait(timeout=30)
            output.finish()
            end_what_was_started(output.text())


def end_what_was_started(text: str) -> None:
    """Whatever a failed stop left running: each process honcho started leads a session of its own."""
    for pid in re.findall(r" started \(pid=(\d+)\)", text):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(pid), signal.SIGKILL)


def test_make_run_starts_and_stops_quietly(running_app):
    make, output, root, env, base_url = running_app
    deadline = time.monotonic() + STARTUP_SECONDS
    while not answers(f"{base_url}/admin/login/"):
        assert make.poll() is None, output.text()[-3000:]
        assert time.monotonic() < deadline, output.text()[-3000:]
        time.sleep(0.5)
    output.wait_for("celery.apps.worker: background@", STARTUP_SECONDS)  # "… ready."

    # An open page's live checks: not written one by one (the login page's request still is).
    for _ in range(3):
        assert status_of(base_url, "/admin/rentals/rental/last-sms.json?ids=1") == 302  # not signed in

    reminder = [".venv/bin/python", "manage.py", "shell", "--no-imports", "-c", SEND_A_REMINDER]
    subprocess.run(reminder, cwd=root, check=True, env=env)
    output.wait_for("Subject:", 60)
    output.wait_for("-" * 79, 30)  # the end of the email

    os.killpg(make.pid, signal.SIGINT)  # Ctrl-C at the terminal
    make.wait(timeout=60)
    output.finish()
    text = output.text()

    assert "Traceback" not in text, text[-5000:]
    assert "WARNING" not in text, [line for line in text.splitlines() if "WARNING" in line]
    assert "Error" not in text.split("stopping (Ctrl-C again to kill)")[-1], text[-3000:]
    assert "Error 130" not in text
    # make itself was interrupted too: it ends as an interrupted program does, with nothing to say. GNU
    # make kills itself with the signal it caught once its recipe has ended, whatever the recipe's status
    # (130 in a shell): the convention that lets a calling script stop on Ctrl-C too. Another make may
    # end with the script's 0.
    assert make.returncode in (0, -signal.SIGINT), make.returncode
    # Every process ended as asked, Redis last.
    stopped = [line.split("| ")[-1].strip() for line in text.splitlines() if " stopped (rc=" in line]
    assert len(stopped) == 6 and all(line.endswith(("(rc=0)", "(rc=-15)")) for line in stopped), stopped
    assert {stopped[-1].split()[0], stopped[-2].split()[0]} == {"redis", "simulator"}

    email = [line for line in text.splitlines() if "Subject:" in line]
    assert email and all("celery.redirected" not in line for line in email), email
    assert "sms.json" not in text and '"GET /admin/login/ HTTP/1.1" 200' in text
