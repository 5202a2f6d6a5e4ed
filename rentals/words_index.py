"""SQLite's index for the inventory's word search: an FTS5 table with the trigram tokenizer over
``rentals_rental.search_words``, kept by triggers, that finds the rentals whose words hold a word as
pg_trgm's index serves ``LIKE '%word%'`` on PostgreSQL (migration 0037). Same column, same words
found: the same rentals on both databases.

It is (re)installed after every migrate: a migration that rebuilds the rentals table on SQLite drops
its triggers, and the index is then filled again from the column. Where SQLite lacks FTS5, nothing is
installed and the search reads the column.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, connections

logger = logging.getLogger(__name__)

WORDS_TABLE = "rental_words"
# The rentals whose words hold a word, as a phrase of its trigrams (a parameter).
RENTALS_MATCHING = "SELECT rowid FROM rental_words WHERE rental_words MATCH %s"
TRIGRAM = 3
# Only rentals with words are indexed: most are rented without a label or notes, and an index row for
# no words cost a rent a quarter of its rental's INSERT. A word search never finds a rental without.
# Without label and notes the column holds their separator alone (models/search.py), or nothing.
_TRIGGERS = {
    "rental_words_added": "AFTER INSERT ON rentals_rental WHEN new.search_words NOT IN ('', char(10)) BEGIN"
    " INSERT INTO rental_words(rowid, search_words) VALUES (new.id, new.search_words); END",
    "rental_words_removed": "AFTER DELETE ON rentals_rental WHEN old.search_words NOT IN ('', char(10)) BEGIN"
    " INSERT INTO rental_words(rental_words, rowid, search_words) VALUES ('delete', old.id, old.search_words); END",
    # One trigger, so that the old words leave the index before the new ones enter it (two triggers on
    # the same UPDATE fire in an order SQLite does not promise).
    "rental_words_changed": "AFTER UPDATE OF search_words ON rentals_rental BEGIN"
    " INSERT INTO rental_words(rental_words, rowid, search_words) SELECT 'delete', old.id, old.search_words"
    " WHERE old.search_words NOT IN ('', char(10));"
    " INSERT INTO rental_words(rowid, search_words) SELECT new.id, new.search_words"
    " WHERE new.search_words NOT IN ('', char(10)); END",
}
_FILLED = (
    "INSERT INTO rental_words(rowid, search_words) SELECT id, search_words FROM rentals_rental"
    " WHERE search_words NOT IN ('', char(10))"
)
_ready: dict[str, bool] = {}


def words_index_installed(*, using: str = "default", **kwargs: Any) -> None:
    """post_migrate: the FTS table and its triggers where they are missing or differ from these, then the
    index filled again from the column."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        columns = [column.name for column in connection.introspection.get_table_description(cursor, "rentals_rental")]
        if "search_words" not in columns:  # migrated back before the column
            return
        cursor.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE tbl_name IN (%s, %s)", [WORDS_TABLE, "rentals_rental"]
        )
        present = {(kind, name): sql for kind, name, sql in cursor.fetchall()}
        triggers = {
            name: sql for (kind, name), sql in present.items() if kind == "trigger" and name.startswith(WORDS_TABLE)
        }
        wanted = {name: f"CREATE TRIGGER {name} {body}" for name, body in _TRIGGERS.items()}
        if ("table", WORDS_TABLE) in present and triggers == wanted:
            return
        try:
            cursor.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS rental_words USING fts5(search_words,"
                " content='rentals_rental', content_rowid='id', tokenize='trigram')"
            )
        except DatabaseError as error:
            logger.warning("SQLite without FTS5 (%s): word search reads the rentals table instead", error)
            return
        for name in triggers:
            cursor.execute(f"DROP TRIGGER {name}")  # ours, as an older Rentdesk wrote them
        for sql in wanted.values():
            cursor.execute(sql)  # our own constants
        # Filled as the triggers keep it, rentals with words only ('rebuild' would index every row).
        cursor.execute("INSERT INTO rental_words(rental_words) VALUES ('delete-all')")
        cursor.execute(_FILLED)
    _ready.pop(connection.settings_dict["NAME"], None)


def rentals_holding(words: list[str]) -> tuple[tuple[str, list[str]] | None, list[str]]:
    """The query of the rentals whose folded words hold every one of ``words`` (folded too) that the
    index can answer, with its parameters (the same rentals as ``search_words LIKE '%word%'`` for each),
    and the words it cannot: those shorter than a trigram, which the index cannot find (its LIKE then
    misses words in other alphabets too), for the column to answer.

    Each word is a quoted phrase (its quotes doubled): its trigrams, one after the other, are the word
    itself; the phrases are joined by AND, so the index intersects them itself. LIKE on the index
    would fetch each candidate's words from the rentals table to check them again: 10,000 candidates
    cost a search 20 ms where the phrases cost 2."""
    indexed = [word for word in words if len(word) >= TRIGRAM]
    left = [word for word in words if len(word) < TRIGRAM]
    if not indexed:
        return None, left
    phrases = " AND ".join('"' + word.replace('"', '""') + '"' for word in indexed)
    return (RENTALS_MATCHING, [phrases]), left


def words_index_ready(alias: str = "default") -> bool:
    """Whether this SQLite database has the index (looked up once per process and database)."""
    connection = connections[alias]
    name = str(connection.settings_dict["NAME"])
    if name not in _ready:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE %s", [f"{WORDS_TABLE}%"])
            _ready[name] = cursor.fetchone()[0] >= 1 + len(_TRIGGERS)
    return _ready[name]
