"""Have the running gunicorn serve the code on disk, with no moment of not answering.

    .venv/bin/python scripts/reload_web.py            # WEB_PIDFILE's gunicorn, then every web-*.pid beside it
    .venv/bin/python scripts/reload_web.py --pid 1234 # that one alone (systemd's ExecReload passes $MAINPID)

SIGHUP makes gunicorn's master start new workers, which load the code and the static files'
manifest as they are now, and stop the old ones once their requests are done; the listening socket
stays open throughout, so nothing is refused. This waits until every old worker is gone and says so,
or exits non-zero with the reason. The last step of `make reload` (docs/deploy.md, "Upgrading").
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

import environ

PROJECT = Path(__file__).resolve().parent.parent
# A request in flight may take WEB_GRACEFUL_TIMEOUT to finish; new workers take a few seconds to boot.
BOOT_SECONDS = 30


def workers_of(master: int) -> set[int]:
    """The master's child processes (its workers), from Linux's /proc."""
    children = Path(f"/proc/{master}/task/{master}/children")
    return {int(pid) for pid in children.read_text().split()} if children.exists() else set()


def master_from(pidfile: str) -> int:
    try:
        text = Path(pidfile).read_text().strip()
    except OSError as error:
        raise SystemExit(f"No gunicorn pid in {pidfile} ({error.strerror}): is the web running (make serve)?") from None
    if not text.isdigit():
        raise SystemExit(f"{pidfile} does not hold a process id.")
    return int(text)


def is_gunicorn(pid: int) -> bool:
    """Whether ``pid`` is a gunicorn (a pid file left by a crash may name another program by now)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # gone, or not Linux: the signal itself says which
    return b"gunicorn" in command or b"rentdesk-web" in command


def reload(master: int, *, seconds: float) -> int:
    if not is_gunicorn(master):
        raise SystemExit(f"Process {master} is not gunicorn: the pid file is stale. Nothing was signalled.")
    old = workers_of(master)
    try:
        os.kill(master, signal.SIGHUP)
    except ProcessLookupError:
        raise SystemExit(f"No process {master}: the web is not running (a stale pid file?).") from None
    except PermissionError:
        raise SystemExit(f"Not allowed to signal process {master}: run this as the user the web runs as.") from None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        now = workers_of(master)
        if old.isdisjoint(now) and len(now) >= len(old):
            print(f"gunicorn {master}: {len(old)} worker(s) replaced by {len(now)} running the code on disk.")
            return 0
        time.sleep(0.2)
    print(f"gunicorn {master}: old workers still running after {seconds:.0f} s.", file=sys.stderr)
    return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pid", type=int, help="gunicorn's master (default: the one WEB_PIDFILE names)")
    args = parser.parse_args()
    # The environment file the web reads (config/gunicorn.py does the same): WEB_PIDFILE is there.
    environ.Env.read_env(os.environ.get("RENTDESK_ENV_FILE", str(PROJECT / ".env")))
    if args.pid is None and not os.environ.get("WEB_PIDFILE"):
        parser.error("WEB_PIDFILE is not set (docs/deploy.md, section 3), and no --pid was given")
    masters = [args.pid] if args.pid is not None else masters_on_this_host(Path(os.environ["WEB_PIDFILE"]))
    graceful = os.environ.get("WEB_GRACEFUL_TIMEOUT", "45")
    seconds = (int(graceful) if graceful.isdigit() else 45) + BOOT_SECONDS
    # One after the other: while one gunicorn boots its new workers, the others answer as before.
    return max(reload(master, seconds=seconds) for master in masters)


def masters_on_this_host(pidfile: Path) -> list[int]:
    """The gunicorn of WEB_PIDFILE, and those of rentdesk-web@ instances (web-PORT.pid beside it)."""
    others = sorted(pidfile.parent.glob("web-*.pid")) if pidfile.parent.is_dir() else []
    return [master_from(str(path)) for path in [pidfile, *others]]


if __name__ == "__main__":
    sys.exit(main())
