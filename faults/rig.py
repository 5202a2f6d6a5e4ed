"""The running stack as a server runs it: supervised like systemd (a unit that dies is started again
after RestartSec), and what the scenarios read from it: the database, Redis and the simulator."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis
import requests
from prometheus_client.parser import text_string_to_metric_families

from harness.stack import Stack

# deploy/systemd/*.service: Restart=on-failure, RestartSec=5.
RESTART_AFTER_SECONDS = 5.0


@dataclass(frozen=True)
class Restart:
    name: str
    exit_code: int
    at: float  # time.time() of the exit seen


@dataclass
class Rig:
    stack: Stack
    restarts: list[Restart] = field(default_factory=list)
    _stopping: set[str] = field(default_factory=set)
    _due: dict[str, float] = field(default_factory=dict)  # name -> when it is started again
    _log_starts: dict[str, int] = field(default_factory=dict)  # name -> where its current process's log begins
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _running: bool = True

    # --- processes ----------------------------------------------------------------------------

    def supervise(self) -> None:
        threading.Thread(target=self._supervise, name="supervisor", daemon=True).start()

    def _supervise(self) -> None:
        while self._running:
            with self._lock:
                for name, process in list(self.stack.processes.items()):
                    if self.unit_of(name) and name not in self._stopping and process.poll() is not None:
                        self.restarts.append(Restart(name, process.returncode, time.time()))
                        del self.stack.processes[name]
                        self._due[name] = time.monotonic() + RESTART_AFTER_SECONDS
                for name, due in list(self._due.items()):
                    if time.monotonic() >= due:
                        del self._due[name]
                        self._start_unit(name)
            time.sleep(0.2)

    def start(self, name: str) -> None:
        with self._lock:
            self._stopping.discard(name)
            self._start_unit(name)

    def _start_unit(self, name: str) -> None:
        self._log_starts[name] = self.log_size(name)
        self.stack.start_unit(name, self.unit_of(name))

    def unit_of(self, name: str) -> str:
        """Its unit in deploy/systemd/: a second web is the template's instance on its port."""
        return self.stack.web_unit(name) if name in self.stack.web_names else _unit_of(name)

    def pid(self, name: str) -> int | None:
        with self._lock:
            process = self.stack.processes.get(name)
            return process.pid if process is not None and process.poll() is None else None

    def signal(self, name: str, sent: signal.Signals, *, group: bool = False) -> None:
        """Send ``sent`` to the process (or its whole group: a worker and its pool)."""
        pid = self.pid(name)
        if pid is None:
            raise RuntimeError(f"{name} is not running")
        if group:
            os.killpg(pid, sent)
        else:
            os.kill(pid, sent)

    def stop(self, name: str, *, timeout: float = 320) -> int:
        """Stop ``name`` for good, as `systemctl stop` does (SIGTERM, then wait): not started again."""
        with self._lock:
            self._stopping.add(name)
            process = self.stack.processes.pop(name)
        process.terminate()
        return process.wait(timeout=timeout)

    def restarted(self, since: float) -> list[Restart]:
        return [restart for restart in self.restarts if restart.at >= since]

    def shutdown(self) -> None:
        self._running = False
        with self._lock:
            self._stopping.update(self.stack.processes)
            self._due.clear()
        self.stack.stop()

    def wait_for_log(self, name: str, text: str, *, after: int = 0, seconds: float = 90) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if text in self.stack.log(name)[after:]:
                return True
            time.sleep(0.2)
        return False

    def ran(self, task: str) -> bool:
        """Whether the workers received ``task`` and finished every one they received, by their logs."""
        lines = [line for path in self.stack.directory.glob("worker*.log") for line in path.read_text().splitlines()
                 if f"{task}[" in line]  # fmt: skip
        received = sum(1 for line in lines if line.endswith(" received"))
        ended = sum(1 for line in lines if " succeeded in " in line or " raised " in line)
        return 0 < received == ended

    def unfinished_tasks(self, name: str) -> list[str]:
        """The tasks ``name``'s current process received and no worker's log shows finished: what it
        still runs (or holds) now. Redelivered tasks keep their id, so one finished elsewhere is not counted;
        what an earlier process of ``name`` received before it was killed is not this one's."""
        logs = [path.read_text() for path in self.stack.directory.glob("worker*.log")]
        finished = {match.group(1) for text in logs for match in _FINISHED.finditer(text)}
        received = _RECEIVED.findall(self.stack.log(name)[self._log_starts.get(name, 0) :])
        return [task for task, task_id in received if task_id not in finished]

    def log_size(self, name: str) -> int:
        log = self.stack.directory / f"{name}.log"
        return len(log.read_text()) if log.exists() else 0

    # --- what the scenarios read ----------------------------------------------------------------

    def sql(self, query: str, *params: object) -> list[tuple]:
        return self.stack.sql(query, *params)

    def value(self, query: str, *params: object) -> Any:
        return self.sql(query, *params)[0][0]

    def moment(self, seconds: float) -> datetime | str:
        """A time.time() as a query parameter, compared with Django's stored datetimes (naive UTC
        text on SQLite)."""
        moment = datetime.fromtimestamp(seconds, UTC)
        return moment if self.stack.postgres_server else f"{moment:%Y-%m-%d %H:%M:%S.%f}"

    def redis(self) -> redis.Redis:
        return redis.Redis(port=self.stack.ports["redis"], socket_timeout=5, socket_connect_timeout=2)

    def held_tasks(self) -> list[tuple[str, list]]:
        """The tasks handed to a worker and not yet acknowledged (kombu's ``unacked`` hash): name, args."""
        held = []
        with contextlib.suppress(redis.RedisError):
            for raw in self.redis().hvals("unacked"):
                message = json.loads(raw)[0]
                args = json.loads(base64.b64decode(message["body"]))[0]
                held.append((message["headers"]["task"], args))
        return held

    def _get(self, path: str) -> requests.Response:
        """``path`` through nginx, as a monitoring server asks it (with the metrics token)."""
        token = self.stack.env.get("RENTDESK_METRICS_TOKEN", "")
        with self.stack.session() as session:
            return session.get(self.stack.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10,
                               allow_redirects=False)  # fmt: skip

    def probe(self, path: str) -> int:
        """The status Rentdesk answers ``path`` with; 0: no answer."""
        try:
            return self._get(path).status_code
        except requests.RequestException:
            return 0

    def metric(self, name: str, **labels: str) -> float:
        """A sample of /metrics, as Prometheus reads it (0 when absent)."""
        text = self._get("/metrics").text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return sample.value
        return 0.0

    def simulator(self, command: str, payload: dict | None = None) -> object:
        """The simulator's control plane: GET without a payload, POST with one."""
        url = f"{self.stack.simulator_url}/_control/{command}"
        response = requests.get(url, timeout=30) if payload is None else requests.post(url, json=payload, timeout=30)
        response.raise_for_status()
        return response.json()

    def provider_requests(self, action: str, since: float) -> list[dict]:
        return [r for r in self.simulator("requests") if r.get("action") == action and r["at"] >= since]


# Celery's worker log at INFO: "Task <name>[<id>] received", "... succeeded in 0.01s", "... raised ...".
_RECEIVED = re.compile(r"Task ([\w.]+)\[([0-9a-f-]+)\] received")
_FINISHED = re.compile(r"Task [\w.]+\[([0-9a-f-]+)\] (?:succeeded in|raised)")


# The workers that have template units for a second one on a host, each with a name of its own.
TEMPLATED = ("worker-urgent", "worker-background")


def _unit_of(name: str) -> str:
    """Its unit in deploy/systemd/ ("worker-urgent-2" is rentdesk-worker-urgent@2, a second one on the
    host; "beat-2" is a second rentdesk-beat, as on another host); empty for the servers."""
    role, second = re.fullmatch(r"(.+?)(?:-([0-9]+))?", name).groups()
    if role not in ("web", "worker-urgent", "worker-background", "beat"):
        return ""
    return f"rentdesk-{role}@{second}.service" if second and role in TEMPLATED else f"rentdesk-{role}.service"
