"""`make run`'s processes, started and stopped in order (the Procfile's, through honcho).

    .venv/bin/python scripts/run_local.py web simulator worker-urgent worker-background beat [redis]

Start: Redis first (when it is one of them) and, once it answers, the demo data (`setup_demo`, whose
new account queues its first balance check) and the rest, so nothing is queued into a Redis that is not
there yet. Stop (Ctrl-C): each process is asked to finish as it would be by hand (a worker's warm
shutdown, its pool stopped by the worker itself rather than killed under it), Redis and the simulator
last, once nothing needs them; then the status is 0. A second Ctrl-C kills what is left. A process that stops by itself
stops the others too, and its status is the script's.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import honcho.manager
from honcho.environ import parse, parse_procfile

PROJECT = Path(__file__).resolve().parent.parent
PYTHON = str(PROJECT / ".venv" / "bin" / "python")
REDIS = "redis"
# What the others use while they finish (a worker's last task talks to both): stopped after them.
LAST = {REDIS, "simulator"}
REDIS_WAIT_SECONDS = 30
# The simulator's stand-in takes any token of Telegram's shape; this one is known to be no real bot's.
TELEGRAM_STAND_IN_TOKEN = "1000000000:local-stand-in-not-a-real-bot-token"
# A worker's warm shutdown lets its running tasks end (a catalog chunk, a poll): more than honcho's 5 s.
honcho.manager.KILL_WAIT = 30
# How each process ends cleanly, sent to the process alone (honcho's own way, SIGTERM to the process
# group, reaches the workers' pool processes too, which then die under their tasks with tracebacks):
# SIGTERM, a worker's warm shutdown and a quiet end for the others, even while they are still starting
# (where a SIGINT would be a KeyboardInterrupt's traceback); beat on SIGINT, which lets go of its lock.
STOP_SIGNALS = {"beat": signal.SIGINT}


class OrderedManager(honcho.manager.Manager):
    interrupted = False

    def _start(self) -> None:
        # honcho's loop has just set its handlers; Ctrl-C is a request to stop, not a failure.
        signal.signal(signal.SIGINT, self._interrupt)
        signal.signal(signal.SIGTERM, self._interrupt)
        names = list(self._processes)
        if REDIS in names:
            self._start_some([REDIS])
            wait_for_redis(int(os.environ.get("REDIS_PORT", "6390")))
        set_up_demo()
        rest = [name for name in names if name != REDIS]
        if self.interrupted:  # a Ctrl-C meanwhile: Redis is stopping, and nothing more starts
            for name in rest:
                del self._processes[name]
            return
        self._start_some(rest)

    def _start_some(self, names: list[str]) -> None:
        for name in names:
            process = self._processes[name]
            process["process"] = honcho.manager.multiprocessing.Process(
                name=name, target=process["obj"].run, args=(self.events, True)
            )
            process["process"].start()

    def _interrupt(self, signum: int, frame: Any) -> None:
        if self.interrupted:
            self._system_print("stopping now\n")
            self.kill()
            return
        self.interrupted = True
        self._system_print("stopping (Ctrl-C again to kill)\n")
        self.terminate()

    def _killall(self, force: bool = False) -> None:
        if force:
            super()._killall(force=True)
            return
        # In a thread: honcho's loop, which learns each process's id and end, must go on meanwhile.
        threading.Thread(target=self._stop_in_order, daemon=True).start()

    def _stop_in_order(self) -> None:
        for name in self._running(but=LAST):
            self._stop(name)
        while self._running(but=LAST):
            time.sleep(0.1)
        for name in self._running(but=set()):
            self._stop(name)

    def _running(self, *, but: set[str]) -> list[str]:
        processes = list(self._processes.items())  # a copy: the loop's thread changes them meanwhile
        return [name for name, p in processes if name not in but and "returncode" not in p]

    def _stop(self, name: str) -> None:
        process = self._processes.get(name, {})
        while "pid" not in process:  # started a moment ago: the loop has yet to hear of it
            if name not in self._processes:
                return  # never to start (a Ctrl-C while Redis was starting)
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):  # it has just ended
            os.kill(process["pid"], STOP_SIGNALS.get(name, signal.SIGTERM))


def wait_for_redis(port: int) -> None:
    """Until the Redis on ``port`` answers PING (the workers, beat and setup_demo all need it)."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    deadline = time.monotonic() + REDIS_WAIT_SECONDS
    while True:
        try:
            client.ping()
            return
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise SystemExit(f"Redis did not answer on port {port} within {REDIS_WAIT_SECONDS} s.") from None
            time.sleep(0.1)
        finally:
            client.close()


def set_up_demo() -> None:
    # In a session of its own: a Ctrl-C meanwhile is this script's to handle, not a traceback of its.
    subprocess.run([PYTHON, "manage.py", "setup_demo"], check=True, cwd=PROJECT, start_new_session=True)
    web, simulator = os.environ.get("WEB_PORT", "8000"), os.environ.get("SIMULATOR_PORT", "8001")
    print(f"Rentdesk: http://127.0.0.1:{web}/admin/  (SMS.online simulator on port {simulator})")
    print("Send a test SMS to a rented number: .venv/bin/python manage.py send_test_sms +NUMBER")
    if os.environ.get("TELEGRAM_BOT_TOKEN") == TELEGRAM_STAND_IN_TOKEN:
        print("Telegram (the simulator stands in): open Connect Telegram at the top of the admin, then write to")
        print("the bot as your phone would: .venv/bin/python manage.py telegram_chat '/start CODE'")
    sys.stdout.flush()


def offer_telegram_stand_in() -> None:
    """With no bot of the team's own (no TELEGRAM_BOT_TOKEN at all; an empty one turns Telegram off),
    the simulator stands in for Telegram: "Connect Telegram", pushed codes and the bot's answers work
    locally, and `manage.py telegram_chat` writes to the bot as a phone would."""
    if "TELEGRAM_BOT_TOKEN" in os.environ:
        return
    os.environ["TELEGRAM_BOT_TOKEN"] = TELEGRAM_STAND_IN_TOKEN
    os.environ["TELEGRAM_API_URL"] = f"http://127.0.0.1:{os.environ.get('SIMULATOR_PORT', '8001')}"


def main(names: list[str]) -> int:
    # The variables of .env reach the Procfile's commands as honcho's would; the environment wins.
    env_file = PROJECT / ".env"
    if env_file.exists():
        for key, value in parse(env_file.read_text()).items():
            os.environ.setdefault(key, value)
    offer_telegram_stand_in()
    commands = parse_procfile((PROJECT / "Procfile").read_text()).processes
    manager = OrderedManager()
    for name in names:
        # exec: the process honcho knows is the program itself, not a shell that would not pass a signal on.
        manager.add_process(name, f"exec env {commands[name]}", cwd=str(PROJECT))
    manager.loop()
    return 0 if manager.interrupted else (manager.returncode or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
