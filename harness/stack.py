"""The production stack on loopback, started the way docs/deploy.md sets up a server.

The environment comes from scripts/write_production_env.py (deploy/rentdesk.env.example with
fresh secrets), read the way systemd's EnvironmentFile reads it. The web, worker and beat
commands are the ExecStart lines of deploy/systemd/, the release commands their ExecStartPre
lines, and nginx runs deploy/nginx/rentdesk.conf with a self-signed certificate. Only the
addresses (free loopback ports) and paths (a temporary directory) differ from a server.

tests/operations/test_production_stack.py runs it on PostgreSQL behind nginx; the fault suite (faults/) also
runs it on SQLite, or without nginx, where a machine lacks them; the benchmarks (bench/_stack.py) start
only the processes they measure. Plain Python: no pytest here.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests

from .databases import create_database, drop_databases, server_of, sqlite_path, sqlite_url
from .servers import PROJECT, free_port, redis_answers, redis_binary, redis_server_command, wait_until

SERVER_ROOT = "/srv/rentdesk/"  # where deploy/systemd/ expects the project
NGINX = shutil.which("nginx", path=os.environ.get("PATH", "") + os.pathsep + "/usr/sbin")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
SERVER_URL = server_of(POSTGRES_URL or "")
BOSS_PASSWORD = "correct-horse-battery-" + secrets.token_hex(4)


def missing_parts() -> list[str]:
    """What this machine lacks for the stack; empty when it can run it."""
    missing = []
    if not POSTGRES_URL:
        missing.append("TEST_POSTGRES_URL is not set (.ci/run starts a PostgreSQL and sets it)")
    if NGINX is None:
        missing.append("no nginx (Debian package 'nginx')")
    if redis_binary() is None:
        missing.append("no redis-server")
    return missing


def unit_commands(unit: str, key: str) -> list[str]:
    """The ``key`` lines (ExecStart, ExecStartPre) of a shipped unit, as run from this checkout. A
    template's instance (``rentdesk-worker-urgent@2.service``) stands for its ``%i``, as in systemd."""
    name, _, instance = unit.removesuffix(".service").partition("@")
    template = f"{name}@.service" if instance else unit
    lines = (PROJECT / "deploy" / "systemd" / template).read_text().splitlines()
    # systemd reads "%%" as "%" ("%h" alone would be the user's home directory).
    return [
        line.split("=", 1)[1].replace("%%", "\0").replace("%i", instance).replace("\0", "%")
        for line in lines
        if line.startswith(f"{key}=")
    ]


def as_local(command: str) -> list[str]:
    return shlex.split(command.replace(SERVER_ROOT, f"{PROJECT}/"))


def read_environment_file(path: Path) -> dict[str, str]:
    """NAME=value lines, as systemd's EnvironmentFile reads them (comments skipped, quotes removed)."""
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip().removeprefix('"').removesuffix('"')
    return values


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def rent_form_fields(html: str) -> dict[str, str]:
    """What a person submits on the rent form: Telegram, Ukraine, any operator, one day, webhook on."""

    def option(select: str, label: str) -> str:
        options = html[html.index(f'name="{select}"') :]
        return re.search(rf'<option value="([^"]+)"[^>]*>{re.escape(label)}</option>', options).group(1)

    def hidden(name: str) -> str:
        return re.search(rf'name="{name}" value="([^"]+)"', html).group(1)

    account = re.search(r'name="account"[^>]*>\s*<option value="(\d+)"', html).group(1)
    return {
        "csrfmiddlewaretoken": hidden("csrfmiddlewaretoken"),
        "nonce": hidden("nonce"),
        "account": account,
        "service": option("service", "Telegram (tg)"),
        "country": option("country", "Ukraine"),
        "operator": "",
        "hours": "24",
        "webhook": "on",
    }


@dataclass
class Stack:
    directory: Path
    # The PostgreSQL server (a URL without a database) that gets a fresh database; empty: a SQLite file.
    postgres_server: str = SERVER_URL
    # nginx in front, as on a server. Without it, gunicorn terminates TLS itself (GUNICORN_CMD_ARGS),
    # so the production settings (HTTPS only, secure cookies) hold all the same.
    nginx: bool = True
    # More environment for every process, on top of the documented one.
    overrides: dict[str, str] = field(default_factory=dict)
    # Which of the units to start (the benchmarks in bench/ start only what they measure), and an
    # existing database to run on instead of a new one (a benchmark's, with its data).
    units: tuple[str, ...] = ("web", "worker-urgent", "worker-background", "beat")
    # gunicorns behind nginx: the first is rentdesk-web, each other ("web-2", ...) rentdesk-web@PORT on a
    # port of its own, listed in nginx's upstream as docs/deploy.md says. Without nginx, one.
    webs: int = 1
    database: str = ""
    ports: dict[str, int] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    databases: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Where people and SMS.online reach Rentdesk, over HTTPS: nginx (or gunicorn, without nginx)."""
        return f"https://127.0.0.1:{self.ports['https']}" if self.nginx else self.gunicorn_url

    @property
    def gunicorn_url(self) -> str:
        return f"{'http' if self.nginx else 'https'}://127.0.0.1:{self.ports['web']}"

    @property
    def simulator_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['simulator']}"

    @property
    def certificate(self) -> str:
        return str(self.directory / "cert.pem")

    @property
    def nginx_access_log(self) -> Path:
        """The access log the site's own log format writes (the server's one, elsewhere)."""
        return self.directory / "rentdesk-access.log"

    @property
    def key(self) -> str:
        return str(self.directory / "key.pem")

    @property
    def database_url(self) -> str:
        return self.env["DATABASE_URL"]

    # --- starting ---------------------------------------------------------------------------

    def start(self) -> None:
        for name in ("simulator", "redis", "https", "http", *self.web_names):
            self.ports[name] = free_port()
        self_signed_certificate(self.directory)
        self._write_environment(database_url=self.database or self.create_database())
        self.start_redis()
        self.manage(["runsimulator", "--port", str(self.ports["simulator"])], background="simulator")
        for command in unit_commands("rentdesk-web.service", "ExecStartPre"):
            self.run(as_local(command))
        self.manage(["createsuperuser", "--no-input", "--username", "boss", "--email", "boss@example.test"])
        assert wait_until(lambda: requests.get(self.simulator_url + "/_control/clock", timeout=5).ok, seconds=30)
        self.manage(["add_account", "Sandbox", "--api-url", self.simulator_url + "/stubs/handler_api.php"])
        for name in self.units:
            self.start_unit(name, f"rentdesk-{name}.service")
        for name in self.web_names[1:] if "web" in self.units else []:
            self.start_unit(name, self.web_unit(name))
        if self.nginx:
            self.start_nginx()
        assert wait_until(self.ready, seconds=90, every=0.5), self.log_tail()

    def ready(self) -> bool:
        """Whether what was started answers: /healthz once beat ticks, else gunicorn's port and the
        worker's start line."""
        if "beat" in self.units:
            return self.answers("/healthz")
        web_listens = "web" not in self.units or all(_listens(self.ports[name]) for name in self.web_names)
        workers = [name for name in self.units if name.startswith("worker")]
        return web_listens and all(" ready." in self.log(name) for name in workers)

    def start_unit(self, name: str, unit: str) -> None:
        """The ExecStart command of a shipped unit, as process ``name`` (e.g. a second worker). systemd's
        RuntimeDirectory (/run/rentdesk, where the webs keep their pids) is the stack's directory."""
        (command,) = unit_commands(unit, "ExecStart")
        self.background(name, as_local(command.replace("/run/rentdesk/", f"{self.directory}/")))

    @property
    def web_names(self) -> list[str]:
        return ["web"] + [f"web-{n}" for n in range(2, (self.webs if self.nginx else 1) + 1)]

    def listens(self, name: str) -> bool:
        """Whether web process ``name``'s gunicorn accepts connections."""
        return _listens(self.ports[name])

    def web_unit(self, name: str) -> str:
        """The unit of web process ``name``: rentdesk-web, or the template's instance on its port."""
        return "rentdesk-web.service" if name == "web" else f"rentdesk-web@{self.ports[name]}.service"

    def create_database(self) -> str:
        """A new, empty database on the test server (dropped at the end), or a SQLite file; its URL."""
        if not self.postgres_server:
            return sqlite_url(self.directory / "rentdesk.sqlite3")
        name = create_database(self.postgres_server, prefix="rentdesk_stack")
        self.databases.append(name)
        return f"{self.postgres_server}/{name}"

    def _write_environment(self, *, database_url: str) -> None:
        path = self.directory / "rentdesk.env"
        overrides = {
            "DATABASE_URL": database_url,
            "REDIS_URL": f"redis://127.0.0.1:{self.ports['redis']}/0",
            "PUBLIC_BASE_URL": self.url,
            "WEB_BIND": f"127.0.0.1:{self.ports['web']}",
            "WEB_PIDFILE": str(self.directory / "web.pid"),
            "DJANGO_STATIC_ROOT": str(self.directory / "static"),
            "SMSONLINE_API_URL": self.simulator_url + "/stubs/handler_api.php",
            "EMAIL_URL": f"filemail:///{self.directory / 'outbox'}",
            # The simulator listens on this machine's loopback, over plain http.
            "SMSONLINE_ALLOWED_HOSTS": "127.0.0.1",
            # The stack's boss signs in with a password only; two-factor sign-in has its own tests.
            "RENTDESK_REQUIRE_2FA": "false",
            **({} if self.nginx else {"GUNICORN_CMD_ARGS": f"--certfile {self.certificate} --keyfile {self.key}"}),
            **self.overrides,
        }
        self.run([sys.executable, "scripts/write_production_env.py", str(path), "--host", "127.0.0.1",
                  *(f"--set={name}={value}" for name, value in overrides.items())], env=os.environ)  # fmt: skip
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "RENTDESK_ENV_FILE": os.devnull,  # as under systemd: the environment file is in env
            "DJANGO_SUPERUSER_PASSWORD": BOSS_PASSWORD,
            "SMSONLINE_API_KEY": "stack-key-" + secrets.token_hex(8),
            "SSL_CERT_FILE": self.certificate,  # the simulator's webhooks reach nginx over HTTPS
            **read_environment_file(path),
        }

    def start_redis(self) -> None:
        self.background("redis", redis_server_command(redis_binary(), self.ports["redis"], self.directory))
        assert wait_until(lambda: redis_answers(f"redis://127.0.0.1:{self.ports['redis']}/0"), seconds=30)

    def stop_redis(self) -> None:
        process = self.processes.pop("redis")
        process.terminate()
        process.wait(timeout=30)

    def start_nginx(self) -> None:
        site = (PROJECT / "deploy" / "nginx" / "rentdesk.conf").read_text()
        site = "\n".join(line for line in site.splitlines() if "[::]" not in line)  # loopback only
        upstream = "\n".join(f"    server 127.0.0.1:{self.ports[name]} max_fails=0;" for name in self.web_names)
        site = (
            site.replace("    server 127.0.0.1:8000 max_fails=0;", upstream)
            .replace("127.0.0.1:8000", f"127.0.0.1:{self.ports['web']}")
            .replace("listen 443 ", f"listen 127.0.0.1:{self.ports['https']} ")
            .replace("listen 80;", f"listen 127.0.0.1:{self.ports['http']};")
            .replace("/etc/letsencrypt/live/rentdesk.example.com/fullchain.pem", self.certificate)
            .replace("/etc/letsencrypt/live/rentdesk.example.com/privkey.pem", self.key)
            .replace("/var/log/nginx/", f"{self.directory}/")  # the access log and the webhooks' error log
        )
        (self.directory / "site.conf").write_text(site)
        temp = self.directory / "nginx-temp"
        temp.mkdir()
        (self.directory / "nginx.conf").write_text(
            ("user root;\n" if os.geteuid() == 0 else "")
            + f"worker_processes 1;\npid {self.directory}/nginx.pid;\nerror_log {self.directory}/nginx-error.log;\n"
            "events { worker_connections 1024; }\n"
            f"http {{\n access_log {self.directory}/nginx-access.log;\n client_body_temp_path {temp}/body;\n"
            f" proxy_temp_path {temp}/proxy;\n fastcgi_temp_path {temp}/fastcgi;\n uwsgi_temp_path {temp}/uwsgi;\n"
            f" scgi_temp_path {temp}/scgi;\n include {self.directory}/site.conf;\n}}\n"
        )
        nginx = [NGINX, "-p", str(self.directory), "-c", str(self.directory / "nginx.conf")]
        self.run([*nginx, "-t"])
        self.background("nginx", [*nginx, "-g", "daemon off;"])

    # --- running ------------------------------------------------------------------------------

    def run(self, command: list[str], env: dict[str, str] | None = None) -> str:
        result = subprocess.run(command, cwd=PROJECT, env=env or self.env, capture_output=True, text=True,
                                timeout=300)  # fmt: skip
        assert result.returncode == 0, f"{shlex.join(command)}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def manage(self, arguments: list[str], *, background: str = "") -> str:
        command = [f"{PROJECT}/.venv/bin/python", "manage.py", *arguments]
        if background:
            self.background(background, command)
            return ""
        return self.run(command)

    def background(self, name: str, command: list[str]) -> None:
        log = (self.directory / f"{name}.log").open("a")
        # Its own process group, so a worker and its pool can be signalled together.
        self.processes[name] = subprocess.Popen(command, cwd=PROJECT, env=self.env, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip

    def log(self, name: str) -> str:
        return (self.directory / f"{name}.log").read_text()

    def log_tail(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in sorted(self.directory.glob("*.log")))

    def sql(self, query: str, *params: object, url: str = "") -> list[tuple]:
        """Rows of ``query`` (``%s`` placeholders), on PostgreSQL or on the SQLite file."""
        url = url or self.database_url
        if url.startswith("sqlite:///"):
            connection = sqlite3.connect(sqlite_path(url), timeout=30)
            try:
                with connection:  # commits
                    return connection.execute(query.replace("%s", "?"), params).fetchall()
            finally:
                connection.close()
        with psycopg.connect(url) as connection:
            cursor = connection.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def session(self, *, from_address: str = "") -> requests.Session:
        """A browser's way in: over HTTPS, trusting the stack's certificate; from another loopback
        address (127.0.0.2, ...) when given, as a second person would come from another machine."""
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would replace the stack's certificate
        session.verify = self.certificate
        if from_address:
            session.mount("https://", _FromAddress(from_address))
        return session

    def log_in(
        self, session: requests.Session, username: str, password: str, headers: dict[str, str] | None = None
    ) -> requests.Response:
        """The admin's login form, filled in and sent; the page it leads to."""
        login = session.get(f"{self.url}/admin/login/", timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        return session.post(
            f"{self.url}/admin/login/?next=/admin/",
            data={"csrfmiddlewaretoken": token, "username": username, "password": password},
            headers={"Referer": f"{self.url}/admin/login/", **(headers or {})},
            timeout=30,
        )

    def logged_in(self) -> requests.Session:
        """A session of the superuser, logged in through the admin's login form."""
        session = self.session()
        response = self.log_in(session, "boss", BOSS_PASSWORD)
        assert response.status_code == 200 and "Log out" in response.text, response.text[-2000:]
        return session

    def answers(self, path: str) -> bool:
        """Whether Rentdesk answers ``path`` with 200."""
        try:
            with self.session() as session:
                return session.get(self.url + path, timeout=5).status_code == 200
        except requests.RequestException:
            return False

    # --- stopping -----------------------------------------------------------------------------

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            with contextlib.suppress(ProcessLookupError):  # a pool child its parent left behind
                os.killpg(process.pid, signal.SIGKILL)
        if self.databases:
            drop_databases(self.postgres_server, self.databases)


class _FromAddress(requests.adapters.HTTPAdapter):
    """Connections that leave from one local address."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, source_address=(self.address, 0), **kwargs)


def _listens(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False
