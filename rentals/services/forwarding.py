"""Forwarding each SMS, once, to the chats where people wait for its code.

An SMS row is created once however the SMS arrived (webhook, polling, a rent recorded by
reconciliation and then polled); its forwarding row is created in the same transaction, and its task
queued when that commits, so storing never waits for a chat. The task claims the row before posting
(a second worker, a redelivered task or the catch-up finds it claimed or done), posts to each
destination that does not have it yet, and records where it went and when, or the error. While a
chat service is down, the task is tried again with a growing delay, then given up on.

Where an SMS goes: the rental's own setting, else its assignee's (if the assignee is active staff who
may read SMS), else
the team's ``RENTDESK_SMS_CHAT_URLS``; any of them may say "none".
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from .. import notices
from ..chat import destination_key, masked, parse_chat_urls, post_plain
from ..models import ForwardingPreference, ForwardState, Rental, SmsForward, SmsMessage
from ..roles import is_active_staff
from .arrivals import sms_announce
from .followups import claimed_for_requeue

logger = logging.getLogger(__name__)

SMS_PERMISSION = "rentals.view_smsmessage"
# Long enough for a post to every destination (apprise waits a few seconds on each at most).
FORWARD_LEASE = timedelta(minutes=2)
# A forwarding whose task should have run this long ago is queued again by the catch-up.
REQUEUE_AFTER = timedelta(minutes=2)
MAX_RETRY_DELAY = 600


class ChatUnavailable(Exception):
    """Some destination did not take the SMS; try again in ``retry_in`` seconds."""

    def __init__(self, problem: str, *, retry_in: int) -> None:
        super().__init__(problem)
        self.retry_in = retry_in


def sms_arrived(message: SmsMessage) -> None:
    """A new SMS row was just created (in the caller's transaction): forward it and wake the waiting
    API requests once the row is committed."""
    rental = message.rental
    if forward_destinations(rental):
        SmsForward.objects.create(sms=message)
        transaction.on_commit(partial(_enqueue, message.pk))
    transaction.on_commit(partial(sms_announce, rental.pk))


def _enqueue(sms_id: int) -> None:
    from ..tasks import forward_sms  # tasks import services: import here, at call time

    try:
        forward_sms.delay(sms_id)
    except Exception as error:
        # The SMS and its forwarding row are stored; the polling cycle queues it again (forwards_to_requeue).
        logger.warning("SMS %s stored; its forwarding task could not be queued: %s", sms_id, error)


def forward_destinations(rental: Rental) -> list[str]:
    """The apprise URLs this rental's SMS go to now (empty: nowhere)."""
    own = parse_chat_urls(rental.sms_chat_urls)
    if own is not None:
        return own
    assignee = rental.assignee
    # An assignee who has left the team (inactive, or no longer staff) gets no SMS in their own chat.
    if is_active_staff(assignee) and assignee.has_perm(SMS_PERMISSION):
        preference = ForwardingPreference.objects.filter(user=assignee).first()
        chosen = parse_chat_urls(preference.sms_chat_urls) if preference else None
        if chosen is not None:
            return chosen
    return list(settings.RENTDESK_SMS_CHAT_URLS)


def sms_forward(*, sms_id: int, now: datetime) -> str:
    """Post one SMS to its destinations; returns what happened in a word. Raises ``ChatUnavailable``
    when a destination did not take it and it should be tried again."""
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    lease = now + FORWARD_LEASE
    claimed = SmsForward.objects.filter(free, pk=sms_id, state=ForwardState.PENDING).update(
        claimed_until=lease, attempts=F("attempts") + 1
    )
    if not claimed:
        return "not claimed"  # done, given up, or another worker is posting it now
    forward = SmsForward.objects.select_related("sms__rental__assignee").get(pk=sms_id)
    destinations = forward_destinations(forward.sms.rental)
    forwarded = notices.forwarded_sms(forward.sms)
    delivered, problems = set(forward.delivered), []
    for url in destinations:
        if destination_key(url) in delivered:
            continue
        problem = post_plain(url, title=forwarded.subject, body=forwarded.body)
        if problem:
            problems.append(f"{masked(url)}: {problem}")
        else:
            delivered.add(destination_key(url))
        lease = _lease_kept(sms_id, lease, delivered)
        if lease is None:
            return "lease lost"
    mine = SmsForward.objects.filter(pk=sms_id, claimed_until=lease)
    record = {"destinations": "\n".join(masked(url) for url in destinations), "delivered": sorted(delivered),
              "claimed_until": None}  # fmt: skip
    if not problems:
        state = ForwardState.SENT if destinations else ForwardState.NOT_FORWARDED
        return state if mine.update(state=state, sent_at=now, last_error="", **record) else "lease lost"
    return _forward_failed(forward, mine, problems, now=now, record=record)


def _lease_kept(sms_id: int, lease: datetime, delivered: set[str]) -> datetime | None:
    """After each chat: the chats that have the SMS recorded at once, and the lease renewed for the next
    post, if this worker still holds it; else None. So a worker that stalled or died mid-way leaves
    what it did, and the one that took over skips those chats; the stalled one, waking, stops here."""
    renewed = max(lease, timezone.now() + FORWARD_LEASE)
    held = SmsForward.objects.filter(pk=sms_id, claimed_until=lease).update(
        claimed_until=renewed, delivered=sorted(delivered)
    )
    return renewed if held else None


def _forward_failed(
    forward: SmsForward, mine: QuerySet[SmsForward], problems: list[str], *, now: datetime, record: dict
) -> str:
    error = "; ".join(problems)[:2000]
    if forward.attempts >= settings.RENTDESK_SMS_FORWARD_ATTEMPTS:
        if not mine.update(state=ForwardState.FAILED, last_error=error, **record):
            return "lease lost"
        logger.warning("SMS %s not forwarded after %s attempts: %s", forward.pk, forward.attempts, error)
        return ForwardState.FAILED
    retry_in = min(settings.RENTDESK_SMS_FORWARD_RETRY_SECONDS * 2 ** (forward.attempts - 1), MAX_RETRY_DELAY)
    if not mine.update(last_error=error, next_attempt_at=now + timedelta(seconds=retry_in), **record):
        return "lease lost"
    raise ChatUnavailable(error, retry_in=round(retry_in))


def forwards_to_requeue(*, now: datetime) -> list[int]:
    """Forwardings whose task never ran or was lost (the broker was down, a worker died): claimed for
    one more queueing each, so a backlog is not queued again every cycle."""
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    due = Q(next_attempt_at__isnull=True, created_at__lt=now - REQUEUE_AFTER) | Q(
        next_attempt_at__lt=now - REQUEUE_AFTER
    )
    stale = SmsForward.objects.filter(free, due, state=ForwardState.PENDING)
    return claimed_for_requeue(stale, oldest_first_by="created_at", stamp={"next_attempt_at": now})
