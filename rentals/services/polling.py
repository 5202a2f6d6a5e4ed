"""Polling SMS.online for a rental's SMS: each cycle's polls of an account's due rentals, under a lease
and at its pace, and "Check for SMS now"; a rent SMS.online ended or no longer knows is said so."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Q, QuerySet, Value, When
from django.utils import timezone

from ..models import ProviderAccount, Rental, RentalStatus, SmsSource
from ..notice_sending import notify, rental_people
from ..outcomes import Operation, Outcome, State
from ..provider.client import SmsOnlineClient
from ..provider.errors import AccountError, ProviderError, ProviderUnreachable, RateLimited, RentUnknown
from ..provider.parsing import IncomingSms
from ..reasons import reason
from ..schedule import POLL_CYCLE
from ..selectors import DuePolls, awaiting_a_code
from ..wording import attention, notices
from .accounts import account_record_error, provider_client_for
from .pacing import account_pacing
from .sms import sms_dedupe_key, sms_record
from .spend import spend_of_rental_changed
from .turns import ProviderCallSlot, turn_at_once

logger = logging.getLogger(__name__)

MAX_STATUS_PAGES = 20
ENDED_STATES = {"finished": RentalStatus.FINISHED, "cancelled": RentalStatus.CANCELLED, "revoked": RentalStatus.REVOKED}


def _past_the_overlap(read: list[IncomingSms], page: list[IncomingSms], *, arrived: int) -> list[IncomingSms] | None:
    """A later page without the SMS an earlier page already showed. Pages list the newest first, so
    SMS that ``arrived`` between the requests push as many of the last ones read onto this page;
    counted again, each would become a second row (its occurrence one higher) and a second forward.
    The newcomers themselves are on page 0, for the next poll (or their webhook). None when the page
    does not start with the last ones read (more arrived than a page holds)."""
    if arrived <= 0:
        return page
    shifted = min(arrived, len(read))
    return page[shifted:] if page[:shifted] == read[-shifted:] else None


def rental_poll(
    *, rental: Rental, client: SmsOnlineClient | None = None, before_request: Callable[[], None] = lambda: None
) -> Outcome:
    """Read every page of the rental's SMS from getRentStatus; end it locally if the provider did. The
    outcome says how many SMS were new and the rent's state at SMS.online, or SMS.online's error (the
    pages read before it are not stored: the next poll reads them).

    ``before_request`` runs before each request (the caller's rate limit); what it raises is not caught.
    """
    polled_id = rental.provider_rent_id
    try:
        messages, state = _status_pages(client or provider_client_for(rental.account), polled_id, before_request)
    except ProviderError as error:
        return Outcome.unanswered(Operation.POLL, error, rental=rental)
    new = 0
    occurrences: Counter[str] = Counter()
    for sms in messages:
        base = sms_dedupe_key(sms)
        new += sms_record(rental=rental, sms=sms, source=SmsSource.POLL, occurrence=occurrences[base]) is not None
        occurrences[base] += 1
    Rental.objects.filter(pk=rental.pk).update(last_polled_at=timezone.now())
    if rental.provider_lost_at is not None:
        _rental_found_again(rental, polled_id)
    if state in ENDED_STATES:
        rental_mark_ended(rental=rental, status=ENDED_STATES[state], polled_id=polled_id)
    return Outcome(Operation.POLL, State.SUCCEEDED, rental=rental, new_messages=new, rent_state=state)


def _status_pages(
    client: SmsOnlineClient, rent_id: str, before_request: Callable[[], None]
) -> tuple[list[IncomingSms], str]:
    """The rent's SMS, every page read once, and its state. Raises ``ProviderError``."""
    messages: list[IncomingSms] = []
    first_total = last_total = None
    for page in range(MAX_STATUS_PAGES):
        before_request()
        status = client.get_rent_status(rent_id=rent_id, page=page)
        arrived = 0 if last_total is None else status.total - last_total
        fresh = _past_the_overlap(messages, status.messages, arrived=arrived)
        if fresh is None:
            break  # more arrived than a page holds: the next poll reads the pages afresh
        messages += fresh
        first_total = status.total if first_total is None else first_total
        last_total = status.total
        # Done once every SMS there was at the first page is read (later ones are on page 0 now).
        if status.state != "active" or not status.messages or len(messages) >= first_total:
            break
    return messages, status.state


def rental_check_sms(*, rental: Rental) -> Outcome:
    """The rental's SMS read from SMS.online now, for a person waiting ("Check for SMS now"): each page
    at the account's pace with its polling, or ProviderBusy (pages read before are not stored: the next
    check or poll reads them)."""
    with ProviderCallSlot(web=True) as slot:
        slot.take()
        return rental_poll(rental=rental, before_request=lambda: turn_at_once(rental.account_id))


def rental_mark_ended(*, rental: Rental, status: str, polled_id: str) -> bool:
    """The provider says the rent ``polled_id`` is over: record it once, unless the rental has moved on
    to another rent id meanwhile (an extension re-ordered it). Ended before its end date (finished,
    cancelled or revoked on SMS.online's side), it is announced: nothing ends silently."""
    now = timezone.now()
    with transaction.atomic():
        locked = Rental.objects.select_for_update().filter(pk=rental.pk).first()
        ending = locked is not None and locked.provider_rent_id == polled_id
        if not ending or locked.status not in (RentalStatus.ACTIVE, RentalStatus.EXPIRED):
            return False
        early = locked.end_date > now
        locked.status, locked.ended_at, locked.ended_by_provider = status, now, True
        locked._change_reason = reason(f"{status}_by_provider_early" if early else f"{status}_by_provider")
        locked.save(update_fields=["status", "ended_at", "ended_by_provider"])
        # Refunded: a revoke comes while the rental lasts, its extensions may make that months after its rent.
        if status in (RentalStatus.CANCELLED, RentalStatus.REVOKED):
            spend_of_rental_changed(rental_id=locked.pk, now=now)
    if early:
        _alert_ended_early(locked)
    return True


def _alert_ended_early(rental: Rental) -> None:
    try:
        notify(notices.ended_early(rental), recipients=rental_people(rental))
    except Exception:
        # The rental's history and the dashboard still say it.
        logger.exception("alert about rental %s ended by the provider could not be sent", rental.pk)


def rental_mark_lost(*, rental: Rental, error: ProviderError, polled_id: str) -> bool:
    """SMS.online answered that it does not know the rent ``polled_id`` (``INVALID_PHONE``): no SMS can
    be read for it. Said on the rental and to its people once; from then on it is only checked now and
    then (see selectors)."""
    with transaction.atomic():
        locked = Rental.objects.select_for_update().get(pk=rental.pk)
        if locked.provider_lost_at is not None or locked.provider_rent_id != polled_id:
            return False
        locked.provider_lost_at, locked.attention = timezone.now(), attention.note("lost", token=error.token)
        locked._change_reason = reason("lost", rent_id=polled_id, token=error.token)
        locked.save(update_fields=["provider_lost_at", "attention"])
    _alert_lost(locked, error.token)
    return True


def _alert_lost(rental: Rental, token: str) -> None:
    try:
        notify(notices.lost(rental, token=token), recipients=rental_people(rental))
    except Exception:
        # The rental and the dashboard still say it; the mail is not worth losing the poll over.
        logger.exception("alert about lost rental %s could not be sent", rental.pk)


def _rental_found_again(rental: Rental, polled_id: str) -> None:
    with transaction.atomic():
        locked = Rental.objects.select_for_update().get(pk=rental.pk)
        if locked.provider_lost_at is None or locked.provider_rent_id != polled_id:
            return
        locked.provider_lost_at, locked.attention = None, ""
        locked._change_reason = reason("found_again")
        locked.save(update_fields=["provider_lost_at", "attention"])


def polls_per_cycle() -> int:
    """How many rentals of one account a cycle can poll within SMSONLINE_POLL_RATE."""
    return max(1, int(settings.SMSONLINE_POLL_RATE * POLL_CYCLE.total_seconds()))


# The poll of rentals awaiting a code runs on the urgent queue, beside webhook processing: it takes no
# more rentals than the account's rate lets SMS.online answer in this many seconds, and stops once it
# has run twice as long (a slow provider), so it never holds an urgent worker's slot for long. What it
# leaves goes first in the account's other poll, or waits for the next cycle.
AWAITING_POLL_SECONDS = 2


def polls_split(due: DuePolls) -> tuple[list[int], list[int]]:
    """The rentals the urgent poll takes this cycle, and those the background poll takes, most urgent
    first; together no more than the account's rate can poll in a cycle."""
    urgent_at_most = max(1, int(settings.SMSONLINE_POLL_RATE * AWAITING_POLL_SECONDS))
    urgent = due.awaiting[:urgent_at_most]
    rest = (due.awaiting[urgent_at_most:] + due.idle)[: max(0, polls_per_cycle() - len(urgent))]
    return urgent, rest


# A cycle's task stops before the next cycle begins, so the next one waits at most this for the lease.
LEASE_WAIT = POLL_CYCLE / 3


def account_poll(*, account_id: int, rental_ids: list[int], cycle_started: datetime, awaiting: bool = False) -> int:
    """Poll the account's due rentals in the order given (most urgent first) until the next cycle
    begins, within its rate. Returns new SMS.

    One task at a time polls an account's rentals awaiting a code (``awaiting``), and one its others,
    each under a lease on the account; each rental is also claimed, so a redelivered task never polls it
    twice. What this cycle leaves is still due at the next one. The awaiting poll runs in an urgent
    worker's slot, so it never waits for its lease, nor for the account's pace longer than two of its
    moments (when others booked further ahead, it stops): its rentals are due again in 15 seconds.
    """
    lease = PollLease.take(account_id, wait=timedelta(0) if awaiting else LEASE_WAIT, awaiting=awaiting)
    if lease is None:
        return 0
    pacing = account_pacing(account_id)

    def before_request(*, urgent: bool) -> None:
        lease.renew()
        if not awaiting:
            pacing.wait(urgent=urgent)
        elif pacing.take_turn(within=2 * pacing.interval.total_seconds()):
            raise AccountPaceTaken

    # The next cycle polls what this one has not reached: stopping before it keeps two from overlapping.
    stop_at = cycle_started + POLL_CYCLE - pacing.interval
    if awaiting:
        stop_at = min(stop_at, timezone.now() + timedelta(seconds=2 * AWAITING_POLL_SECONDS))
    try:
        return _poll_rentals(account_id, rental_ids, cycle_started, before_request, stop_at=stop_at)
    except PollLeaseLost:
        logger.warning("polling account %s stopped: it stalled past its lease, another poll took over", account_id)
        return 0
    except AccountPaceTaken:
        logger.info("polling account %s's rentals awaiting a code stopped: its pace is taken further ahead", account_id)
        return 0
    finally:
        lease.release()


class PollLeaseLost(Exception):
    """The lease ran out and another poll holds the account now."""


class AccountPaceTaken(Exception):
    """The account's next free moment is further off than an urgent worker's slot may wait for (the
    other poll of the account, web quotes or a catalog sync booked the moments before it)."""


@dataclass
class PollLease:
    """An account's polling lease (of its rentals awaiting a code, or of the others), renewed before
    each request, so it only has to outlast one request: the account of a poll cut short (its worker
    killed) is free again within about a minute, not after the longest poll there could be. Its end
    time is its token: only its holder renews or releases it."""

    account_id: int
    until: datetime
    awaiting: bool = False

    @staticmethod
    def length() -> timedelta:
        """One request's longest wait (connect and read timeouts), and half a minute to spare."""
        return timedelta(seconds=settings.SMSONLINE_CONNECT_TIMEOUT + settings.SMSONLINE_TIMEOUT + 30)

    @classmethod
    def take(cls, account_id: int, *, wait: timedelta = timedelta(0), awaiting: bool = False) -> PollLease | None:
        """The lease, or None when another poll holds it for longer than ``wait`` (the previous cycle's
        task may be finishing its last request)."""
        field = cls.field_for(awaiting)
        give_up_at = time.monotonic() + wait.total_seconds()
        while True:
            now = timezone.now()
            free = Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": now})
            until = now + cls.length()
            if ProviderAccount.objects.filter(free, pk=account_id).update(**{field: until}):
                return cls(account_id, until, awaiting)
            if time.monotonic() >= give_up_at:
                return None
            time.sleep(0.2)

    @staticmethod
    def field_for(awaiting: bool) -> str:
        return "awaiting_polling_until" if awaiting else "polling_until"

    def renew(self) -> None:
        until = timezone.now() + self.length()
        if not self._held().update(**{self.field_for(self.awaiting): until}):
            raise PollLeaseLost
        self.until = until

    def release(self) -> None:
        self._held().update(**{self.field_for(self.awaiting): None})

    def _held(self) -> QuerySet[ProviderAccount]:
        return ProviderAccount.objects.filter(pk=self.account_id, **{self.field_for(self.awaiting): self.until})


def _poll_rentals(
    account_id: int,
    rental_ids: list[int],
    cycle_started: datetime,
    before_request: Callable[..., None],
    *,
    stop_at: datetime,
) -> int:
    rentals = (
        Rental.objects.filter(pk__in=rental_ids, account_id=account_id, status=RentalStatus.ACTIVE)
        .select_related("account")
        .annotate(awaiting=Case(When(awaiting_a_code(cycle_started), then=Value(True)), default=Value(False)))
        .in_bulk()
    )
    client = None
    new = 0
    for rental in (rentals[pk] for pk in rental_ids if pk in rentals):
        if timezone.now() >= stop_at:
            break  # the next cycle has begun, or is about to, and polls what is left
        claimed_at = timezone.now()
        claimed = Rental.objects.filter(
            Q(last_polled_at__isnull=True) | Q(last_polled_at__lt=cycle_started), pk=rental.pk
        ).update(last_polled_at=claimed_at)
        if not claimed:
            continue
        try:
            client = client or provider_client_for(rental.account)
            outcome = rental_poll(
                rental=rental, client=client, before_request=partial(before_request, urgent=rental.awaiting)
            )
        except AccountPaceTaken:
            # Not polled: claimed as it was, so the account's other poll, or the next cycle, takes it first.
            Rental.objects.filter(pk=rental.pk, last_polled_at=claimed_at).update(last_polled_at=rental.last_polled_at)
            raise
        except ProviderError as error:  # the stored key cannot be read: nothing was sent
            outcome = Outcome.unanswered(Operation.POLL, error, rental=rental)
        new += outcome.new_messages
        if outcome.error is not None and _poll_failed(rental, outcome.error):
            return new
    return new


def _poll_failed(rental: Rental, error: ProviderError) -> bool:
    """Keep SMS.online's error where ops look; True when the account's other rentals would fail the same
    way (it cannot be used now, or its stored key cannot be read), so its poll stops."""
    if isinstance(error, (AccountError, RateLimited)):
        if error.was_sent:
            account_record_error(account=rental.account, error=error, operation="getRentStatus")
        return True
    if isinstance(error, RentUnknown):
        account_record_error(account=rental.account, error=error, operation="getRentStatus")
        rental_mark_lost(rental=rental, error=error, polled_id=rental.provider_rent_id)
        return False
    # One rental's trouble must not keep the others from their SMS.
    if not isinstance(error, ProviderUnreachable):
        account_record_error(account=rental.account, error=error, operation="getRentStatus")
    logger.info("polling rental %s: %s", rental.pk, error.token)
    return False
