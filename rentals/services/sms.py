"""Incoming SMS: webhook deliveries, polling, and the one row per real SMS."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ..models import Rental, RentalExtension, RentalStatus, SmsMessage, SmsSource, WebhookDelivery
from ..provider.client import SmsOnlineClient
from ..provider.errors import AccountError, ProviderError, ProviderUnreachable
from ..provider.parsing import IncomingSms, UnreadableWebhook, parse_webhook
from .accounts import account_record_error, provider_client_for

logger = logging.getLogger(__name__)

# "Your code 1234", "G-123456", "123-456", "12 34 56" is not one: a run of 4-8 digits, or 3+3.
_CODE = re.compile(r"(?<![0-9])([0-9]{3}[- ][0-9]{3}|[0-9]{4,8})(?![0-9])")
MAX_STATUS_PAGES = 20
ENDED_STATES = {"finished": RentalStatus.FINISHED, "cancelled": RentalStatus.CANCELLED, "revoked": RentalStatus.REVOKED}


class UnknownWebhookToken(Exception):
    """No rental has this webhook token."""


def extract_code(text: str) -> str:
    match = _CODE.search(text)
    return re.sub(r"[- ]", "", match.group(1)) if match else ""


def sms_dedupe_key(sms: IncomingSms) -> str:
    """The same SMS, whether by webhook or by polling, in whichever wire form: the same key."""
    moment = sms.received_at.astimezone(UTC).replace(microsecond=0).isoformat()
    return hashlib.sha256(f"{moment}\x1f{sms.sender}\x1f{sms.text}".encode()).hexdigest()


def sms_record(*, rental: Rental, sms: IncomingSms, source: str) -> SmsMessage | None:
    """Store the SMS once; returns None when it was already there."""
    try:
        with transaction.atomic():
            message = SmsMessage.objects.create(
                rental=rental, sender=sms.sender, text=sms.text, code=extract_code(sms.text),
                received_at=sms.received_at, dedupe_key=sms_dedupe_key(sms), source=source,
            )  # fmt: skip
            # Only a newer SMS replaces the one the inventory shows.
            Rental.objects.filter(
                Q(last_sms_at__isnull=True) | Q(last_sms_at__lte=sms.received_at), pk=rental.pk
            ).update(last_sms_at=sms.received_at, last_sms_text=sms.text[:500], last_sms_code=message.code)
    except IntegrityError:
        return None
    return message


def _provider_tz() -> ZoneInfo:
    return ZoneInfo(settings.PROVIDER_TIMEZONE)


def webhook_store(*, token: str, body: bytes, content_type: str) -> WebhookDelivery:
    """Check and keep a webhook delivery; the same body twice is kept once.

    Raises ``UnknownWebhookToken`` (answer 404) or ``UnreadableWebhook`` (answer 400). Database
    errors propagate: the view answers 503 so that nothing is acknowledged and then lost.
    """
    rental = Rental.objects.filter(webhook_token=token).first() if token else None
    if rental is None:
        raise UnknownWebhookToken
    delivered = parse_webhook(body, content_type=content_type, provider_tz=_provider_tz())
    if delivered.rent_id not in _rent_ids_of(rental):
        raise UnreadableWebhook("rentId does not belong to this rental")
    body_hash = hashlib.sha256(body).hexdigest()
    try:
        with transaction.atomic():
            return WebhookDelivery.objects.create(
                rental=rental,
                body_hash=body_hash,
                body=body.decode("utf-8", "replace"),
                content_type=content_type[:100],
            )
    except IntegrityError:
        return WebhookDelivery.objects.get(rental=rental, body_hash=body_hash)


def _rent_ids_of(rental: Rental) -> set[str]:
    """Its current provider id and every id it had before an extension re-ordered it."""
    earlier = RentalExtension.objects.filter(rental=rental).values_list("old_rent_id", "new_rent_id")
    return {rental.provider_rent_id, *(rent_id for pair in earlier for rent_id in pair if rent_id)}


def webhook_process(*, delivery_id: int) -> SmsMessage | None:
    """Turn a stored delivery into its SMS row. Idempotent: a second run finds the row there."""
    delivery = WebhookDelivery.objects.select_related("rental").get(pk=delivery_id)
    if delivery.processed_at is not None:
        return None
    try:
        delivered = parse_webhook(
            delivery.body.encode(), content_type=delivery.content_type, provider_tz=_provider_tz()
        )
    except UnreadableWebhook as problem:
        outcome, message = f"unreadable: {problem}", None
    else:
        message = sms_record(rental=delivery.rental, sms=delivered.sms, source=SmsSource.WEBHOOK)
        outcome = "recorded" if message else "already recorded"
    WebhookDelivery.objects.filter(pk=delivery.pk, processed_at__isnull=True).update(
        processed_at=timezone.now(), outcome=outcome
    )
    return message


def webhook_ids_unprocessed(*, older_than: datetime) -> list[int]:
    """Deliveries whose processing task never ran (the broker was down when they came)."""
    pending = WebhookDelivery.objects.filter(processed_at__isnull=True, received_at__lt=older_than)
    return list(pending.order_by("received_at").values_list("pk", flat=True)[:500])


@dataclass(frozen=True)
class PollResult:
    new_messages: int
    state: str


def rental_poll(*, rental: Rental, client: SmsOnlineClient | None = None) -> PollResult:
    """Read every page of the rental's SMS from getRentStatus; end it locally if the provider did."""
    client = client or provider_client_for(rental.account)
    new, page, seen = 0, 0, 0
    while page < MAX_STATUS_PAGES:
        status = client.get_rent_status(rent_id=rental.provider_rent_id, page=page)
        for sms in status.messages:
            new += sms_record(rental=rental, sms=sms, source=SmsSource.POLL) is not None
        seen += len(status.messages)
        if status.state != "active" or not status.messages or seen >= status.total:
            break
        page += 1
    Rental.objects.filter(pk=rental.pk).update(last_polled_at=timezone.now())
    if status.state in ENDED_STATES:
        rental_mark_ended(rental=rental, status=ENDED_STATES[status.state])
    return PollResult(new_messages=new, state=status.state)


def rental_mark_ended(*, rental: Rental, status: str) -> bool:
    """The provider says the rent is over: record it once."""
    now = timezone.now()
    return bool(
        Rental.objects.filter(pk=rental.pk, status__in=[RentalStatus.ACTIVE, RentalStatus.EXPIRED]).update(
            status=status, ended_at=now
        )
    )


def account_poll(*, account_id: int, rental_ids: list[int], cycle_started: datetime) -> int:
    """Poll the account's due rentals one by one, no faster than its rate limit. Returns new SMS.

    Each rental is claimed first (its last_polled_at moved from what the cycle saw), so an
    overlapping cycle or a redelivered task never polls it twice.
    """
    interval = 1 / settings.SMSONLINE_POLL_RATE
    client = None
    new = 0
    for rental in Rental.objects.filter(pk__in=rental_ids, account_id=account_id, status=RentalStatus.ACTIVE):
        claimed = Rental.objects.filter(
            Q(last_polled_at__isnull=True) | Q(last_polled_at__lt=cycle_started), pk=rental.pk
        ).update(last_polled_at=timezone.now())
        if not claimed:
            continue
        client = client or provider_client_for(rental.account)
        started = time.monotonic()
        try:
            new += rental_poll(rental=rental, client=client).new_messages
        except AccountError as error:
            # The account cannot be used now: its other rentals would fail the same way.
            account_record_error(account=rental.account, error=error, operation="getRentStatus")
            return new
        except ProviderError as error:
            # One rental's trouble must not keep the others from their SMS.
            _note_poll_error(rental, error)
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
    return new


def _note_poll_error(rental: Rental, error: ProviderError) -> None:
    if error.token in ("NO_ID_RENT", "INVALID_PHONE"):
        note = f"SMS.online does not know this rent any more ({error.token}): no SMS can be read for it."
        Rental.objects.filter(pk=rental.pk).update(attention=note)
    if not isinstance(error, ProviderUnreachable):
        account_record_error(account=rental.account, error=error, operation="getRentStatus")
    logger.info("polling rental %s: %s", rental.pk, error.token)
