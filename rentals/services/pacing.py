"""An account's status and price requests, paced across every process that sends them.

The provider limits requests per account (an unpublished limit, contract section 6). Polling tasks,
the catalog sync and several workers share one account, so a limit kept by each of them alone would
add up: each request books the account's next free moment in its database row, and waits for it.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from ..models import ProviderAccount

# A request that is not urgent waits for a free moment, but no longer than this many moments: while
# more rentals await a code than the rate can poll, urgent requests book every moment there is, and
# reconciliation (inside the provider's refund window), the catalog sync or a balance check would
# otherwise wait until the soft time limit ends them, holding up every worker stop meanwhile.
GIVES_WAY_AT_MOST = 10


class AccountPacing:
    """At most ``per_second`` requests per second for one account, however many processes send them.

    An urgent request (a rental awaiting its code) books the first moment after those already
    booked; any other takes a moment when one is free, or, once it has given way for
    GIVES_WAY_AT_MOST moments, books the next one as urgent requests do. So urgent requests go first,
    waiting at most for the odd moment such a request takes, and the rest are never starved by them.
    """

    def __init__(self, account_id: int, *, per_second: float) -> None:
        self.account_id = account_id
        self.interval = timedelta(seconds=1 / per_second)

    def wait(self, *, urgent: bool = False) -> None:
        gives_way_until = timezone.now() + GIVES_WAY_AT_MOST * self.interval
        while True:
            now = timezone.now()
            booked = ProviderAccount.objects.filter(pk=self.account_id).values_list("next_request_at", flat=True)
            if not booked:
                return  # the account is gone: nothing to pace
            (next_free,) = booked
            if next_free is not None and next_free > now and not urgent and now < gives_way_until:
                _sleep_until(min(next_free, gives_way_until))
                continue
            moment = max(next_free or now, now)
            if self._book(moment, expected=next_free):
                _sleep_until(moment)
                return

    def take_turn(self, *, within: float) -> float:
        """For a request a web thread makes (it must not wait on the account's pace): the first free
        moment, booked and slept until, when it is at most ``within`` seconds away (0.0 is returned);
        else the seconds until the account is free, booking nothing. Goes before waiting requests, as
        an urgent one does."""
        while True:
            now = timezone.now()
            booked = ProviderAccount.objects.filter(pk=self.account_id).values_list("next_request_at", flat=True)
            if not booked:
                return 0.0  # the account is gone: nothing to pace
            (next_free,) = booked
            moment = max(next_free or now, now)
            until_free = (moment - now).total_seconds()
            if until_free > within:
                return until_free
            if self._book(moment, expected=next_free):
                _sleep_until(moment)
                return 0.0

    def _book(self, moment: datetime, *, expected: datetime | None) -> bool:
        """Take ``moment`` unless another process booked since ``expected`` was read."""
        unchanged = Q(next_request_at__isnull=True) if expected is None else Q(next_request_at=expected)
        booked = ProviderAccount.objects.filter(unchanged, pk=self.account_id)
        return bool(booked.update(next_request_at=moment + self.interval))


def account_pacing(account_id: int) -> AccountPacing:
    """The pacing every status and price request of the account shares (SMSONLINE_POLL_RATE)."""
    return AccountPacing(account_id, per_second=settings.SMSONLINE_POLL_RATE)


def _sleep_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - timezone.now()).total_seconds()))
