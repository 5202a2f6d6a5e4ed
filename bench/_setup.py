"""Shared set-up for the benchmarks: Django on a throwaway SQLite file (or BENCH_DATABASE_URL)."""

import os
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def django_on_scratch_database() -> None:
    sys.path.insert(0, str(PROJECT))
    scratch = Path(tempfile.mkdtemp(prefix="rentdesk-bench-")) / "bench.sqlite3"
    os.environ.setdefault("DATABASE_URL", os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{scratch}"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ["RENTDESK_ENV_FILE"] = "/nonexistent"
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"  # the test client's host
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


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
