"""Raw SQL: single statements written by hand for the paths every SMS and every rent take, built from
the models' own fields.

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

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Field, Model
from django.utils import timezone

from .models import (
    AccountState,
    PersonBudget,
    ProviderAccount,
    Rental,
    RentAttempt,
    SmsForward,
    SmsMessage,
    WebhookDelivery,
)


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
    sql, fields = _insert(model)
    values = _insert_values(instance, fields)
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        (instance.pk,) = cursor.fetchone()
    instance._state.adding = False
    instance._state.db = connection.alias


def _insert_values(instance: Model, fields: list[Field]) -> list[Any]:
    """Each field's value as ``save(force_insert=True)`` writes it: first what the model's save() works
    out from its other fields (``derived_fields_filled``: a rental's search keys), then pre_save as the
    ORM calls it (auto_now_add fields take the time now)."""
    if (fill := getattr(instance, "derived_fields_filled", None)) is not None:
        fill()
    return [field.get_db_prep_save(field.pre_save(instance, add=True), connection) for field in fields]


@functools.cache
def _insert(model: type[Model]) -> tuple[str, list[Field]]:
    """The model's INSERT ... RETURNING its key, built once: the rent path inserts three rows."""
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(_column(model, field.name) for field in fields)
    # Quoted identifiers from the model; every value goes as a parameter.
    sql = (
        f"INSERT INTO {_table(model)} ({columns}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {_column(model, 'pk')}"
    )
    return sql, fields


def row_updated(instance: Model, names: list[str]) -> None:
    """UPDATE the fields ``names`` of ``instance`` as ``save(update_fields=names)`` would (its
    ``auto_now`` fields among them take the time now). No model signals are sent: only for models
    nothing listens to (no history, no receivers)."""
    sql, fields = _update(type(instance), tuple(names))
    values = [field.get_db_prep_save(field.pre_save(instance, add=False), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, instance.pk])


@functools.cache
def _update(model: type[Model], names: tuple[str, ...]) -> tuple[str, list[Field]]:
    """The UPDATE of ``names`` by primary key, built once for each model and set of fields."""
    fields = [model._meta.get_field(name) for name in names]
    assignments = ", ".join(f"{_column(model, field.name)} = %s" for field in fields)
    return f"UPDATE {_table(model)} SET {assignments} WHERE {_column(model, 'pk')} = %s", fields  # noqa: S608


def row_inserted_with_history(instance: Model) -> None:
    """``row_inserted``, then its history row: for a model django-simple-history tracks and nothing else
    listens to."""
    row_inserted(instance)
    history_row_inserted(instance)


def history_row_inserted(instance: Model) -> None:
    """The history row django-simple-history writes when ``instance`` is created (``save()``'s
    post_save): who (``_history_user``, set by ``managing.recorded_as``), when, and the tracked
    fields, copied by the database from the row just inserted (INSERT ... SELECT: nothing converted
    twice). The history model's own signals are not sent (nothing here listens)."""
    model = type(instance)
    source = f"{_table(model)} WHERE {_column(model, 'pk')} = %s"
    with connection.cursor() as cursor:
        cursor.execute(_history_copy(model, source), [*_history_values(instance), instance.pk])


def _history_values(instance: Model) -> list[object]:
    """The history row's own fields, as ``HistoricalRecords.create_historical_record`` sets them."""
    user = getattr(instance, "_history_user", None)
    when = getattr(instance, "_history_date", None) or timezone.now()
    return [_prepared(_history_model(type(instance)), "history_date", when), user.pk if user is not None else None,
            getattr(instance, "_change_reason", None), "+"]  # fmt: skip


@functools.cache
def _history_model(model: type[Model]) -> type[Model]:
    return model.history.model  # the descriptor builds a manager class at each access


@functools.cache
def _history_copy(model: type[Model], source: str) -> str:
    """INSERT of ``model``'s history row, its tracked fields copied from the row ``source`` gives."""
    history = _history_model(model)
    tracked = [field.name for field in history.tracked_fields]
    own = ["history_date", "history_user", "history_change_reason", "history_type"]
    columns = ", ".join(_column(history, name) for name in [*tracked, *own])
    copied = ", ".join(_column(model, name) for name in tracked)
    # Quoted identifiers from the models; the values and the key go as parameters.
    return f"INSERT INTO {_table(history)} ({columns}) SELECT {copied}, %s, %s, %s, %s FROM {source}"  # noqa: S608


def created_and_linked(created: Model, *, linked: Model, link: str, names: list[str]) -> None:
    """INSERT ``created`` with its history row (``row_inserted_with_history``) and UPDATE the fields
    ``names`` of ``linked``, whose foreign key ``link`` then points at ``created``: all or nothing
    (an IntegrityError leaves nothing written, and ``linked`` unlinked).

    On PostgreSQL, one statement (its WITH inserts the row and the history row), atomic by itself:
    outside a transaction, one round trip and one commit, where three statements in a transaction take
    five round trips. Elsewhere, the three statements in a transaction."""
    if connection.vendor != "postgresql":
        with transaction.atomic():
            row_inserted_with_history(created)
            setattr(linked, link, created)
            row_updated(linked, [*names, link])
        return
    _, fields = _insert(type(created))
    values = _insert_values(created, fields)
    updates = [type(linked)._meta.get_field(name) for name in names]
    values += _history_values(created)
    values += [field.get_db_prep_save(field.pre_save(linked, add=False), connection) for field in updates]
    with connection.cursor() as cursor:
        cursor.execute(_created_and_linked(type(created), type(linked), link, tuple(names)), [*values, linked.pk])
        (created.pk,) = cursor.fetchone()
    created._state.adding = False
    created._state.db = connection.alias
    setattr(linked, link, created)


@functools.cache
def _created_and_linked(model: type[Model], linked: type[Model], link: str, names: tuple[str, ...]) -> str:
    insert, _ = _insert(model)
    history = _history_copy(model, "created")
    assignments = ", ".join(f"{_column(linked, name)} = %s" for name in names)
    # Quoted identifiers from the models; every value goes as a parameter.
    return (
        f"WITH created AS ({insert.rsplit(' RETURNING ', 1)[0]} RETURNING *), history AS ({history}) "  # noqa: S608
        f"UPDATE {_table(linked)} SET {assignments}, {_column(linked, link)} = (SELECT {_column(model, 'pk')} "
        f"FROM created) WHERE {_column(linked, 'pk')} = %s RETURNING {_column(linked, link)}"
    )


def attempt_inserted_unless_checks_apply(attempt: RentAttempt, *, account: ProviderAccount, now: datetime) -> bool:
    """INSERT the rent attempt ``attempt``, committed by itself, only when nothing needs checking under its
    account's lock: the account has no monthly budget, its state is OK and no 429's wait runs at ``now``,
    and the person asking (``attempt.requested_by_id``) has no budget; ``account`` is read afresh either
    way. Returns whether it was inserted (its key set).

    PostgreSQL: one statement that locks the account's row, reads it and inserts, one round trip where
    a transaction takes four (BEGIN, the locked read, the INSERT, COMMIT). SQLite: the account read,
    then the INSERT that checks its row again (a statement holds the database's write lock). A database
    without INSERT ... RETURNING inserts nothing here."""
    if connection.vendor != "postgresql":
        if not connection.features.can_return_columns_from_insert:
            return False
        row_read_afresh(account, lock=False)
    sql, fields, read = _insert_unless_checks_apply(connection.vendor)
    values = _insert_values(attempt, fields)
    guard = [AccountState.OK, _prepared(ProviderAccount, "rate_limited_until", now), attempt.requested_by_id]
    with connection.cursor() as cursor:
        cursor.execute(sql, [account.pk, *values, *guard] if read else [*values, account.pk, *guard])
        row = cursor.fetchone()
    if read:  # PostgreSQL: the account as locked, with the new attempt's key or NULL
        if row is None:
            raise ProviderAccount.DoesNotExist(f"ProviderAccount {account.pk} no longer exists.")
        for field, value in zip(read[1:], read[0](row[1:]), strict=True):
            setattr(account, field.attname, value)
        row = row[:1]
    if row is None or row[0] is None:
        return False
    attempt.pk, attempt._state.adding, attempt._state.db = row[0], False, connection.alias
    return True


@functools.cache
def _insert_unless_checks_apply(vendor: str) -> tuple[str, list[Field], tuple[Any, ...]]:
    """The statement, the attempt's fields it inserts, and (PostgreSQL) how to read the account it returns."""
    _, fields = _insert(RentAttempt)
    columns = ", ".join(_column(RentAttempt, field.name) for field in fields)
    budget, state = _column(ProviderAccount, "monthly_budget"), _column(ProviderAccount, "state")
    waits, key = _column(ProviderAccount, "rate_limited_until"), _column(ProviderAccount, "pk")
    guard = (
        f"{budget} IS NULL AND {state} = %s AND ({waits} IS NULL OR {waits} <= %s) AND NOT EXISTS "  # noqa: S608
        f"(SELECT 1 FROM {_table(PersonBudget)} WHERE {_column(PersonBudget, 'user')} = %s)"
    )
    if vendor != "postgresql":
        # Quoted identifiers from the models; every value goes as a parameter.
        sql = (
            f"INSERT INTO {_table(RentAttempt)} ({columns}) SELECT {', '.join(['%s'] * len(fields))} "  # noqa: S608
            f"FROM {_table(ProviderAccount)} WHERE {key} = %s AND {guard} RETURNING {_column(RentAttempt, 'pk')}"
        )
        return sql, fields, ()
    account_fields = list(ProviderAccount._meta.concrete_fields)
    account_columns = ", ".join(_column(ProviderAccount, field.name) for field in account_fields)
    # Typed, as a SELECT's values are not given their columns' types as VALUES' are.
    typed = ", ".join(f"CAST(%s AS {field.cast_db_type(connection)})" for field in fields)
    sql = (
        f"WITH account AS (SELECT {account_columns} FROM {_table(ProviderAccount)} WHERE {key} = %s "  # noqa: S608
        f"FOR UPDATE), inserted AS (INSERT INTO {_table(RentAttempt)} ({columns}) SELECT {typed} FROM account "
        f"WHERE {guard} RETURNING {_column(RentAttempt, 'pk')}) "
        f"SELECT (SELECT {_column(RentAttempt, 'pk')} FROM inserted), account.* FROM account"
    )
    return sql, fields, (_converter(account_fields), *account_fields)


def row_read_afresh(instance: Model, *, lock: bool) -> None:
    """Every field of ``instance`` read again from its row, as ``refresh_from_db()`` does (with ``lock``,
    ``select_for_update()`` first: the row is locked until the transaction ends), with a statement
    built once per model rather than a queryset per call. Only for models with no foreign keys (the
    objects ``refresh_from_db`` would clear are not)."""
    sql, fields, convert = _read_afresh(type(instance), lock and connection.features.has_select_for_update)
    with connection.cursor() as cursor:
        cursor.execute(sql, [instance.pk])
        row = cursor.fetchone()
    if row is None:
        raise type(instance).DoesNotExist(f"{type(instance)._meta.object_name} {instance.pk} no longer exists.")
    for field, value in zip(fields, convert(row), strict=True):
        setattr(instance, field.attname, value)


@functools.cache
def _read_afresh(model: type[Model], lock: bool) -> tuple[str, list[Field], Callable[[tuple[Any, ...]], list[Any]]]:
    fields = list(model._meta.concrete_fields)
    columns = ", ".join(_column(model, field.name) for field in fields)
    sql = f"SELECT {columns} FROM {_table(model)} WHERE {_column(model, 'pk')} = %s"  # noqa: S608
    return sql + (" FOR UPDATE" if lock else ""), fields, _converter(fields)


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
