"""Which rentals' SMS each polling cycle asks SMS.online for, and how often (rentals.tasks.poll_sms)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from django.db.models import Case, F, Q, Value, When

from ..models import AccountState, Rental, RentalStatus
from ..schedule import POLL_CYCLE

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
