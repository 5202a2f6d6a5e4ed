"""Bytes per row of the tables that grow with use, with their indexes, and what 1,000 rentals a month add.

Rows like real ones are bulk-inserted, and each table's size (PostgreSQL: pg_total_relation_size, the
table with its indexes and TOAST; SQLite: the pages dbstat counts for the table and its indexes) is
read before and after: the difference over the rows is the bytes a row costs on disk.

What 1,000 rentals a month add, on these assumptions (docs/operating.md's "Retention and table sizes"
says them too):
- one rent attempt per rental, and HISTORY_PER_RENTAL history rows (rent, an assignment or claim, an
  extension, the end);
- SMS_PER_RENTAL SMS a month per rental, each reaching Rentdesk by webhook (one delivery each);
- polling leaves no row (it updates the rental's last_polled_at); an idle rental is polled every 5
  minutes, 288 times a day, and PROVIDER_ERROR_SHARE of polls meet a provider error, each an error event.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import timedelta

from _setup import note

RENTALS_A_MONTH = 1000
HISTORY_PER_RENTAL = 4
SMS_PER_RENTAL = 3
POLLS_PER_RENTAL_A_DAY = 288
PROVIDER_ERROR_SHARE = 0.001
ROWS_A_MONTH = {
    "rentals": RENTALS_A_MONTH,
    "rent attempts": RENTALS_A_MONTH,
    "rental history": RENTALS_A_MONTH * HISTORY_PER_RENTAL,
    "SMS": RENTALS_A_MONTH * SMS_PER_RENTAL,
    "webhook deliveries": RENTALS_A_MONTH * SMS_PER_RENTAL,
    "provider errors": round(RENTALS_A_MONTH * POLLS_PER_RENTAL_A_DAY * 30 * PROVIDER_ERROR_SHARE),
}


def table_bytes(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_total_relation_size(%s::regclass)", [table])
        else:
            cursor.execute("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN "
                           "(SELECT name FROM sqlite_schema WHERE tbl_name = %s)", [table])  # fmt: skip
        return int(cursor.fetchone()[0])


def _rows_written(count: int) -> None:
    """``count`` of each kind of row, as real ones look (young: no purge takes them)."""
    from django.utils import timezone
    from simple_history.utils import bulk_create_with_history

    from rentals.models import (
        Country,
        ErrorEvent,
        ProviderAccount,
        Rental,
        RentAttempt,
        Service,
        SmsMessage,
        WebhookDelivery,
    )

    account = ProviderAccount.objects.get(name="Sandbox")
    service, country, now = Service.objects.get(code="tg"), Country.objects.get(provider_id=1), timezone.now()
    text = "Telegram code: 482913. Do not give this code to anyone, even if they say they are from Telegram."
    rentals = [Rental(account=account, provider_rent_id=str(900_000_000 + n), number=f"38067{n:07d}", service=service,
                      country=country, hours=720, end_date=now + timedelta(days=30), label=f"Support desk login {n}",
                      webhook_token=secrets.token_urlsafe(32), last_sms_at=now, last_sms_text=text[:60],
                      last_sms_code="482913") for n in range(count)]  # fmt: skip
    bulk_create_with_history(rentals, Rental, batch_size=5000)
    rental_ids = list(Rental.objects.filter(provider_rent_id__startswith="9000").values_list("pk", flat=True)[:count])
    RentAttempt.objects.bulk_create([RentAttempt(account=account, service=service, country=country, hours=720,
                                                 label=f"Support desk login {n}", via="admin", state="succeeded",
                                                 webhook_token=secrets.token_urlsafe(32), sent_at=now, duration_ms=420,
                                                 rental_id=rental_id, end_date=now, finished_at=now)
                                     for n, rental_id in enumerate(rental_ids)], batch_size=5000)  # fmt: skip
    body = json.dumps({"rentId": "900000001", "sms": {"phoneFrom": "Telegram", "text": text,
                                                      "date": "2026-12-07 10:00:00"}})  # fmt: skip
    SmsMessage.objects.bulk_create([SmsMessage(rental_id=rental_id, sender="Telegram", text=text, code="482913",
                                               received_at=now, dedupe_key=hashlib.sha256(str(n).encode()).hexdigest(),
                                               source="webhook") for n, rental_id in enumerate(rental_ids)],
                                   batch_size=5000)  # fmt: skip
    WebhookDelivery.objects.bulk_create([WebhookDelivery(rental_id=rental_id, body=body.encode(),
                                                         body_hash=hashlib.sha256(str(n).encode()).hexdigest(),
                                                         content_type="application/json", stored_at=now,
                                                         processed_at=now, outcome="recorded")
                                         for n, rental_id in enumerate(rental_ids)], batch_size=5000)  # fmt: skip
    ErrorEvent.objects.bulk_create([ErrorEvent(account=account, operation="getRentStatus", token="ERROR_SQL",
                                               detail="SMS.online answered ERROR_SQL: try again later.")
                                    for _ in range(count)], batch_size=5000)  # fmt: skip


def _tables() -> dict[str, str]:
    from rentals.models import ErrorEvent, Rental, RentAttempt, SmsMessage, WebhookDelivery

    models = {"rentals": Rental, "rent attempts": RentAttempt, "rental history": Rental.history.model,
              "SMS": SmsMessage, "webhook deliveries": WebhookDelivery, "provider errors": ErrorEvent}  # fmt: skip
    return {kind: model._meta.db_table for kind, model in models.items()}


def table_sizes_noted(count: int) -> dict[str, float]:
    """Bytes per row of each table (``count`` rows of each written), and a month of 1,000 rentals: noted."""
    from django.db import DatabaseError, connection

    tables = _tables()
    try:
        table_bytes(tables["rentals"])
    except DatabaseError:  # an SQLite built without the dbstat table
        connection.close()
        note("bytes per row", "not measured: this SQLite has no dbstat table")
        return {}
    before = {kind: table_bytes(table) for kind, table in tables.items()}
    _rows_written(count)
    per_row = {kind: (table_bytes(table) - before[kind]) / count for kind, table in tables.items()}
    month = {kind: per_row[kind] * ROWS_A_MONTH[kind] for kind in tables}
    for kind in tables:
        note(f"bytes per row: {kind}", f"{per_row[kind]:.0f} B; 1,000 rentals a month: {ROWS_A_MONTH[kind]:,} rows, "
                                       f"{month[kind] / 1e6:.2f} MB")  # fmt: skip
    note("1,000 rentals a month, every table above", f"{sum(month.values()) / 1e6:.1f} MB")
    return per_row
