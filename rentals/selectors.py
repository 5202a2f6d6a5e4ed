"""Read queries shared by the admin, tasks and services."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal, NamedTuple

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Case, Count, Exists, F, Max, Prefetch, Q, QuerySet, Sum, Value, When
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.text import smart_split, unescape_string_literal

from .models import (
    AccountState,
    AttemptState,
    ErrorEvent,
    ForwardingPreference,
    LastRentChoice,
    Offer,
    ProviderAccount,
    Rental,
    RentalExtension,
    RentalReminder,
    RentalStatus,
    RentAttempt,
    SmsMessage,
    TelegramPoll,
    WebhookDelivery,
)
from .models.search import folded_words
from .schedule import POLL_CYCLE
from .spend import SPEND_GROUPS as SPEND_GROUPS  # the costs page offers these
from .spend import spend_totals
from .statements import newest_sms_with_forwarding
from .words_index import rentals_holding, words_index_ready


def rental_for_webhook(*, token: str) -> tuple[int, str] | None:
    """The rental a webhook token was registered for: its id and current provider rent id."""
    return Rental.objects.filter(webhook_token=token).order_by().values_list("pk", "provider_rent_id").first()


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
    found = Q()
    for word in smart_split(term):
        if word[0] in "\"'" and word[0] == word[-1] and len(word) > 1:
            word = unescape_string_literal(word)  # a quoted phrase is one word, as in Django's search
        found &= _holding(folded_words(word))
    if reads_sms:
        # Read first, as ids: the words' index and the primary key then serve one OR on both databases
        # (an OR with the SMS subquery made PostgreSQL read the whole rentals table).
        in_sms = SmsMessage.objects.filter(text__icontains=term).order_by().values_list("rental_id", flat=True)
        found |= Q(pk__in=list(in_sms.distinct()[:SMS_SEARCH_RENTALS]))
    return rentals.filter(found)


def _holding(word: str) -> Q:
    """Rentals whose folded label and notes hold ``word``: LIKE '%word%' on both databases, served by
    pg_trgm's index on PostgreSQL and by an FTS5 trigram table on SQLite (words_index.py)."""
    if connection.vendor == "sqlite" and words_index_ready() and (query := rentals_holding(word)):
        return Q(pk__in=RawSQL(*query))  # noqa: S611  (a constant, the word a parameter)
    return Q(search_words__contains=word)


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


def rentals_due_for_reminder(*, now: datetime, within: timedelta) -> QuerySet[Rental]:
    """Active rentals ending within ``within``, with the reminders they already have.

    Served by the (status, end_date) index: the cost follows the rentals due, not the table.
    """
    return (
        Rental.objects.filter(
            status=RentalStatus.ACTIVE, reminders_enabled=True, end_date__gt=now, end_date__lte=now + within
        )
        .select_related("rented_by", "assignee", "service", "country", "account")
        # When the current end date was set, if not at renting: reminders count from there.
        .annotate(last_extended_at=Max("extensions__finished_at", filter=Q(extensions__state=AttemptState.SUCCEEDED)))
        .prefetch_related(
            Prefetch(
                "reminders",
                queryset=RentalReminder.objects.only("rental_id", "threshold_hours", "sent_at", "claimed_at"),
            )
        )
    )


# How often a rental's SMS are polled: often while a code is likely to come, rarely once idle.
POLL_EAGER_EVERY = timedelta(seconds=20)
POLL_IDLE_EVERY = timedelta(minutes=5)
EAGER_WHILE_YOUNGER_THAN = timedelta(minutes=30)
AWAITING_CODE_FOR = timedelta(hours=2)
# A rent SMS.online no longer knows is only checked this often, in case it knows it again.
LOST_RECHECK_EVERY = timedelta(hours=1)


def awaiting_a_code(now: datetime) -> Q:
    """Rentals a code is likely to reach soon: fresh ones, and recent ones that have had no SMS yet."""
    return Q(created_at__gte=now - EAGER_WHILE_YOUNGER_THAN) | Q(
        last_sms_at__isnull=True, created_at__gte=now - AWAITING_CODE_FOR
    )


class DuePolls(NamedTuple):
    """One account's rentals due for a poll this cycle, each list most urgent first."""

    awaiting: list[int]  # a code is likely to come soon: someone may be waiting for it
    idle: list[int]


def rentals_due_for_poll(*, now: datetime) -> dict[int, DuePolls]:
    """Active rentals whose SMS this cycle should poll, per account id: those awaiting a code, and the
    rest, the longest unpolled first.

    A cycle may take until it ends to reach a rental, so a rental is due when the next cycle could
    reach it too late: polled on the last cycle that surely reaches it in time, it is never late.
    Rentals awaiting a code (every 20 s, against 15-second cycles) are so polled at every cycle.
    """
    next_cycle_ends = now + 2 * POLL_CYCLE
    due = (
        Q(last_polled_at__isnull=True)
        | Q(last_polled_at__lt=next_cycle_ends - POLL_IDLE_EVERY)
        | (awaiting_a_code(now) & Q(last_polled_at__lt=min(now, next_cycle_ends - POLL_EAGER_EVERY)))
    )
    lost_recheck = Q(provider_lost_at__isnull=False, last_polled_at__lt=now - LOST_RECHECK_EVERY)
    rows = (
        Rental.objects.filter((Q(provider_lost_at__isnull=True) & due) | lost_recheck)
        .filter(status=RentalStatus.ACTIVE, end_date__gt=now)
        # An account that cannot use the API now would only collect errors.
        .exclude(account__state__in=[AccountState.BAD_KEY, AccountState.INACTIVE, AccountState.BLOCKED])
        .exclude(account__state=AccountState.BANNED, account__banned_until__gt=now)
        # SMS.online asked this account to wait (HTTP 429, Retry-After).
        .exclude(account__rate_limited_until__gt=now)
        .annotate(idle=Case(When(awaiting_a_code(now), then=Value(False)), default=Value(True)))
        .values_list("account_id", "pk", "idle")
    )
    per_account: dict[int, DuePolls] = {}
    for account_id, rental_id, idle in rows.order_by("account_id", F("last_polled_at").asc(nulls_first=True), "pk"):
        due_polls = per_account.setdefault(account_id, DuePolls(awaiting=[], idle=[]))
        (due_polls.idle if idle else due_polls.awaiting).append(rental_id)
    return per_account


def account_ids_for_health_check() -> list[int]:
    return list(ProviderAccount.objects.order_by("pk").values_list("pk", flat=True))


@dataclass(frozen=True)
class Dashboard:
    expiring_24h: list[Rental]
    expiring_72h_count: int
    expiring_24h_count: int
    troubled_accounts: list[ProviderAccount]
    errors_24h: list[dict[str, object]]
    errors_24h_count: int
    lost: list[Rental]
    lost_count: int
    ended_early: list[Rental]


def dashboard(*, now: datetime) -> Dashboard:
    active = Rental.objects.filter(status=RentalStatus.ACTIVE, end_date__gt=now)
    soon = active.filter(end_date__lte=now + timedelta(hours=24))
    errors = ErrorEvent.objects.filter(created_at__gte=now - timedelta(hours=24))
    by_token = list(errors.values("token").annotate(count=Count("id")).order_by("-count", "token")[:8])
    lost = active.filter(provider_lost_at__isnull=False)
    return Dashboard(
        expiring_24h=list(soon.select_related("service", "country").order_by("end_date")[:10]),
        expiring_24h_count=soon.count(),
        expiring_72h_count=active.filter(end_date__lte=now + timedelta(hours=72)).count(),
        troubled_accounts=list(ProviderAccount.objects.exclude(state=AccountState.OK).order_by("name")),
        errors_24h=by_token,
        errors_24h_count=errors.count(),
        lost=list(lost.order_by("end_date")[:10]),
        lost_count=lost.count(),
        ended_early=list(
            Rental.objects.filter(
                ended_by_provider=True, ended_at__gte=now - timedelta(hours=24), ended_at__lt=F("end_date")
            ).order_by("-ended_at")[:10]
        ),
    )


@dataclass(frozen=True)
class TelegramReading:
    """How the team's bot reads what people write to it (getUpdates, rentals.tasks.telegram_read_updates)."""

    last_read_at: datetime | None
    error: str  # Telegram's last refusal, its words (no token in them); empty after a good read


def telegram_reading() -> TelegramReading | None:
    """None while no bot is set up (TELEGRAM_BOT_TOKEN empty)."""
    if not settings.TELEGRAM_BOT_TOKEN:
        return None
    row = TelegramPoll.objects.order_by("pk").values("last_read_at", "last_error").first() or {}  # one row
    return TelegramReading(row.get("last_read_at"), row.get("last_error", ""))


def logins_locked_out(*, now: datetime) -> int:
    """Username and address pairs django-axes refuses now (too many failed logins, still cooling off)."""
    still_cooling = now - settings.AXES_COOLOFF_TIME
    return AccessAttempt.objects.filter(
        failures_since_start__gte=settings.AXES_FAILURE_LIMIT, attempt_time__gt=still_cooling
    ).count()


def offers_for_rent_form() -> dict[str, dict[str, object]]:
    """Price and stock per "service:country:hours" (ids) for the active catalog, for the rent form."""
    offers = Offer.objects.filter(service__is_active=True, country__is_active=True).values(
        "service_id", "country_id", "hours", "cost", "available", "checked_at"
    )
    return {
        f"{o['service_id']}:{o['country_id']}:{o['hours']}": {
            "cost": f"{o['cost']:.2f}" if o["cost"] is not None else None,
            "available": o["available"],
            "checked": timezone.localtime(o["checked_at"]).strftime("%Y-%m-%d %H:%M %Z"),
        }
        for o in offers
    }


@dataclass(frozen=True)
class SpendRow:
    month: str  # YYYY-MM
    group: str
    amount: Decimal


def spend_by_month(*, group: str, since: datetime) -> list[SpendRow]:
    """What was paid per month (rents and extensions, by when they were made, refunds deducted), split by
    ``group``: months in the reader's timezone, closed months read from their sums (rentals/spend.py)."""
    totals = spend_totals(group=group, since=since)
    return [SpendRow(month, name, spent.amount) for (month, name), spent in sorted(totals.items())]


@dataclass(frozen=True)
class CommittedSpend:
    count: int
    paid: Decimal
    last_end: datetime | None


def committed_spend(*, now: datetime) -> CommittedSpend:
    """The active rentals: how many, what was paid to keep them until their end dates, when the last ends."""
    active = Rental.objects.filter(status=RentalStatus.ACTIVE, end_date__gt=now)
    totals = active.aggregate(count=Count("id"), paid=Sum("cost"), last_end=Max("end_date"))
    extra = RentalExtension.objects.filter(
        rental__in=active, state=AttemptState.SUCCEEDED, cost__isnull=False
    ).aggregate(paid=Sum("cost"))
    paid = (totals["paid"] or Decimal(0)) + (extra["paid"] or Decimal(0))
    return CommittedSpend(count=totals["count"], paid=paid, last_end=totals["last_end"])


# What an open rental page shows of its SMS, refreshed by the page itself (see static/rentals/live_sms.js).
LIVE_SMS_SHOWN = 10
LIVE_LIST_MAX_IDS = 200


def live_sms_of(*, rental_id: int) -> list[SmsMessage]:
    """The rental's newest SMS, with how each was forwarded. The whole short list each time rather than
    "what came after id N": an SMS committed late with a lower id (webhook and polling racing) would
    otherwise be skipped, and a forwarding that went through since the last look would not show."""
    return newest_sms_with_forwarding(rental_id=rental_id, limit=LIVE_SMS_SHOWN)


def live_last_sms(*, rental_ids: list[int]) -> list[Rental]:
    """The last SMS of the rentals on an inventory page (their denormalised columns: one query)."""
    return list(
        Rental.objects.filter(pk__in=rental_ids[:LIVE_LIST_MAX_IDS]).only(
            "pk", "status", "last_sms_at", "last_sms_text", "last_sms_code"
        )
    )


# A tab that was asleep for long brings at most this many codes at once; the next check brings the rest.
NEW_CODES_MAX = 20


def newest_sms_id() -> int:
    """Where a newly opened tab starts: it tells of the codes that come after it, not of older ones."""
    return SmsMessage.objects.aggregate(newest=Max("pk"))["newest"] or 0


def newest_sms_id_of(*, rental_id: int) -> int:
    """The id of a rental's newest SMS, 0 before its first: waiting for "the next SMS" starts after it."""
    newest = SmsMessage.objects.filter(rental_id=rental_id).order_by("-pk").values_list("pk", flat=True).first()
    return newest or 0


def desktop_notifications_on(*, user_id: int) -> bool:
    """A person's choice (ForwardingPreference); on for those who never made one."""
    return not ForwardingPreference.objects.filter(user_id=user_id, desktop_notifications=False).exists()


def last_rent_choice(*, user_id: int) -> dict[str, int]:
    """What a person chose last on the rent form (ids, and the hours), to prefill it; empty before their first."""
    fields = ("account", "service", "country", "operator", "hours")
    choice = LastRentChoice.objects.filter(user_id=user_id).values(*fields).first() or {}
    return {name: value for name, value in choice.items() if value is not None}


# The rent form lists the person's latest attempts: what came of the last few clicks.
RECENT_ATTEMPTS_SHOWN = 5


def rent_attempts_recent(*, user_id: int) -> list[RentAttempt]:
    """A person's latest rent attempts, the newest first, with what their rows show."""
    attempts = RentAttempt.objects.filter(requested_by_id=user_id).select_related("account", "service", "country")
    return list(attempts[:RECENT_ATTEMPTS_SHOWN])


def new_codes_for(*, user_id: int, after_id: int, open_rental_ids: list[int]) -> list[SmsMessage]:
    """The codes after ``after_id`` of the rentals a person is assigned to, rented, follows or has open in a tab,
    oldest first, each with ``notify``, their choice of desktop notifications: one query per check,
    a range of the primary key (the newest few rows) joined to their rentals by theirs."""
    followed = Rental.followers.through.objects.filter(user_id=user_id).values("rental_id")
    theirs = Q(rental__assignee_id=user_id) | Q(rental__rented_by_id=user_id) | Q(rental_id__in=followed)
    if open_rental_ids:
        theirs |= Q(rental_id__in=open_rental_ids[:LIVE_LIST_MAX_IDS])
    muted = ForwardingPreference.objects.filter(user_id=user_id, desktop_notifications=False)
    codes = (
        SmsMessage.objects.filter(theirs, pk__gt=after_id)
        .exclude(code="")
        .annotate(notify=~Exists(muted))
        .select_related("rental")
        .only("pk", "code", "rental_id", "rental__number")
        .order_by("pk")
    )
    return list(codes[:NEW_CODES_MAX])


class AttemptOutcome(NamedTuple):
    state: str
    token: str  # SMS.online's token where it refused; empty otherwise
    count: int


def rent_attempts_by_outcome() -> list[AttemptOutcome]:
    """Every rent attempt ever made, counted by state and token (/metrics)."""
    rows = RentAttempt.objects.values_list("state", "error_token").annotate(count=Count("id")).order_by()
    return [AttemptOutcome(state, token, count) for state, token, count in rows]


class AccountFigures(NamedTuple):
    name: str
    spend: Decimal  # rents and extensions paid, refunds deducted
    balance: Decimal | None


def accounts_for_metrics() -> list[AccountFigures]:
    """Each provider account's spend and last known balance (/metrics)."""
    spend: dict[str, Decimal] = {}
    for row in spend_by_month(group="account", since=datetime.min.replace(tzinfo=UTC)):
        spend[row.group] = spend.get(row.group, Decimal(0)) + row.amount
    accounts = ProviderAccount.objects.order_by("name").values_list("name", "balance")
    return [AccountFigures(name, spend.get(name, Decimal(0)), balance) for name, balance in accounts]


def webhook_deliveries_unprocessed() -> int:
    return WebhookDelivery.objects.filter(processed_at__isnull=True).count()
