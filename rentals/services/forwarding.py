"""Forwarding each SMS, once, to the chats where people wait for its code.

An SMS row is created once however the SMS arrived (webhook, polling, a rent recorded by
reconciliation and then polled); its forwarding row is created in the same transaction, and its task
queued when that commits, so storing never waits for a chat. The task claims the row before posting
(a second worker, a redelivered task or the catch-up finds it claimed or done), posts to each
destination that does not have it yet, and records where it went and when, or the error. While a
chat service is down, the task is tried again with a growing delay, then given up on.

Where an SMS goes: the rental's own setting, else its assignee's (if the assignee is active staff who
may read SMS), else
the team's ``RENTDESK_SMS_CHAT_URLS``; any of them may say "none". Besides, while the team's bot is on,
to the linked Telegram chat of its assignee and of whoever rented it (active staff who have not turned
it off; one without the SMS permission is told only that an SMS came), unless the rental says "none".
Each chat is one destination of the same record: delivered once, retried with the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from ..chat import destination_key, masked, parse_chat_urls, post_plain
from ..models import ForwardingPreference, ForwardState, Rental, SmsForward, SmsMessage, TelegramLink
from ..permissions import Permission
from ..roles import is_active_staff
from ..telegram.client import bot_enabled, telegram_client
from ..wording import notices
from .arrivals import sms_announce
from .followups import SMS_FORWARD_TASK, claimed_for_requeue, task_queue
from .telegram_push import telegram_sms_push

logger = logging.getLogger(__name__)

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
    if forward_destinations(rental) or telegram_links_for(rental):
        SmsForward.objects.create(sms=message)
        transaction.on_commit(partial(_enqueue, message.pk))
    transaction.on_commit(partial(sms_announce, rental.pk))


def _enqueue(sms_id: int) -> None:
    try:
        task_queue(SMS_FORWARD_TASK, sms_id)
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
    if is_active_staff(assignee) and assignee.has_perm(Permission.READ_SMS):
        preference = ForwardingPreference.objects.filter(user=assignee).first()
        chosen = parse_chat_urls(preference.sms_chat_urls) if preference else None
        if chosen is not None:
            return chosen
    return list(settings.RENTDESK_SMS_CHAT_URLS)


def telegram_links_for(rental: Rental) -> list[TelegramLink]:
    """The linked Telegram chats this rental's SMS go to: its assignee's and its followers'. Not its renter's
    as such: the renter is its first assignee, and one who handed the number on stops getting its codes."""
    if not bot_enabled() or parse_chat_urls(rental.sms_chat_urls) == []:
        return []
    concerned = [rental.assignee, *rental.followers.all()]
    people = {person.pk for person in concerned if is_active_staff(person)}
    if not people:
        return []
    turned_off = ForwardingPreference.objects.filter(user__in=people, telegram_codes=False).values("user")
    links = TelegramLink.objects.filter(user__in=people).exclude(user__in=turned_off).select_related("user")
    return list(links.order_by("pk"))


@dataclass(frozen=True)
class Destination:
    key: str  # in the record of where it went: no secret in it
    shown: str  # in the admin: masked
    post: Callable[[], str]  # "" when taken, else what went wrong


def _destinations(sms: SmsMessage) -> list[Destination]:
    forwarded = notices.forwarded_sms(sms)
    chats = [
        Destination(destination_key(url), masked(url), partial(post_plain, url, title=forwarded.subject,
                                                                 body=forwarded.body))
        for url in forward_destinations(sms.rental)
    ]  # fmt: skip
    links = telegram_links_for(sms.rental)
    client = telegram_client() if links else None
    return chats + [
        Destination(destination_key(f"telegram:{link.chat_id}"), f"Telegram: {link.user.get_username()}",
                    partial(telegram_sms_push, client=client, sms=sms, link=link))
        for link in links
    ]  # fmt: skip


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
    forward = SmsForward.objects.select_related("sms__rental__assignee", "sms__rental__rented_by").get(pk=sms_id)
    destinations = _destinations(forward.sms)
    delivered, problems = set(forward.delivered), []
    for destination in destinations:
        if destination.key in delivered:
            continue
        problem = destination.post()
        if problem:
            problems.append(f"{destination.shown}: {problem}")
        else:
            delivered.add(destination.key)
        lease = _lease_kept(sms_id, lease, delivered)
        if lease is None:
            return "lease lost"
    mine = SmsForward.objects.filter(pk=sms_id, claimed_until=lease)
    record = {"destinations": "\n".join(destination.shown for destination in destinations),
              "delivered": sorted(delivered), "claimed_until": None}  # fmt: skip
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
