"""The team's bot: reading its updates, answering people, and pushing each code to their chat.

Updates are read by long-polling getUpdates from a task (no public URL needed): a short poll, so a
worker slot is never held long, and one reader at a time, by a lease on the one ``TelegramPoll`` row
(as the catalog sync's). The offset moves past each update once it is answered, so a reader that dies
mid-batch leaves the rest to the next one. A person is known by their linked chat; every answer is in
the language they linked in, and says only what their permissions in Rentdesk let them see.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet
from django.utils import timezone, translation

from ..models import Rental, RentalStatus, SmsMessage, TelegramLink, TelegramPoll
from ..permissions import Permission
from ..roles import is_active_staff
from ..selectors import rentals_search
from ..telegram.client import TelegramClient, TelegramError
from ..wording import telegram
from .telegram_links import telegram_link_by_code, telegram_unlink
from .telegram_renting import Answer, telegram_rent_answer, telegram_rent_offer

logger = logging.getLogger(__name__)

# getUpdates waits at most this long for an update: beat starts the next read soon after.
POLL_SECONDS = 4
READ_LEASE = timedelta(seconds=POLL_SECONDS + 60)
POLL_ROW = 1
# Refusals that asking again in 5 s will not change: 409, a webhook is set (the updates come by it; `manage.py
# telegram_webhook delete` ends the pause); 401, the token was revoked. Read again after a pause, not
# every 5 s with a log line each.
PAUSE_AFTER = {409: timedelta(minutes=5), 401: timedelta(minutes=5)}


def telegram_updates_read(*, client: TelegramClient, now: datetime) -> int:
    """Read and answer the updates waiting (up to ``POLL_SECONDS`` for one); returns how many were
    answered, or -1 when another reader holds the lease."""
    TelegramPoll.objects.get_or_create(pk=POLL_ROW)
    lapsed = Q(leased_until__isnull=True) | Q(leased_until__lte=now)
    lease = now + READ_LEASE
    if not TelegramPoll.objects.filter(lapsed, pk=POLL_ROW).update(leased_until=lease):
        return -1
    mine = TelegramPoll.objects.filter(pk=POLL_ROW, leased_until=lease)
    try:
        offset = TelegramPoll.objects.get(pk=POLL_ROW).offset
        updates = client.get_updates(offset=offset or None, timeout=POLL_SECONDS)
    except TelegramError as error:
        pause = PAUSE_AFTER.get(error.status or 0)
        mine.update(leased_until=now + pause if pause else None, last_error=str(error)[:2000])
        logger.log(logging.INFO if error.status == 409 else logging.WARNING, "Telegram updates not read: %s", error)
        return 0
    lease = _answer_all(client, updates, lease=lease)
    if lease is not None:
        TelegramPoll.objects.filter(pk=POLL_ROW, leased_until=lease).update(
            leased_until=None, last_read_at=timezone.now(), last_error=""
        )
    return len(updates)


def _answer_all(client: TelegramClient, updates: list[dict[str, Any]], *, lease: datetime) -> datetime | None:
    """Answer each update, then move the offset past it and renew the lease (a rent confirmed in the
    bot waits on SMS.online); the lease held at the end, or None when another reader took it over."""
    for update in updates:
        _answer_safely(client, update, now=timezone.now())
        renewed = timezone.now() + READ_LEASE
        mine = TelegramPoll.objects.filter(pk=POLL_ROW, leased_until=lease)
        if not mine.update(offset=int(update["update_id"]) + 1, leased_until=renewed):
            logger.warning("Telegram updates: the lease ran out mid-batch; the next reader goes on from there")
            return None
        lease = renewed
    return lease


def _answer_safely(client: TelegramClient, update: dict[str, Any], *, now: datetime) -> None:
    """Answer one update; one that cannot be answered is logged and passed, never read again and again."""
    try:
        telegram_update_answer(client=client, update=update, now=now)
    except TelegramError as error:
        logger.warning("Telegram update %s not answered: %s", update.get("update_id"), error)
    except Exception:
        logger.exception("Telegram update %s could not be answered", update.get("update_id"))


def telegram_update_answer(*, client: TelegramClient, update: dict[str, Any], now: datetime) -> None:
    """Answer one update: a message (a command) or a tap on a button."""
    if callback := update.get("callback_query"):
        # Answered first, whatever the tap was: the button stops spinning.
        client.answer_callback_query(callback_query_id=str(callback.get("id", "")))
        chat_id = ((callback.get("message") or {}).get("chat") or {}).get("id")
        if isinstance(chat_id, int) and (reply := _tapped(chat_id, str(callback.get("data", "")), now=now)):
            client.send_message(chat_id=chat_id, text=reply)
        return
    message = update.get("message") or {}
    chat, text = message.get("chat") or {}, message.get("text")
    if chat.get("type") != "private" or not isinstance(text, str) or not isinstance(chat.get("id"), int):
        return  # groups, channels, stickers: the bot speaks with people, one to one
    sender_language = str((message.get("from") or {}).get("language_code") or "")
    reply = _reply(chat["id"], text.strip(), sender_language=sender_language, now=now)
    reply = Answer(reply) if isinstance(reply, str) else reply
    client.send_message(chat_id=chat["id"], text=reply.text, buttons=reply.buttons or None)


def _tapped(chat_id: int, data: str, *, now: datetime) -> str:
    """A tap on a rent offer's button: "rent:<offer>" or "cancel:<offer>"."""
    action, _, offer = data.partition(":")
    link = TelegramLink.objects.select_related("user").filter(chat_id=chat_id).first()
    if action not in ("rent", "cancel") or not offer.isdigit() or link is None or not is_active_staff(link.user):
        return ""
    with translation.override(link.language):
        return telegram_rent_answer(user=link.user, chat_id=chat_id, offer_id=int(offer), confirmed=action == "rent",
                                    code=None, now=now)  # fmt: skip


def _reply(chat_id: int, text: str, *, sender_language: str, now: datetime) -> str | Answer:
    command, _, argument = text.partition(" ")
    command = command.split("@", 1)[0].lower()  # "/numbers@rentdesk_bot" in a chat with several bots
    argument = argument.strip()
    if command == "/start" and argument and (made := telegram_link_by_code(code=argument, chat_id=chat_id, now=now)):
        with translation.override(made.language):
            return telegram.linked(made.user.get_full_name() or made.user.get_username())
    link = TelegramLink.objects.select_related("user").filter(chat_id=chat_id).first()
    if command == "/start" and argument:
        # In the language of the person the chat is linked to, if it is: their phone's may be another.
        with translation.override(link.language if link else _language(sender_language)):
            return telegram.code_refused()
    if link is None:
        with translation.override(_language(sender_language)):
            return telegram.not_linked()
    with translation.override(link.language):
        if command == "/stop":
            telegram_unlink(chat_id=chat_id)
            return telegram.unlinked()
        if not is_active_staff(link.user):
            return telegram.not_allowed()
        return _command(link.user, chat_id, command, argument, now=now)


def _command(user: AbstractBaseUser, chat_id: int, command: str, argument: str, *, now: datetime) -> str | Answer:
    if command == "/rent":
        return telegram_rent_offer(user=user, chat_id=chat_id, argument=argument, now=now)
    if command == "/confirm":
        offer, _, code = argument.partition(" ")
        if not offer.isdigit():
            return telegram.rent_gone()
        return telegram_rent_answer(user=user, chat_id=chat_id, offer_id=int(offer), confirmed=True,
                                    code=code.strip(), now=now)  # fmt: skip
    if command in ("/start", "/help"):
        return telegram.help_text()
    if command == "/numbers":
        return telegram.numbers(_own_active(user, now=now), now=now, may_read=user.has_perm(Permission.READ_SMS))
    if command == "/code":
        return _code(user, argument) if argument else telegram.code_usage()
    return telegram.unknown_command()


def _own_active(user: AbstractBaseUser, *, now: datetime) -> QuerySet[Rental]:
    active = Rental.objects.filter(status=RentalStatus.ACTIVE, end_date__gt=now)
    return active.filter(Q(assignee=user) | Q(rented_by=user)).order_by("end_date")


def _code(user: AbstractBaseUser, query: str) -> str:
    # The inventory's own search: a number in any spelling or its tail, or words of the label and notes.
    matches = list(rentals_search(_visible(user), term=query[:200]).order_by("-created_at")[:21])
    if not matches:
        return telegram.no_such_rental(query)
    own = [rental for rental in matches if user.pk in (rental.assignee_id, rental.rented_by_id)]
    chosen = own if len(own) == 1 else matches
    if len(chosen) > 1:
        return telegram.which_rental(chosen)
    rental = chosen[0]
    newest = SmsMessage.objects.filter(rental=rental).order_by("-received_at", "-pk").first()
    return telegram.newest_sms(rental, newest, may_read=user.has_perm(Permission.READ_SMS))


def _visible(user: AbstractBaseUser) -> QuerySet[Rental]:
    """The rentals a person may see in Rentdesk: every one with the view permission, else their own."""
    rentals = Rental.objects.select_related("assignee", "rented_by")
    return rentals if user.has_perm(Permission.VIEW_RENTAL) else rentals.filter(Q(assignee=user) | Q(rented_by=user))


def _language(code: str) -> str:
    """Telegram's idea of the person's language when it is one of Rentdesk's, else the team's."""
    ours = {language for language, _ in settings.LANGUAGES}
    short = code.split("-", 1)[0].lower()
    return short if short in ours else settings.LANGUAGE_CODE
