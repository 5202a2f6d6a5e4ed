"""Single SQL statements for the paths every SMS takes, built from the models' own fields.

Every SMS is one SmsMessage row and one update of its rental; every SMS by webhook is also its
delivery's row, stored before the webhook's 200, one read of that delivery and one update marking it
processed; every open rental page reads its newest SMS every 1.5 s. Through the ORM, building these
statements took longer than the database took to run them: on PostgreSQL, more than half of an SMS's
time from its webhook to the rental's page (bench/webhook_to_screen.py). The statements here are the
ones the ORM would send, with the columns, the quoting and the conversion of each value taken from the
models, so a migration that renames or adds a column changes them too; what they read comes back
converted and deferred as the ORM's would.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Field, Model

from .models import Rental, SmsForward, SmsMessage, WebhookDelivery


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _column(model: type[Model], name: str) -> str:
    """The quoted column of the field ``name`` ("pk": the primary key)."""
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    return connection.ops.quote_name(field.column)


def _prepared(model: type[Model], name: str, value: object) -> object:
    """``value`` as the field ``name`` saves it (e.g. a datetime as SQLite's text)."""
    return model._meta.get_field(name).get_db_prep_save(value, connection)


def row_inserted(instance: Model) -> None:
    """INSERT ``instance`` as ``save(force_insert=True)`` would, and set its primary key.

    No model signals are sent: only for models nothing listens to (no history, no receivers).
    """
    model = type(instance)
    if not connection.features.can_return_columns_from_insert:  # a database without INSERT ... RETURNING
        instance.save(force_insert=True)
        return
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(_column(model, field.name) for field in fields)
    # pre_save as the ORM calls it: auto_now_add fields take the time now.
    values = [field.get_db_prep_save(field.pre_save(instance, add=True), connection) for field in fields]
    # Quoted identifiers from the model; every value goes as a parameter.
    sql = (
        f"INSERT INTO {_table(model)} ({columns}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {_column(model, 'pk')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        (instance.pk,) = cursor.fetchone()
    instance._state.adding = False
    instance._state.db = connection.alias


def delivery_stored_for_current_rent(
    *, token: str, rent_id: str, row: dict[str, object], now: datetime, received_at: datetime | None = None
) -> int | None:
    """The delivery's row, for the rental of the webhook ``token`` when ``rent_id`` is its current rent:
    finding the rental and inserting the row in one INSERT ... SELECT, one round trip instead of two.

    ``row``: the delivery's other fields by name; ``received_at``: when it arrived, if not ``now`` (a
    delivery kept while the database was away). Returns its id; None when no rental matched, or on a
    database without INSERT ... RETURNING (nothing is stored then). An IntegrityError (the same body
    again) propagates.
    """
    if not connection.features.can_return_columns_from_insert:
        return None
    values = {**row, "received_at": received_at or now, "stored_at": now, "enqueued_at": now, "outcome": ""}
    columns = ", ".join(_column(WebhookDelivery, name) for name in ["rental", *values])
    prepared = [_prepared(WebhookDelivery, name, value) for name, value in values.items()]
    # Quoted identifiers from the models; every value goes as a parameter.
    sql = (
        f"INSERT INTO {_table(WebhookDelivery)} ({columns}) "  # noqa: S608
        f"SELECT {_column(Rental, 'pk')}, {', '.join(['%s'] * len(values))} FROM {_table(Rental)} "
        f"WHERE {_column(Rental, 'webhook_token')} = %s AND {_column(Rental, 'provider_rent_id')} = %s "
        f"RETURNING {_column(WebhookDelivery, 'pk')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*prepared, token, rent_id])
        stored = cursor.fetchone()
    return stored[0] if stored else None


def rental_last_sms_moved(*, rental_id: int, received_at: datetime, text: str, code: str) -> None:
    """The rental's last SMS (the inventory's column) becomes this one, unless it shows a newer one."""
    at, last_text, last_code = (_column(Rental, name) for name in ("last_sms_at", "last_sms_text", "last_sms_code"))
    received = _prepared(Rental, "last_sms_at", received_at)
    sql = (
        f"UPDATE {_table(Rental)} SET {at} = %s, {last_text} = %s, {last_code} = %s "  # noqa: S608
        f"WHERE {_column(Rental, 'pk')} = %s AND ({at} IS NULL OR {at} <= %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [received, text, code, rental_id, received])


# What processing reads of a delivery and its rental (sms_record, forward_destinations). Types that
# need no conversion from the database's own, so the instances hold what the ORM would give them.
_DELIVERY_READ = ("id", "rental_id", "body", "content_type", "received_at", "stored_at")
_RENTAL_READ = ("id", "sms_chat_urls", "assignee_id")


def delivery_to_process(delivery_id: int) -> WebhookDelivery | None:
    """The delivery, with its rental, when it exists and is not processed yet; None otherwise.

    Every SMS by webhook is read here. Only the fields processing reads are loaded: any other field,
    of the delivery or of its rental, is deferred and costs a query of its own, as with ``only()``.
    """
    delivery_fields = _fields_in_model_order(WebhookDelivery, _DELIVERY_READ)
    rental_fields = _fields_in_model_order(Rental, _RENTAL_READ)
    columns = [f"d.{_column(WebhookDelivery, field.name)}" for field in delivery_fields]
    columns += [f"r.{_column(Rental, field.name)}" for field in rental_fields]
    # Quoted identifiers from the models; the id goes as a parameter.
    sql = (
        f"SELECT {', '.join(columns)} FROM {_table(WebhookDelivery)} d "  # noqa: S608
        f"INNER JOIN {_table(Rental)} r ON r.{_column(Rental, 'pk')} = d.{_column(WebhookDelivery, 'rental')} "
        f"WHERE d.{_column(WebhookDelivery, 'pk')} = %s AND d.{_column(WebhookDelivery, 'processed_at')} IS NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [delivery_id])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(delivery_fields)
    delivery_values = _converter(delivery_fields)(row[:split])  # its times as the ORM reads them
    delivery = WebhookDelivery.from_db(connection.alias, [f.attname for f in delivery_fields], delivery_values)
    delivery.rental = Rental.from_db(connection.alias, [f.attname for f in rental_fields], row[split:])
    return delivery


def delivery_processed(*, delivery_id: int, outcome: str, now: datetime) -> None:
    """Mark the delivery processed, with what came of it, unless another run did first."""
    processed_at, outcome_column = _column(WebhookDelivery, "processed_at"), _column(WebhookDelivery, "outcome")
    sql = (
        f"UPDATE {_table(WebhookDelivery)} SET {processed_at} = %s, {outcome_column} = %s "  # noqa: S608
        f"WHERE {_column(WebhookDelivery, 'pk')} = %s AND {processed_at} IS NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [_prepared(WebhookDelivery, "processed_at", now), outcome, delivery_id])


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
    columns = [f"s.{_column(SmsMessage, field.name)}" for field in sms_fields]
    columns += [f"f.{_column(SmsForward, field.name)}" for field in forward_fields]
    sms_key = _column(SmsMessage, "pk")
    # Quoted identifiers from the models; the rental and the limit go as parameters.
    sql = (
        f"SELECT {', '.join(columns)} FROM {_table(SmsMessage)} s "  # noqa: S608
        f"LEFT OUTER JOIN {_table(SmsForward)} f ON f.{_column(SmsForward, 'sms')} = s.{sms_key} "
        f"WHERE s.{_column(SmsMessage, 'rental')} = %s "
        f"ORDER BY s.{_column(SmsMessage, 'received_at')} DESC, s.{sms_key} DESC LIMIT %s"
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
