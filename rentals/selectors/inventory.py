"""The team's inventory of rentals: its filters, its search and its order, the one reading the admin's
list, the API (GET /api/rentals) and the team's bot all share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.text import smart_split, unescape_string_literal

from ..models import Rental, RentalStatus, SmsMessage
from ..models.search import folded_words
from ..words_index import rentals_holding, words_index_ready

# A number as people write it: "+44 7700 900123", "7700-900-123", "(050) 123": digits and separators.
_NUMBER_LIKE = re.compile(r"[+(\d][\d\s\-().]{2,}")
NUMBER_SEARCH_MIN_DIGITS = 3
# The most rentals a search finds by their SMS (a page shows 50; a term in more SMS than this wants
# narrowing rather than a longer list).
SMS_SEARCH_RENTALS = 1_000


def rentals_search(rentals: QuerySet[Rental], *, term: str, reads_sms: bool = False) -> QuerySet[Rental]:
    """The rentals a search finds, the same in the admin's inventory and the API, on every database.

    A number (at least 3 digits, any spelling) finds rentals whose number starts with its digits (the
    whole number, or its start) or ends with them (a national number, a tail), and the rental of that
    rent id; each is one index range. Words find rentals whose label or notes hold every word (case
    not minded), and, for those who may read SMS, rentals with an SMS holding the whole term (up to
    SMS_SEARCH_RENTALS of them; the SMS are read without an index, so that part grows with the SMS).
    """
    term = term.strip()
    if not term:
        return rentals
    digits = re.sub(r"\D", "", term)
    if _NUMBER_LIKE.fullmatch(term) and len(digits) >= NUMBER_SEARCH_MIN_DIGITS:
        return rentals.filter(_number_matches(digits) | Q(provider_rent_id=term))
    found = _holding_every([folded_words(_unquoted(word)) for word in smart_split(term)])
    if reads_sms:
        # Read first, as ids: the words' index and the primary key then serve one OR on both databases
        # (an OR with the SMS subquery made PostgreSQL read the whole rentals table).
        in_sms = SmsMessage.objects.filter(text__icontains=term).order_by().values_list("rental_id", flat=True)
        found |= Q(pk__in=list(in_sms.distinct()[:SMS_SEARCH_RENTALS]))
    return rentals.filter(found)


def _unquoted(word: str) -> str:
    """A quoted phrase is one word, as in Django's search."""
    if word[0] in "\"'" and word[0] == word[-1] and len(word) > 1:
        return unescape_string_literal(word)
    return word


def _holding_every(words: list[str]) -> Q:
    """Rentals whose folded label and notes hold every one of ``words``: LIKE '%word%' on both databases,
    served by pg_trgm's index on PostgreSQL and by an FTS5 trigram table on SQLite (words_index.py),
    which answers in one query every word it can."""
    found = Q()
    if connection.vendor == "sqlite" and words_index_ready():
        query, words = rentals_holding(words)
        if query is not None:
            found &= Q(pk__in=RawSQL(*query))  # noqa: S611  (a constant, the words a parameter)
    for word in words:
        found &= Q(search_words__contains=word)
    return found


# A number written as dialled: "00 44 7700 900123" (the international prefix) or "0671234567" (a national
# number with its trunk 0); shorter digits are a tail, whose zeros count.
DIALLED_MIN_DIGITS = 9


def _number_matches(digits: str) -> Q:
    """Numbers starting or ending with ``digits``, and, for a number written as dialled, starting with
    what follows "00" or ending with what follows "0"."""
    matches = _starting_with("number", digits) | _starting_with("number_reversed", digits[::-1])
    if len(digits) >= DIALLED_MIN_DIGITS and digits.startswith("00"):
        matches |= _starting_with("number", digits[2:])
    elif len(digits) >= DIALLED_MIN_DIGITS and digits.startswith("0"):
        matches |= _starting_with("number_reversed", digits[1:][::-1])
    return matches


def _starting_with(field: str, digits: str) -> Q:
    """``field`` starts with ``digits``, as a range of a B-tree index: LIKE 'x%' is served by one only
    under a C collation (PostgreSQL) or a case-sensitive LIKE (SQLite); a range always is. Digit
    strings sort the same under every collation."""
    after = _next_digits(digits)
    return Q(**{f"{field}__gte": digits}) & (Q(**{f"{field}__lt": after}) if after else Q())


def _next_digits(digits: str) -> str | None:
    """The least digit string after every string starting with ``digits``: "3809" -> "381"; "99" -> None."""
    kept = digits.rstrip("9")
    return kept[:-1] + str(int(kept[-1]) + 1) if kept else None


# The inventory's order, the admin's and the API's: active rentals first ("active" sorts before the other
# statuses), the soonest to end at the top. The (status, end_date) index serves it: a page costs the same
# at any table size.
INVENTORY_ORDER = ("status", "end_date")
# What a row of the inventory shows besides the rental: joined, never a query per row.
INVENTORY_RELATED = ("account", "service", "country", "assignee", "rented_by")


@dataclass(frozen=True)
class InventoryFilter:
    """What the inventory is narrowed to; what is left as it is narrows nothing."""

    status: str | None = None
    account: str | None = None  # the account's name
    service: str | None = None  # the service's code
    country: int | None = None  # SMS.online's country id
    assignee: str | None = None  # the username of who takes care of it
    mine: Literal["assigned", "rented"] | None = None  # assigned to the person asking, or rented by them
    ending_within: timedelta | None = None  # active, and ending within this
    lapsed: bool = False  # past the end date, neither finished nor cancelled
    terms: tuple[str, ...] = ()  # the inventory's search (rentals_search), each term narrowing further


def rentals_inventory(
    rentals: QuerySet[Rental] | None = None,
    *,
    narrowed: InventoryFilter,
    person: AbstractBaseUser,
    reads_sms: bool = False,
) -> QuerySet[Rental]:
    """The team's inventory narrowed as ``narrowed`` says: the one reading of its filters and search,
    which the admin's list (a filter at a time) and the API (all at once) both call.

    ``rentals``: a list to narrow further (the admin's); else every rental, with what a row shows and
    what each paid. ``person``: who asks ("mine"). ``reads_sms``: whether a search reads their SMS too.
    """
    if rentals is None:
        rentals = Rental.objects.select_related(*INVENTORY_RELATED).with_paid()
    rentals = rentals.filter(_inventory_fields(narrowed), _inventory_times(narrowed, now=timezone.now()))
    if narrowed.mine == "assigned":
        rentals = rentals.filter(assignee=person)
    elif narrowed.mine == "rented":
        rentals = rentals.filter(rented_by=person)
    for term in narrowed.terms:
        rentals = rentals_search(rentals, term=term, reads_sms=reads_sms)
    return rentals


_INVENTORY_FIELDS = {"status": "status", "account": "account__name", "service": "service__code",
                     "country": "country__provider_id", "assignee": "assignee__username"}  # fmt: skip


def _inventory_fields(narrowed: InventoryFilter) -> Q:
    given = {field: getattr(narrowed, name) for name, field in _INVENTORY_FIELDS.items()}
    return Q(**{field: value for field, value in given.items() if value is not None})


def _inventory_times(narrowed: InventoryFilter, *, now: datetime) -> Q:
    wanted = Q()
    if narrowed.ending_within is not None:
        wanted &= Q(status=RentalStatus.ACTIVE, end_date__gt=now, end_date__lte=now + narrowed.ending_within)
    if narrowed.lapsed:
        # Lapsed ones only: numbers someone finished or cancelled are not "past the end date".
        wanted &= Q(end_date__lte=now, status__in=[RentalStatus.ACTIVE, RentalStatus.EXPIRED])
    return wanted
