"""What the inventory's search reads: keys the model keeps beside the number, label and notes.

A search must be served by an index on both databases and find the same rentals on each. So the
rental keeps its number reversed (a tail like "900123" is then a prefix, which a B-tree index
serves) and its label and notes case-folded in one column (SQLite's LIKE folds only ASCII, so
"Магазин" would find "магазин" on PostgreSQL and not on SQLite; both sides folded in Python agree).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models

# The fields the keys are made from, and the keys.
SEARCH_SOURCES = frozenset({"number", "label", "notes"})
SEARCH_KEYS = ("number_reversed", "search_words")


def folded_words(text: str) -> str:
    """Words as stored and as searched: case-folded the same way on every database."""
    return text.casefold()


def search_keys_refreshed(rental: Any) -> None:
    rental.number_reversed = (rental.number or "")[::-1]
    rental.search_words = folded_words(f"{rental.label}\n{rental.notes}")


def with_search_keys(fields: Iterable[str] | None) -> Iterable[str] | None:
    """``update_fields`` (or bulk_update's fields) with the keys, when a field they come from is in them."""
    if fields is None or not SEARCH_SOURCES & set(fields):
        return fields
    return [*dict.fromkeys([*fields, *SEARCH_KEYS])]


class SearchKeysQuerySet(models.QuerySet):
    """The bulk paths keep the keys too: bulk_create and bulk_update fill them in, and an update()
    of the number, label or notes refreshes the rows it changed."""

    def bulk_create(self, objs: Iterable[Any], *args: Any, **kwargs: Any) -> list[Any]:
        objs = list(objs)
        for rental in objs:
            search_keys_refreshed(rental)
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs: Iterable[Any], fields: Iterable[str], *args: Any, **kwargs: Any) -> int:
        objs = list(objs)
        for rental in objs:
            search_keys_refreshed(rental)
        return super().bulk_update(objs, with_search_keys(fields), *args, **kwargs)

    def update(self, **kwargs: Any) -> int:
        if not SEARCH_SOURCES & set(kwargs):
            return super().update(**kwargs)
        ids = list(self.values_list("pk", flat=True))
        changed = super().update(**kwargs)
        search_keys_rewritten(self.model.objects.filter(pk__in=ids))
        return changed


def search_keys_rewritten(rentals: models.QuerySet, *, batch: int = 2000) -> None:
    """Recompute the keys of ``rentals`` in batches (an update() of their sources, the data migration)."""
    last = 0
    while True:
        rows = list(rentals.filter(pk__gt=last).order_by("pk").only("pk", "number", "label", "notes")[:batch])
        if not rows:
            return
        for rental in rows:
            search_keys_refreshed(rental)
        models.QuerySet(rentals.model).bulk_update(rows, SEARCH_KEYS)
        last = rows[-1].pk
