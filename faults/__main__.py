"""`make faults`: python -m faults [--short] [--only S1,S4] [--keep].

Starts the production stack on loopback, runs the scenarios one after the other, prints the table
(Markdown, as docs/faults.md shows it) and exits 1 when a figure misses its target.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.servers import wait_until
from harness.stack import Stack

from . import beats, contention, renting, storms, upgrade
from .parts import choose_parts
from .report import Figures, details, heading, table
from .rig import RESTART_AFTER_SECONDS, Rig
from .traffic import Rental


@dataclass(frozen=True)
class Size:
    rentals: int  # that the webhooks of S1-S3 and S6 go to
    storm: int  # S1 webhooks
    redis_storm: int  # S2
    outage_storm: int  # S3
    rents: int  # S4 attempts
    beats_seconds: int  # S5
    reminders: int  # S5
    rolling_seconds: int  # S6
    fresh_start_seconds: int  # S7
    slow_quotes_seconds: int  # S8
    reload_seconds: int  # S9


FULL = Size(rentals=10, storm=1000, redis_storm=1000, outage_storm=750, rents=100, beats_seconds=300, reminders=6,
            rolling_seconds=60, fresh_start_seconds=120, slow_quotes_seconds=60, reload_seconds=60)  # fmt: skip
# CI's: fewer messages, shorter runs, the same targets.
SHORT = Size(rentals=5, storm=300, redis_storm=500, outage_storm=500, rents=30, beats_seconds=75, reminders=3,
             rolling_seconds=30, fresh_start_seconds=30, slow_quotes_seconds=45, reload_seconds=30)  # fmt: skip

# The stack's own settings for the suite: a rent that SMS.online answers late costs 3 s, not 30.
# /metrics on, as a monitored server runs: S3 reads it while the database is away.
STACK_SETTINGS = {"SMSONLINE_TIMEOUT": str(renting.READ_TIMEOUT), "RENTDESK_METRICS_TOKEN": "faults-" + "m" * 40}
# Two gunicorns behind nginx's upstream, as docs/deploy.md runs more than one on a host (one without nginx).
WEBS = 2

Scenario = Callable[[Rig, list[Rental], Size], Figures]
SCENARIOS: dict[str, Scenario] = {
    "S1": lambda rig, rentals, size: storms.webhook_storm_with_a_worker_killed(rig, rentals, count=size.storm),
    "S2": lambda rig, rentals, size: storms.redis_restart(rig, rentals, count=size.redis_storm),
    "S3": lambda rig, rentals, size: storms.database_outage(rig, rentals, count=size.outage_storm),
    "S4": lambda rig, rentals, size: renting.provider_chaos_on_rent(rig, attempts=size.rents),
    "S5": lambda rig, rentals, size: beats.two_beats(rig, seconds=size.beats_seconds, reminders=size.reminders),
    "S6": lambda rig, rentals, size: storms.rolling_restart(rig, rentals, seconds=size.rolling_seconds),
    "S7": lambda rig, rentals, size: contention.catalog_sync_on_a_fresh_start(
        rig, rentals, seconds=size.fresh_start_seconds
    ),
    "S8": lambda rig, rentals, size: contention.slow_quotes(rig, rentals, seconds=size.slow_quotes_seconds),
    "S9": lambda rig, rentals, size: upgrade.reload_under_load(rig, rentals, seconds=size.reload_seconds),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="the CI version: fewer messages, shorter runs")
    parser.add_argument("--only", default="", help="comma-separated scenarios, e.g. S1,S4 (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the stack's directory (logs) afterwards")
    args = parser.parse_args(argv)
    chosen = [code.strip().upper() for code in args.only.split(",") if code.strip()] or list(SCENARIOS)
    if unknown := set(chosen) - set(SCENARIOS):
        parser.error(f"no scenario {', '.join(sorted(unknown))}; there are {', '.join(SCENARIOS)}")
    signal.signal(signal.SIGTERM, _interrupt)  # stop what was started, as on Ctrl-C
    size = SHORT if args.short else FULL
    directory = Path(tempfile.mkdtemp(prefix="rentdesk-faults-"))
    parts = choose_parts()
    stack = Stack(directory, postgres_server=parts.postgres_server, nginx=parts.nginx, overrides=STACK_SETTINGS,
                  webs=WEBS)  # fmt: skip
    rig = Rig(stack)
    rows: list[Figures] = []
    try:
        rows = run(rig, chosen, size)
    finally:
        rig.shutdown()
        parts.stop()
        if args.keep:
            print(f"\nLogs and files of the stack: {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)
    print("\n" + heading(short=args.short, database=parts.database, nginx=parts.nginx) + "\n")
    print(table(rows) + "\n\n" + details(rows))
    for reason in parts.skipped:
        print(f"WITHOUT {reason}")
    passed = len(rows) == len(chosen) and all(row.ok for row in rows)
    print("make faults:", "every figure met its target" if passed else "FAILED")
    return 0 if passed else 1


def run(rig: Rig, chosen: list[str], size: Size) -> list[Figures]:
    began = time.monotonic()
    say(f"Starting the stack in {rig.stack.directory} …")
    rig.stack.start()
    rig.supervise()
    rentals = renting.rentals_labelled(rig, "faults webhook", count=size.rentals)
    # A new install reads the whole catalog first (a minute of getRentPrices, in short tasks): start from
    # the steady state, once a pass has finished.
    finished = "SELECT count(*) FROM rentals_catalogsync WHERE last_pass_finished_at IS NOT NULL"
    wait_until(lambda: rig.value(finished), seconds=300, every=1)
    say(f"Stack up, {len(rentals)} rentals taking webhooks, in {time.monotonic() - began:.0f} s.")
    rows = []
    for code in chosen:
        started = time.time()
        say(f"{code} …")
        try:
            figures = SCENARIOS[code](rig, rentals, size)
        except Exception:
            traceback.print_exc()
            print(rig.stack.log_tail()[-6000:])
            figures = Figures(
                f"{code} (stopped by an error)", missed=["ran to the end"], notes=["see the output above"]
            )
        rows.append(figures)
        if restarted := rig.restarted(started):
            exits = ", ".join(f"{restart.name} (exit {restart.exit_code})" for restart in restarted)
            figures.notes.append(f"started again after {RESTART_AFTER_SECONDS:.0f} s, as systemd would: {exits}")
        outcome = "ok" if figures.ok else "FAILED: " + ", ".join(figures.missed)
        say(f"{code} {outcome} in {time.time() - started:.0f} s")
    return rows


def say(line: str) -> None:
    print(f"[faults {time.strftime('%H:%M:%S')}] {line}", flush=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
