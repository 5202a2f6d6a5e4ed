"""The search's keys (models/search.py): the reversed number and the folded label and notes, each
served by an index; on PostgreSQL, a trigram index for words where pg_trgm may be had (SQLite's
FTS5 index of the words is installed after every migrate: rentals/words_index.py). And the index
the dashboard's "ended early" reads, so that it costs the same at any table size."""

import logging

from django.conf import settings
from django.db import DatabaseError, migrations, models, transaction

from rentals.models.search import search_keys_rewritten

logger = logging.getLogger(__name__)

TRIGRAM_INDEX = "rental_search_words_trgm"


def keys_written(apps, schema_editor):
    search_keys_rewritten(apps.get_model("rentals", "Rental").objects.using(schema_editor.connection.alias))


def trigram_index_created(apps, schema_editor):
    """pg_trgm ships with PostgreSQL and is trusted (13+): a database's owner may create it. Where the
    role may not, the words are still found, by reading the column: the search is only slower."""
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as error:
        logger.warning("pg_trgm is not available (%s): word search reads the rentals table instead", error)
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON rentals_rental USING gin (search_words gin_trgm_ops)"
    )


def trigram_index_dropped(apps, schema_editor):
    # The extension stays: other databases' objects may use it, and it costs nothing unused.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")
    else:  # SQLite's index of the words (rentals/words_index.py, installed after each migrate)
        for trigger in ("rental_words_added", "rental_words_removed", "rental_words_changed"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        schema_editor.execute("DROP TABLE IF EXISTS rental_words")


class Migration(migrations.Migration):
    dependencies = [
        ("rentals", "0036_last_rent_choice"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        *(
            migrations.AddField(model_name="rental", name=name, field=field)
            for name, field in (
                ("number_reversed", models.CharField(blank=True, default="", editable=False, max_length=20)),
                ("search_words", models.TextField(blank=True, default="", editable=False)),
            )
        ),
        migrations.RunPython(keys_written, migrations.RunPython.noop),
        *(
            migrations.AddIndex(model_name="rental", index=index)
            for index in (
                models.Index(fields=["number_reversed"], name="rental_number_reversed_idx"),
                models.Index(fields=["provider_rent_id"], name="rental_rent_id_idx"),
                models.Index(
                    condition=models.Q(ended_by_provider=True), fields=["-ended_at"], name="rental_ended_early_idx"
                ),
            )
        ),
        migrations.RunPython(trigram_index_created, trigram_index_dropped),
    ]
