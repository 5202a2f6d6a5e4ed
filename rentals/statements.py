"""Single SQL statements for the paths every SMS takes, built from the models' own fields.

Every SMS is one SmsMessage row and one update of its rental; every SMS by webhook is also one read
of its stored delivery and one update marking it processed; every open rental page reads its newest
SMS every 1.5 s. Through the ORM, building these statements took longer than the database took to
run them: on PostgreSQL, more than half of an SMS's time from its webhook to the rental's page
(bench/webhook_to_screen.py). The statements here are the ones the ORM would send, with the columns,
the quoting and the conversion of each value taken from the models, so a migration that renames or
adds a column changes them too; what they read comes back converted and deferred as the ORM's would.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Field, Model

from .models import Rental, SmsForward, SmsMessage, WebhookDelivery


def row_inserted(instance: Model) -> None:
    """INSERT ``instance`` as ``save(force_insert=True)`` would, and set its primary key.

    No model signals are sent: only for models nothing listens to (no history, no receivers).
    """
    meta = instance._meta
    if not connection.features.can_return_columns_from_insert:  # a database without INSERT ... RETURNING
        instance.save(force_insert=True)
        return
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    # pre_save as the ORM calls it: auto_now_add fields take the time now.
    values = [field.get_db_prep_save(field.pre_save(instance, add=True), connection) for field in fields]
    # Quoted identifiers from the model; every value goes as a parameter.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        (instance.pk,) = cursor.fetchone()
    instance._state.adding = False
    instance._state.db = connection.alias


def rental_last_sms_moved(*, rental_id: int, received_at: datetime, text: str, code: str) -> None:
    """The rental's last SMS (the inventory's column) becomes this one, unless it shows a newer one."""
    field, quote = Rental._meta.get_field, connection.ops.quote_name
    at, last_text, last_code = (quote(field(name).column) for name in ("last_sms_at", "last_sms_text", "last_sms_code"))
    received = field("last_sms_at").get_db_prep_save(received_at, connection)
    sql = (
        f"UPDATE {quote(Rental._meta.db_table)} SET {at} = %s, {last_text} = %s, {last_code} = %s "  # noqa: S608
        f"WHERE {quote(Rental._meta.pk.column)} = %s AND ({at} IS NULL OR {at} <= %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [received, text, code, rental_id, received])


# What processing reads of a delivery and its rental (sms_record, forward_destinations). Types that
# need no conversion from the database's own, so the instances hold what the ORM would give them.
_DELIVERY_READ = ("id", "rental_id", "body", "content_type")
_RENTAL_READ = ("id", "sms_chat_urls", "assignee_id")


def delivery_to_process(delivery_id: int) -> WebhookDelivery | None:
    """The delivery, with its rental, when it exists and is not processed yet; None otherwise.

    Every SMS by webhook is read here. Only the fields processing reads are loaded: any other field,
    of the delivery or of its rental, is deferred and costs a query of its own, as with ``only()``.
    """
    delivery_fields = _fields_in_model_order(WebhookDelivery, _DELIVERY_READ)
    rental_fields = _fields_in_model_order(Rental, _RENTAL_READ)
    quote = connection.ops.quote_name
    columns = [f"d.{quote(field.column)}" for field in delivery_fields]
    columns += [f"r.{quote(field.column)}" for field in rental_fields]
    rental_key = quote(WebhookDelivery._meta.get_field("rental").column)
    processed_at = quote(WebhookDelivery._meta.get_field("processed_at").column)
    # Quoted identifiers from the models; the id goes as a parameter.
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(WebhookDelivery._meta.db_table)} d "  # noqa: S608
        f"INNER JOIN {quote(Rental._meta.db_table)} r ON r.{quote(Rental._meta.pk.column)} = d.{rental_key} "
        f"WHERE d.{quote(WebhookDelivery._meta.pk.column)} = %s AND d.{processed_at} IS NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [delivery_id])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(delivery_fields)
    delivery = WebhookDelivery.from_db(connection.alias, [f.attname for f in delivery_fields], row[:split])
    delivery.rental = Rental.from_db(connection.alias, [f.attname for f in rental_fields], row[split:])
    return delivery


def delivery_processed(*, delivery_id: int, outcome: str, now: datetime) -> None:
    """Mark the delivery processed, with what came of it, unless another run did first."""
    field, quote = WebhookDelivery._meta.get_field, connection.ops.quote_name
    processed_at, outcome_column = quote(field("processed_at").column), quote(field("outcome").column)
    sql = (
        f"UPDATE {quote(WebhookDelivery._meta.db_table)} SET {processed_at} = %s, {outcome_column} = %s "  # noqa: S608
        f"WHERE {quote(WebhookDelivery._meta.pk.column)} = %s AND {processed_at} IS NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [field("processed_at").get_db_prep_save(now, connection), outcome, delivery_id])


def _fields_in_model_order(model: type[Model], attnames: tuple[str, ...]) -> list[Field]:
    # from_db takes the loaded values in the order of the model's fields.
    return [field for field in model._meta.concrete_fields if field.attname in attnames]


# What an open rental page shows of each SMS, and of its forwarding (forwarding_summary).
_FORWARD_READ = ("sms_id", "state", "destinations", "attempts", "last_error", "sent_at")


def newest_sms_with_forwarding(*, rental_id: int, limit: int) -> list[SmsMessage]:
    """The rental's newest SMS, each with its forwarding read too, as ``select_related("forward")`` does
    (``getattr(sms, "forward", None)``: the descriptor raises for an SMS with none).

    Every open rental page asks for this every 1.5 s, and the time from a webhook to the page ends
    with it. The forwarding's other fields are deferred: reading one costs a query of its own.
    """
    sms_fields = list(SmsMessage._meta.concrete_fields)
    forward_fields = _fields_in_model_order(SmsForward, _FORWARD_READ)
    quote = connection.ops.quote_name
    columns = [f"s.{quote(field.column)}" for field in sms_fields]
    columns += [f"f.{quote(field.column)}" for field in forward_fields]
    sms_column = SmsMessage._meta.get_field
    sms_key = quote(SmsMessage._meta.pk.column)
    forward_key = quote(SmsForward._meta.get_field("sms").column)
    # Quoted identifiers from the models; the rental and the limit go as parameters.
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(SmsMessage._meta.db_table)} s "  # noqa: S608
        f"LEFT OUTER JOIN {quote(SmsForward._meta.db_table)} f ON f.{forward_key} = s.{sms_key} "
        f"WHERE s.{quote(sms_column('rental').column)} = %s "
        f"ORDER BY s.{quote(sms_column('received_at').column)} DESC, s.{sms_key} DESC LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [rental_id, limit])
        rows = cursor.fetchall()
    sms_values, forward_values = _converter(sms_fields), _converter(forward_fields)
    forward_cache = SmsMessage._meta.get_field("forward")
    newest = []
    for row in rows:
        sms = SmsMessage.from_db(connection.alias, [f.attname for f in sms_fields], sms_values(row[: len(sms_fields)]))
        forward = None
        if row[len(sms_fields)] is not None:  # the forwarding's key: NULL when the join found none
            names = [field.attname for field in forward_fields]
            forward = SmsForward.from_db(connection.alias, names, forward_values(row[len(sms_fields) :]))
        forward_cache.set_cached_value(sms, forward)  # as select_related leaves it: no query on reading
        newest.append(sms)
    return newest


def _converter(fields: list[Field]) -> Callable[[tuple[Any, ...]], list[Any]]:
    """What the ORM does to each value read from the database (e.g. SQLite's dates are text)."""
    steps = []
    for field in fields:
        column = field.get_col(field.model._meta.db_table)
        steps.append((column, connection.ops.get_db_converters(column) + column.get_db_converters(connection)))

    def convert(values: tuple[Any, ...]) -> list[Any]:
        converted = []
        for value, (column, converters) in zip(values, steps, strict=True):
            for converter in converters:
                value = converter(value, column, connection)
            converted.append(value)
        return converted

    return convert
