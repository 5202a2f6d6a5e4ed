"""Renting from the bot, where the team turns it on (``RENTDESK_TELEGRAM_RENT``): the same form,
permission, budgets, attempt record and person named as a rent from the admin.

``/rent <service> <country> [hours] [what it is for]`` is checked by the rent form (``by_name``: the
service's code, SMS.online's country id) with the account the admin's rent form offers first, and
answered with what would be rented, and its price where the catalog knows it, to confirm: a button, or,
for a person who must sign in with two factors, ``/confirm <offer> <code>`` with their authenticator's
code (django-otp throttles wrong codes; a wrong one withdraws the offer). The confirmation is claimed
in the database, and the offer's nonce is the rent attempt's: a second tap rents nothing more.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from ..forms import RentForm, accounts_ok_first
from ..models import TelegramRentOffer
from ..permissions import Permission
from ..two_factor import confirmed_device, needs_two_factor
from ..wording import telegram
from .budgets import rent_price
from .renting import rental_rent

OFFER_LIFETIME = timedelta(minutes=5)


@dataclass(frozen=True)
class Answer:
    text: str
    buttons: list[list[dict[str, str]]] = field(default_factory=list)


def telegram_rent_offer(*, user: AbstractBaseUser, chat_id: int, argument: str, now: datetime) -> Answer:
    """What ``/rent ...`` answers: why not, or the rent to confirm."""
    if not settings.RENTDESK_TELEGRAM_RENT:
        return Answer(telegram.rent_off())
    if not user.has_perm(Permission.RENT):
        return Answer(telegram.rent_not_allowed())
    if needs_two_factor(user) and confirmed_device(user) is None:
        return Answer(telegram.rent_needs_two_factor())
    words = argument.split()
    if len(words) < 2:
        return Answer(telegram.rent_usage())
    form = _form(words)
    if not form.is_valid():
        return Answer(telegram.rent_refused(["; ".join(errors) for errors in form.errors.values()]))
    offer = TelegramRentOffer.objects.create(
        user=user, chat_id=chat_id, nonce=uuid.uuid4(), arguments=form.data, expires_at=now + OFFER_LIFETIME
    )
    chosen = form.rent_arguments()
    price = rent_price(service=chosen["service"], country=chosen["country"], hours=chosen["hours"])
    text = telegram.rent_offer(chosen, price=price, offer_id=offer.pk, with_code=needs_two_factor(user))
    if needs_two_factor(user):
        return Answer(text)
    return Answer(text, [[{"text": telegram.rent_button(), "callback_data": f"rent:{offer.pk}"},
                          {"text": telegram.cancel_button(), "callback_data": f"cancel:{offer.pk}"}]])  # fmt: skip


def _form(words: list[str]) -> RentForm:
    hours = words[2] if len(words) > 2 and words[2].isdigit() else "24"
    label = " ".join(words[3:] if len(words) > 2 and words[2].isdigit() else words[2:])
    account = accounts_ok_first().first()
    data: dict[str, Any] = {"account": account.name if account else "", "service": words[0], "country": words[1],
                            "operator": "", "hours": hours, "label": label[:200], "webhook": True}  # fmt: skip
    return RentForm(data, by_name=True)


def telegram_rent_answer(
    *, user: AbstractBaseUser, chat_id: int, offer_id: int, confirmed: bool, code: str | None, now: datetime
) -> str:
    """Confirm (rent) or withdraw an offer, once; with ``code`` where two factors are required."""
    offers = TelegramRentOffer.objects.filter(
        pk=offer_id, user=user, chat_id=chat_id, used_at__isnull=True, expires_at__gt=now
    )
    offer = offers.first()
    if offer is None or not offers.update(used_at=now):
        return telegram.rent_gone()
    if not confirmed:
        return telegram.rent_withdrawn()
    if needs_two_factor(user) and not _code_right(user, code):
        return telegram.rent_code_wrong()
    if not (settings.RENTDESK_TELEGRAM_RENT and user.has_perm(Permission.RENT)):
        return telegram.rent_not_allowed()  # the team or the person's role changed meanwhile
    form = RentForm(offer.arguments, by_name=True)
    if not form.is_valid():
        return telegram.rent_refused(["; ".join(errors) for errors in form.errors.values()])
    outcome = rental_rent(**form.rent_arguments(), nonce=offer.nonce, requested_by=user, via="telegram")
    return telegram.rent_outcome(outcome)


def _code_right(user: AbstractBaseUser, code: str | None) -> bool:
    device = confirmed_device(user)
    return bool(device and code and code.isdigit() and device.verify_token(code))
