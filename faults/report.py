"""The figures of each scenario, their targets, and the table the suite prints."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

COLUMNS = ("scenario", "sent", "stored", "lost", "duplicates", "5xx", "no answer", "recovery", "result")


@dataclass
class Figures:
    """One scenario's row. ``None`` is a figure the scenario does not have (shown as a dash)."""

    scenario: str
    sent: int | str | None = None
    stored: int | None = None
    lost: int | None = None
    duplicates: int | None = None
    server_errors: int | None = None  # answers 500-599
    no_answer: int | None = None  # refused, reset or timed out: no HTTP answer at all
    recovery: float | None = None  # seconds
    missed: list[str] = field(default_factory=list)  # the targets it missed
    notes: list[str] = field(default_factory=list)

    def expect(self, target: str, met: bool) -> None:
        if not met:
            self.missed.append(target)

    def expect_none(self, *figures: str) -> None:
        """Each of ``figures`` (lost, duplicates, server_errors, no_answer) must be 0."""
        for name in figures:
            self.expect(f"{COLUMN_OF.get(name, name)} 0", getattr(self, name) == 0)

    def expect_recovery_under(self, seconds: float) -> None:
        self.expect(f"recovery under {seconds:.0f} s", self.recovery is not None and self.recovery < seconds)

    @property
    def ok(self) -> bool:
        return not self.missed

    def cells(self) -> list[str]:
        figures = (self.sent, self.stored, self.lost, self.duplicates, self.server_errors, self.no_answer)
        recovery = "—" if self.recovery is None else f"{self.recovery:.0f} s"
        return [self.scenario, *("—" if f is None else str(f) for f in figures), recovery, "ok" if self.ok else "FAIL"]


COLUMN_OF = {"server_errors": "5xx", "no_answer": "no answer"}


def table(rows: list[Figures]) -> str:
    """A Markdown table: readable in a terminal, and pasted as is into docs/faults.md."""
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(COLUMNS) - 2) + [":---:"]) + "|",
    ]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def details(rows: list[Figures]) -> str:
    lines = []
    for row in rows:
        lines.append(f"- **{row.scenario}**: " + "; ".join(row.notes) + ".")
        if row.missed:
            lines.append(f"  MISSED: {', '.join(row.missed)}.")
    return "\n".join(lines)


def machine() -> str:
    """What the figures were measured on: system, processor, cores, memory."""
    system = platform.platform(terse=True)
    release = Path("/etc/os-release")
    if release.exists():
        fields = dict(line.split("=", 1) for line in release.read_text().splitlines() if "=" in line)
        system = fields.get("PRETTY_NAME", system).strip('"')
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                    if line.startswith("model name")), "")  # fmt: skip
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kilobytes = int(meminfo.read_text().split()[1])
        memory = f", {kilobytes / 1024 / 1024:.0f} GB RAM"
    return f"{system}, {os.cpu_count()} cores{f' ({cpu})' if cpu else ''}{memory}"


def heading(*, short: bool, database: str, nginx: bool) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    version = "short (CI)" if short else "full"
    proxy = "nginx → gunicorn" if nginx else "gunicorn (no nginx)"
    return f"Fault suite, {version}, {when}: {proxy}, {database}, Redis. Machine: {machine()}."
