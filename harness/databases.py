"""Scratch databases: a SQLite file, a new database on a PostgreSQL server (dropped at the end), or a
PostgreSQL server of its own on a free port; Django migrated on one; a database taken away for a while,
as when its server restarts.

Plain Python with no pytest: the production stack (harness/stack.py), the benchmarks (bench/) and the
fault suite (faults/) make their databases here; the tests' own database is pytest-django's.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .servers import PROJECT, free_port

POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql")


def server_of(url: str) -> str:
    """The server part of a PostgreSQL URL, without a database name: scratch databases are made there.
    Empty for an empty URL; ValueError for a URL of another kind."""
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in POSTGRES_SCHEMES:
        raise ValueError(f"a postgres:// URL is needed, not {parts.scheme}://…")
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def create_database(server: str, *, prefix: str) -> str:
    """A new, empty database on the PostgreSQL ``server``, named ``prefix`` and a random suffix; its name."""
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(server + "/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_databases(server: str, names: list[str]) -> None:
    """Drop ``names`` on ``server``, cutting whoever is still connected to them."""
    import psycopg

    with psycopg.connect(server + "/postgres", autocommit=True) as admin:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def django_migrated(database_url: str) -> None:
    """Django in this process (test settings: fast hashing, no mail; DEBUG off, as in production: with it
    on, Django keeps and logs every statement, a cost no server pays), migrated on ``database_url``."""
    sys.path.insert(0, str(PROJECT))
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["RENTDESK_ENV_FILE"] = os.devnull
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"  # the test client's host
    os.environ["DJANGO_DEBUG"] = "false"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


@contextlib.contextmanager
def sqlite_locked(path: str, *, timeout: float = 30) -> Iterator[None]:
    """The SQLite file locked exclusively by another connection: no one else writes (or reads) meanwhile."""
    connection = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        connection.execute("BEGIN EXCLUSIVE")
        yield
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def unavailable_for(database_url: str, *, seconds: float, before_back: Callable[[], None] = lambda: None) -> str:
    """Make the database refuse everyone for ``seconds`` (``before_back`` runs at their end, the database
    still away); says how."""
    if database_url.startswith("sqlite:///"):
        with sqlite_locked(sqlite_path(database_url)):
            time.sleep(seconds)
            before_back()
        return f"SQLite locked exclusively for {seconds:.0f} s (writers wait up to its 20 s lock timeout)"
    import psycopg

    server, name = database_url.rsplit("/", 1)
    with psycopg.connect(server + "/postgres", autocommit=True) as admin:
        # What a PostgreSQL restart does to its clients: open connections cut, new ones refused.
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
        time.sleep(seconds)
        before_back()
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    return f"PostgreSQL refused connections and cut the open ones for {seconds:.0f} s"


# --- a PostgreSQL server of its own -----------------------------------------------------------------


def initdb() -> tuple[str | None, str]:
    """The newest initdb on this machine, or None and why it cannot make a cluster here."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb") or ""]
    if not found[-1]:
        return None, "no PostgreSQL server is installed (Debian package 'postgresql')"
    if os.geteuid() == 0 and not _has_user("postgres"):
        return None, "initdb refuses to run as root and there is no 'postgres' user to run it"
    return found[-1], ""


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class ThrowawayCluster:
    """A PostgreSQL cluster in a temporary directory on a free loopback port, as .ci/run starts one."""

    def __init__(self, binaries: Path) -> None:
        self.binaries, self.port = binaries, free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="rentdesk-pg-"))
        # initdb refuses root: as root, the cluster belongs to the postgres user.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}"

    def start(self) -> None:
        if self.as_user:
            shutil.chown(self.directory, "postgres")
        self._run("initdb", "-D", f"{self.directory}/data", "-U", "postgres", "-A", "trust", "--no-sync")
        self._pg_ctl_start()

    def away_for(self, seconds: float) -> None:
        """Stopped (fast: open connections cut) for ``seconds``, then started again, as a restart does."""
        self._run("pg_ctl", "-D", f"{self.directory}/data", "-m", "fast", "-w", "stop")
        time.sleep(seconds)
        self._pg_ctl_start()

    def stop(self) -> None:
        self._run("pg_ctl", "-D", f"{self.directory}/data", "-m", "fast", "stop", check=False)
        shutil.rmtree(self.directory, ignore_errors=True)

    def _pg_ctl_start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", f"{self.directory}/data", "-l", f"{self.directory}/log", "-w", "-o", options, "start")

    def _run(self, program: str, *arguments: str, check: bool = True) -> None:
        command = [*self.as_user, str(self.binaries / program), *arguments]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise SystemExit(f"{program} failed:\n{result.stdout}{result.stderr}")
