"""Shared set-up for the benchmarks: the database, the sizes, and how a figure is reported.

Every script runs on a throwaway SQLite file, or, when BENCH_DATABASE_URL names a PostgreSQL
server (a postgres:// URL whose user may create databases), on a new database there that is
dropped at the end (both made by harness/databases.py, as the stack and the fault suite make theirs).
BENCH_SIZE=quick picks the smaller sizes CI runs; the targets stay the same.
Each figure is printed with its target and PASS or FAIL; the script exits non-zero on any FAIL.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import NoReturn, TypeVar

PROJECT = Path(__file__).resolve().parent.parent
# A script runs as bench/<name>.py: the project (config, rentals, harness) is importable from here on.
sys.path.insert(0, str(PROJECT))

from harness.databases import create_database, django_migrated, drop_databases, server_of, sqlite_url  # noqa: E402

QUICK = os.environ.get("BENCH_SIZE") == "quick"
_outcomes: list[bool] = []


Size = TypeVar("Size", int, float)


def sized(full: Size, quick: Size) -> Size:
    return quick if QUICK else full


def database_name() -> str:
    return "PostgreSQL" if os.environ.get("BENCH_DATABASE_URL") else "SQLite"


def scratch_database_url() -> str:
    """A new, empty database for this run: a SQLite file, or a database on BENCH_DATABASE_URL's server."""
    server = server_of(os.environ.get("BENCH_DATABASE_URL", ""))
    if not server:
        directory = Path(tempfile.mkdtemp(prefix="rentdesk-bench-"))
        atexit.register(_remove_scratch_directory, directory)  # its database grows to hundreds of megabytes
        return sqlite_url(directory / "bench.sqlite3")
    name = create_database(server, prefix="rentdesk_bench")
    atexit.register(_drop_database, server, name)
    return f"{server}/{name}"


def _remove_scratch_directory(directory: Path) -> None:
    from django.db import connections

    connections.close_all()
    shutil.rmtree(directory, ignore_errors=True)


def _drop_database(server: str, name: str) -> None:
    from django.db import connections

    connections.close_all()
    drop_databases(server, [name])


def django_on_scratch_database() -> str:
    """Django (test settings: fast hashing, no mail; DEBUG off) migrated on a scratch database; its URL."""
    url = scratch_database_url()
    django_migrated(url)
    return url


def make_rentals(count: int, *, due_within_hours: int | None = None, due: int = 0) -> None:
    """``count`` active rentals ending far away, plus ``due`` ending within ``due_within_hours``."""
    from datetime import timedelta

    from django.utils import timezone

    from rentals.models import Country, ProviderAccount, Rental, Service

    account, _ = ProviderAccount.objects.get_or_create(
        name="Bench", defaults={"api_url": "http://127.0.0.1:9/stubs/handler_api.php", "api_key_ciphertext": "x"}
    )
    service, country = Service.objects.get(code="tg"), Country.objects.get(provider_id=1)
    now = timezone.now()
    start = Rental.objects.count()
    batch = []
    for index in range(count + due):
        ends = now + (timedelta(hours=due_within_hours or 1) if index < due else timedelta(days=30 + index % 60))
        batch.append(Rental(account=account, provider_rent_id=str(start + index), number=f"3805{start + index:08d}",
                            service=service, country=country, hours=720, end_date=ends))  # fmt: skip
        if len(batch) == 5000:
            Rental.objects.bulk_create(batch)
            batch = []
    Rental.objects.bulk_create(batch)


def planner_statistics_refreshed() -> None:
    """After a bulk insert, PostgreSQL's autovacuum analyzes the table within a minute or so: maybe in
    the middle of a measurement, changing its plans halfway (one quick run's inventory pages ranged
    from 0.9x to 2.8x). Analyze now, as a table in use would already be."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def make_webhook_rentals(count: int, *, prefix: str) -> list[tuple[int, str, str]]:
    """``count`` rentals of the Sandbox account with a registered webhook: (id, provider rent id, token)."""
    import secrets
    from datetime import timedelta

    from django.utils import timezone

    from rentals.models import Country, ProviderAccount, Rental, Service

    account = ProviderAccount.objects.get(name="Sandbox")
    service, country = Service.objects.get(code="tg"), Country.objects.get(provider_id=1)
    Rental.objects.bulk_create(
        Rental(account=account, provider_rent_id=f"{prefix}-{n}", number=f"38068{n:07d}", service=service,
               country=country, hours=720, end_date=timezone.now() + timedelta(days=30),
               webhook_token=secrets.token_urlsafe(32))
        for n in range(count)
    )  # fmt: skip
    rentals = Rental.objects.filter(provider_rent_id__startswith=f"{prefix}-")
    return list(rentals.values_list("pk", "provider_rent_id", "webhook_token"))


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(name: str, figure: str, target: str, passed: bool) -> bool:
    """Print one figure with its target and verdict; the runner (bench/run.py) collects it."""
    print(f"{'PASS' if passed else 'FAIL'}  {name}: {figure}  (target: {target})", flush=True)
    _record({"name": name, "figure": figure, "target": target, "verdict": "PASS" if passed else "FAIL"})
    _outcomes.append(passed)
    return passed


def note(name: str, figure: str) -> None:
    """A figure reported for reading, with no target of its own."""
    print(f"      {name}: {figure}", flush=True)
    _record({"name": name, "figure": figure, "target": "", "verdict": ""})


def skip(reason: str) -> NoReturn:
    print(f"SKIP  {reason}", flush=True)
    _record({"name": Path(sys.argv[0]).stem, "figure": "", "target": "", "verdict": f"SKIPPED: {reason}"})
    sys.exit(0)


def _record(row: dict[str, str]) -> None:
    if path := os.environ.get("BENCH_RESULTS"):
        with open(path, "a") as results:
            results.write(json.dumps({**row, "database": database_name()}) + "\n")


def finish() -> NoReturn:
    """Exit non-zero when any figure missed its target."""
    sys.stdout.flush()
    sys.exit(0 if all(_outcomes) else 1)
