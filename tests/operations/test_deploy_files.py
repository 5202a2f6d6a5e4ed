"""What is shipped for servers agrees with itself: the units run the commands CI runs, and the
documented production environment passes `check --deploy` with no warning."""

import os
import re
import subprocess
import sys

import pytest

from harness.servers import child_processes as workers_of
from harness.stack import NGINX, SERVER_ROOT, unit_commands

from ..conftest import PROJECT, free_port, wait_until

UNITS = {
    "web": "rentdesk-web.service",
    "worker-urgent": "rentdesk-worker-urgent.service",
    "worker-background": "rentdesk-worker-background.service",
    "beat": "rentdesk-beat.service",
}


def procfile() -> dict[str, str]:
    lines = (PROJECT / "Procfile.production").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def make_recipe(target: str) -> list[str]:
    lines = (PROJECT / "Makefile").read_text().splitlines()
    start = lines.index(f"{target}: $(RUNTIME_STAMP)") + 1
    recipe = []
    for line in lines[start:]:
        if not line.startswith("\t"):
            break
        recipe.append(
            line.strip().removeprefix("exec ").replace("$(PY)", ".venv/bin/python").replace("$(VENV)", ".venv")
        )
    return recipe


def test_the_units_run_what_procfile_production_runs():
    """The web process is `make serve`: migrate and collectstatic before gunicorn, as the unit's
    ExecStartPre lines do (a bare gunicorn served a new database's pages as 500s, without CSS)."""
    assert set(procfile()) == set(UNITS) and procfile()["web"] == "make serve"
    for process in ("worker-urgent", "worker-background", "beat"):
        assert [command.replace(SERVER_ROOT, "") for command in unit_commands(UNITS[process], "ExecStart")] == [
            procfile()[process]
        ]


def test_make_serve_runs_what_the_web_unit_runs():
    web = unit_commands(UNITS["web"], "ExecStartPre") + unit_commands(UNITS["web"], "ExecStart")
    assert make_recipe("serve") == [command.replace(SERVER_ROOT, "") for command in web]


def test_make_reload_runs_what_systemctl_reload_runs_after_installing_requirements():
    """Both take a new release into service: migrate and collect static files first (else pages that
    name a new static file fail), then gunicorn's workers are replaced."""
    reload = [command.replace(SERVER_ROOT, "").replace(" --pid $MAINPID", "")
              for command in unit_commands(UNITS["web"], "ExecReload")]  # fmt: skip
    assert make_recipe("reload") == reload
    assert reload[-1].endswith("scripts/reload_web.py")


# What docs/deploy.md says to fill in first: the team's own mail.
OWN_MAIL = ("EMAIL_URL=smtp+tls://desk%40ops-team.net:secret@smtp.ops-team.net:587",
            "DEFAULT_FROM_EMAIL=Rentdesk <desk@ops-team.net>", "RENTDESK_TEAM_EMAIL=ops@ops-team.net")  # fmt: skip


def write_production_env(target, host: str, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "scripts/write_production_env.py", str(target), "--host", host,
                           *(f"--set={override}" for override in overrides)],
                          cwd=PROJECT, capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.fixture
def production_env_file(tmp_path):
    target = tmp_path / "rentdesk.env"
    assert write_production_env(target, "rentdesk.example.com", *OWN_MAIL).returncode == 0
    return target


def check_deploy(env_file) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SMSONLINE_", "DATABASE_", "REDIS_"))}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT, env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings.production",
                          "RENTDESK_ENV_FILE": str(env_file)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_check_deploy_fails_while_mail_is_still_the_examples(tmp_path):
    """Written and not yet filled in, the file's mail goes to smtp.example.com: nothing would ever arrive."""
    unfilled = tmp_path / "rentdesk.env"
    assert write_production_env(unfilled, "rentdesk.example.com").returncode == 0
    result = check_deploy(unfilled)
    assert result.returncode != 0 and "rentals.W005" in result.stderr, result.stdout + result.stderr
    assert "EMAIL_URL's host, DEFAULT_FROM_EMAIL, RENTDESK_TEAM_EMAIL" in result.stderr
    assert "password" not in result.stderr  # the mail login is not shown


def test_the_documented_production_environment_passes_check_deploy_with_no_warning(production_env_file):
    result = check_deploy(production_env_file)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert (production_env_file.stat().st_mode & 0o777) == 0o600


def test_manage_py_takes_its_settings_from_the_environment_file(production_env_file):
    """On a server, `RENTDESK_ENV_FILE=/etc/rentdesk/rentdesk.env manage.py add_account …` runs the
    production settings the file names, not the local ones against the server's database."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SMSONLINE_", "DATABASE_", "REDIS_"))}
    shown = "from django.conf import settings; print(settings.SETTINGS_MODULE)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", shown],
        cwd=PROJECT, env={**clean, "RENTDESK_ENV_FILE": str(production_env_file)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.stdout.strip().splitlines()[-1] == "config.settings.production", result.stderr


def test_the_environment_file_is_never_overwritten(production_env_file):
    kept = production_env_file.read_text()
    again = write_production_env(production_env_file, "other.example.com")
    assert again.returncode == 1 and "exists already" in again.stderr
    assert production_env_file.read_text() == kept


SCHEME_PROBE = (
    "import django; django.setup(); from django.test import Client; "
    "r = Client().get('/', HTTP_HOST='rentdesk.example.com', HTTP_X_FORWARDED_PROTO='https'); "
    "print(r.status_code, r['Location'])"
)


@pytest.mark.parametrize(("trust", "answer"), [("false", "301 https://rentdesk.example.com/"), ("true", "302 /admin/")])
def test_x_forwarded_proto_is_believed_only_when_a_proxy_is_said_to_set_it(
    production_env_file, tmp_path, trust, answer
):
    result = subprocess.run(
        [sys.executable, "-c", SCHEME_PROBE], cwd=PROJECT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.production",
             "RENTDESK_ENV_FILE": str(production_env_file), "DJANGO_TRUST_X_FORWARDED_PROTO": trust,
             "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
    )  # fmt: skip
    assert result.stdout.strip() == answer, result.stderr[-2000:]


def test_check_deploy_wants_the_proxy_believed_for_both_scheme_and_address(production_env_file, tmp_path):
    """An environment file written before DJANGO_TRUST_X_FORWARDED_FOR existed: `make check-deploy`
    fails, naming it; so does one believing the address with no proxy in front; the file written now
    passes."""
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.production",
                   "RENTDESK_ENV_FILE": str(production_env_file),
                   "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}  # fmt: skip
    check = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    written_now = subprocess.run(check, cwd=PROJECT, capture_output=True, text=True, timeout=120, env=environment)
    assert written_now.returncode == 0, written_now.stderr[-2000:]
    older = {**environment, "DJANGO_TRUST_X_FORWARDED_FOR": "false"}
    written_before = subprocess.run(check, cwd=PROJECT, capture_output=True, text=True, timeout=120, env=older)
    assert written_before.returncode != 0
    assert "rentals.W001" in written_before.stderr and "DJANGO_TRUST_X_FORWARDED_FOR=true" in written_before.stderr
    no_proxy = {**environment, "DJANGO_TRUST_X_FORWARDED_PROTO": "false"}
    header_believed = subprocess.run(check, cwd=PROJECT, capture_output=True, text=True, timeout=120, env=no_proxy)
    assert header_believed.returncode != 0 and "rentals.W002" in header_believed.stderr


def test_gunicorn_names_a_bad_setting_instead_of_a_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--check-config", "--config", "config/gunicorn.py"],
        cwd=PROJECT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "WEB_THREADS": "many", "RENTDESK_ENV_FILE": os.devnull},
    )  # fmt: skip
    assert result.returncode != 0
    assert "WEB_THREADS must be a whole number from 1 to 256, not 'many'." in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("queue", ["urgent", "background"])
def test_a_second_worker_on_a_host_runs_the_same_command_under_a_name_of_its_own(queue):
    (first,) = unit_commands(f"rentdesk-worker-{queue}.service", "ExecStart")
    (second,) = unit_commands(f"rentdesk-worker-{queue}@2.service", "ExecStart")
    assert second == first.replace(f"--hostname {queue}@%h", f"--hostname {queue}-2@%h") and second != first


def test_a_second_web_on_a_host_serves_its_own_port_and_is_reloaded_with_the_first():
    (first,) = unit_commands(UNITS["web"], "ExecStart")
    (second,) = unit_commands("rentdesk-web@8001.service", "ExecStart")
    assert second == first + " --bind 127.0.0.1:8001 --pid /run/rentdesk/web-8001.pid"
    # make reload finds it beside WEB_PIDFILE (the file the documented environment names).
    documented = (PROJECT / "deploy" / "rentdesk.env.example").read_text()
    assert "WEB_PIDFILE=/run/rentdesk/web.pid" in documented


def test_reload_replaces_the_workers_of_every_gunicorn_on_the_host(tmp_path):
    """rentdesk-web's and a rentdesk-web@ instance's, found by their pid files, one after the other."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "RENTDESK_ENV_FILE": os.devnull,
           "WEB_CONCURRENCY": "1", "WEB_THREADS": "2", "WEB_PIDFILE": str(tmp_path / "web.pid")}  # fmt: skip
    pidfiles = [tmp_path / "web.pid", tmp_path / "web-8001.pid"]
    gunicorns = [
        subprocess.Popen([".venv/bin/gunicorn", "--config", "config/gunicorn.py", "--bind", f"127.0.0.1:{free_port()}",
                          "--pid", str(pidfile)], cwd=PROJECT, env=env, stderr=subprocess.DEVNULL)
        for pidfile in pidfiles
    ]  # fmt: skip
    try:
        assert wait_until(lambda: all(p.exists() and workers_of(int(p.read_text())) for p in pidfiles), seconds=60)
        masters = [int(pidfile.read_text()) for pidfile in pidfiles]
        before = {master: workers_of(master) for master in masters}
        result = subprocess.run([sys.executable, "scripts/reload_web.py"], cwd=PROJECT, env=env, capture_output=True,
                                text=True, timeout=120)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stdout.count("replaced") == 2
        assert all(workers_of(master) and workers_of(master).isdisjoint(before[master]) for master in masters)
    finally:
        for gunicorn in gunicorns:
            gunicorn.terminate()
            gunicorn.wait(timeout=60)


@pytest.mark.skipif(not NGINX, reason="no nginx (Debian package 'nginx')")
def test_nginx_writes_no_webhook_token_in_any_log_and_no_version(tmp_path):
    """With gunicorn away (a restart), each webhook's 502 wrote its request line, token and all, into
    nginx's error log; the access log masked it already. The Server header named nginx's version."""
    import requests

    from harness.stack import Stack, self_signed_certificate

    stack = Stack(directory=tmp_path, units=(), env=dict(os.environ))
    stack.ports.update(web=free_port(), https=free_port(), http=free_port())  # nothing listens on "web"
    self_signed_certificate(tmp_path)
    stack.start_nginx()
    try:
        base = f"https://127.0.0.1:{stack.ports['https']}"
        assert wait_until(lambda: _answers(base, stack.certificate), seconds=30)
        token = "hooksecret0123456789abcdef"
        hook = requests.post(f"{base}/hooks/sms/{token}/", data=b"{}", verify=stack.certificate, timeout=10)
        page = requests.get(f"{base}/admin/", verify=stack.certificate, timeout=10)
        assert hook.status_code == page.status_code == 502
        assert hook.headers["Server"] == "nginx" and "nginx/" not in hook.text
    finally:
        stack.stop()
    logs = {path.name: path.read_text() for path in tmp_path.glob("*.log")}
    assert "GET /admin/" in logs["nginx-error.log"]  # the error log works, for pages
    assert "POST /hooks/sms/[token]/ " in logs["rentdesk-access.log"] and "upstream_status=502" in logs[
        "rentdesk-access.log"]  # fmt: skip
    assert not [name for name, text in logs.items() if token in text]


def _answers(base: str, certificate: str) -> bool:
    import requests

    try:
        requests.get(base, verify=certificate, timeout=2)
    except requests.ConnectionError:
        return False
    return True


def test_gunicorn_listens_on_loopback_by_default_or_on_a_unix_socket_for_nginx(tmp_path):
    """Only the proxy should reach gunicorn: its X-Forwarded-For is believed (RENTDESK_TRUSTED_PROXIES)."""
    import http.client
    import socket

    env = {k: v for k, v in os.environ.items() if k != "WEB_BIND"}
    env |= {"DJANGO_SETTINGS_MODULE": "config.settings.test", "RENTDESK_ENV_FILE": os.devnull}
    printed = subprocess.run([sys.executable, "-m", "gunicorn", "--print-config", "--config", "config/gunicorn.py"],
                             cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert re.search(r"^bind += \['127.0.0.1:8000'\]$", printed.stdout, re.MULTILINE), printed.stderr
    path = tmp_path / "web.sock"
    env |= {"WEB_BIND": f"unix:{path}", "WEB_CONCURRENCY": "1", "WEB_THREADS": "2"}
    web = subprocess.Popen([".venv/bin/gunicorn", "--config", "config/gunicorn.py"], cwd=PROJECT, env=env,
                           stderr=subprocess.DEVNULL)  # fmt: skip

    class UnixConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(str(path))

    try:
        assert wait_until(path.exists, seconds=60)
        connection = UnixConnection("localhost", timeout=30)
        connection.request("GET", "/livez", headers={"Host": "localhost"})
        assert connection.getresponse().status == 200
    finally:
        web.terminate()
        web.wait(timeout=60)


def test_a_unix_socket_is_for_the_user_and_its_group_only(tmp_path):
    """A local user outside rentdesk's group cannot reach gunicorn's socket, whose X-Forwarded-For is believed."""
    socket_path = tmp_path / "web.sock"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "RENTDESK_ENV_FILE": os.devnull,
           "WEB_CONCURRENCY": "1", "WEB_THREADS": "2", "WEB_BIND": f"unix:{socket_path}",
           "WEB_PIDFILE": str(tmp_path / "web.pid")}  # fmt: skip
    gunicorn = subprocess.Popen([".venv/bin/gunicorn", "--config", "config/gunicorn.py"], cwd=PROJECT, env=env,
                                stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert wait_until(socket_path.exists, seconds=60)
        mode = socket_path.stat().st_mode
        assert mode & 0o007 == 0, oct(mode)  # nobody else may connect
        assert mode & 0o060 == 0o060  # nginx, in the group, may
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=60)
