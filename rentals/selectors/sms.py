"""The SMS as open pages show them as they come: a rental's newest SMS, the inventory's last ones, and
the codes a person's tabs announce."""

from __future__ import annotations

from django.db.models import Exists, Max, Q

from ..models import ForwardingPreference, Rental, SmsMessage
from ..raw_sql import newest_sms_with_forwarding

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
