"""Auto-renew: extend chosen rentals before they end, within a price ceiling, once per end date.

It spends money without anyone clicking, so it is careful. It spends on behalf of the person who set
it (``Rental.auto_renew_by``), who must still be allowed to extend. The monthly budgets (the account's
and that person's, against the ceiling), the price and the balance are checked first. Each end date
is renewed at most once (the extension's nonce is derived from the rental and its end date, so a
second beat or a redelivered task cannot extend again), nothing is retried, and every failure is
announced loudly to the people concerned, for a person to act before the number lapses.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from ..models import AttemptState, ErrorEvent, Rental, RentalExtension, RentalStatus
from ..notice_sending import notify, rental_people
from ..outcomes import Operation, Outcome, State, Token
from ..permissions import Permission
from ..provider.errors import ProviderError
from ..reasons import reason
from ..roles import is_active_staff
from ..wording import notices
from ..wording.formats import money, team_language
from ..wording.pages import describe
from ..wording.tokens import explain, what_happened
from .accounts import provider_client_for
from .budgets import budget_alert_soon, budget_check
from .extending import rental_extend
from .pacing import account_pacing

logger = logging.getLogger(__name__)

# A rental's auto-renew settings: whoever changes one answers for the renewals that follow.
AUTO_RENEW_SETTINGS = ("auto_renew", "auto_renew_hours", "auto_renew_before_hours", "auto_renew_max_price")


def auto_renew_settings_changed(*, rental: Rental, changed: Iterable[str], by: AbstractBaseUser) -> None:
    """Before saving ``rental`` with the fields ``changed``: the person who turns auto-renew on, or changes
    its hours, timing or ceiling, is the one it renews for (their personal budget applies, their spend
    counts it); switched off, it is nobody's."""
    if set(changed) & set(AUTO_RENEW_SETTINGS):
        rental.auto_renew_by = by if rental.auto_renew else None


def auto_renew_owner_leaving(person: AbstractBaseUser, *, deleted: bool = True) -> int:
    """``person`` is being deleted, or is no longer active staff (``deleted=False``): the active rentals
    set to renew on their behalf would otherwise go on renewing on nobody's, or on the behalf of someone
    who may not spend. Their auto-renew is switched off (the history says why) and their people are told
    to extend by hand or set it again. Returns how many rentals were switched off."""
    rentals = Rental.objects.filter(auto_renew_by=person, auto_renew=True, status=RentalStatus.ACTIVE)
    switched = 0
    with team_language():
        what = _leaving_sentence(deleted)
        why = reason("auto_renew_off_deleted" if deleted else "auto_renew_off_inactive", person=person)
        for rental in rentals.select_related("account", "rented_by", "assignee", "auto_renew_by"):
            rental.auto_renew, rental.auto_renew_by = False, None
            rental._change_reason = why
            rental.save(update_fields=["auto_renew", "auto_renew_by"])
            _alarm(rental, what % {"person": person}, also=person)
            switched += 1
    return switched


def _leaving_sentence(deleted: bool) -> str:
    """The alarm's sentence, for a person deleted or no longer active staff."""
    if deleted:
        return _(
            "Auto-renew was switched off: %(person)s, who set it, was deleted. Extend the rental by hand, "
            "or set its auto-renew again."
        )
    return _(
        "Auto-renew was switched off: %(person)s, who set it, is no longer active staff. Extend the rental by "
        "hand, or set its auto-renew again."
    )


def rentals_set_auto_renew(
    *, rentals: Iterable[Rental], by: AbstractBaseUser, hours: int | None, before_hours: int = 24,
    max_price: Decimal | None = None,
) -> int:  # fmt: skip
    """Set the active ``rentals`` to renew by ``hours`` (None: not to renew), ``before_hours`` before
    their end, up to ``max_price``, on behalf of ``by``. Each change is saved, so the rental's history
    says who changed what. Returns how many rentals changed; an ended one is left as it is."""
    wanted = {"auto_renew": False} if hours is None else {
        "auto_renew": True, "auto_renew_hours": hours, "auto_renew_before_hours": before_hours,
        "auto_renew_max_price": max_price,
    }  # fmt: skip
    changed = 0
    for rental in rentals:
        differing = [name for name, value in wanted.items() if getattr(rental, name) != value]
        if rental.status != RentalStatus.ACTIVE or not differing:
            continue
        for name in differing:
            setattr(rental, name, wanted[name])
        auto_renew_settings_changed(rental=rental, changed=differing, by=by)
        rental.save(update_fields=[*differing, "auto_renew_by"])
        changed += 1
    return changed


def renewal_nonce(rental: Rental, secret: str | None = None) -> uuid.UUID:
    """The same rental and end date give the same nonce: one renewal per end date, however often asked.
    Keyed with the secret key: the extension page takes any nonce, so one worked out from the rental
    and its end date could be posted first, and the renewal would then never run."""
    key = f"{rental.pk}:{rental.end_date.isoformat()}"
    digest = salted_hmac("rentals.renewal_nonce", key, secret=secret, algorithm="sha256").digest()
    return uuid.UUID(bytes=digest[:16])


def _renewal_nonces(rental: Rental) -> list[uuid.UUID]:
    """The nonce and those made with the keys a rotation left in SECRET_KEY_FALLBACKS: a renewal
    handled before the rotation stays handled."""
    return [renewal_nonce(rental), *(renewal_nonce(rental, old) for old in settings.SECRET_KEY_FALLBACKS)]


def rentals_due_for_renewal(*, now: datetime) -> list[int]:
    """Rentals set to auto-renew that have come within their renewal time (few: it is opt-in)."""
    candidates = Rental.objects.filter(auto_renew=True, status=RentalStatus.ACTIVE, end_date__gt=now)
    return [rental.pk for rental in candidates.only(*_DUE_FIELDS) if _is_due(rental, now)]


_DUE_FIELDS = ("pk", "auto_renew", "status", "end_date", "auto_renew_hours", "auto_renew_before_hours")


def _is_due(rental: Rental, now: datetime) -> bool:
    # Never earlier than one renewal adds: a rental renewed while still that close to its end would
    # be due again, and renewed again, at once. The forms refuse such settings
    # (``auto_renew_window_problem``); this holds for rentals set before they did.
    window = timedelta(hours=min(rental.auto_renew_before_hours, rental.auto_renew_hours))
    return rental.auto_renew and rental.status == RentalStatus.ACTIVE and now < rental.end_date <= now + window


class Renewal(StrEnum):
    """What one auto-renew run did, in a word (its outcome's ``facts["renewal"]``; the task's result)."""

    RENEWED = "renewed"
    NOT_DUE = "not due"  # renewed meanwhile, switched off, or ended
    ALREADY_HANDLED = "already handled"
    REFUSED = "refused"  # before anything was asked of SMS.online to extend
    FAILED = "failed"
    GONE = "gone"


def rental_auto_renew(*, rental_id: int) -> Outcome:
    """Renew one rental if it is due and within its limits: the outcome of the extension, if one was
    asked for, and what happened in a word (``facts["renewal"]``).

    Nobody is at a screen: what it records and says is in the team's language."""
    with team_language():
        return _auto_renew(rental_id)


def _renewal(word: Renewal, state: str = State.FAILED, token: str = "", **found: object) -> Outcome:
    return Outcome(Operation.AUTO_RENEW, state, token, facts={"renewal": word}, **found)


def _auto_renew(rental_id: int) -> Outcome:
    people = ("rented_by", "assignee", "auto_renew_by")
    rental = Rental.objects.select_related("account", *people).filter(pk=rental_id).first()
    if rental is None:
        logger.info("auto-renew: rental %s no longer exists", rental_id)
        return _renewal(Renewal.GONE, token=Token.NOT_FOUND)
    if not _is_due(rental, timezone.now()):
        return _renewal(Renewal.NOT_DUE, rental=rental)
    nonce, *before_rotation = _renewal_nonces(rental)
    handled = RentalExtension.objects.filter(nonce__in=[nonce, *before_rotation]).first()
    if handled is not None:
        return _renewal(Renewal.ALREADY_HANDLED, handled.state, handled.error_token, rental=rental, extension=handled,
                        repeated=True)  # fmt: skip
    problem, token = _refusal_before_asking(rental)
    price = None
    if not problem:
        price, problem = _precheck(rental)
    if problem:
        if _record_refusal(rental, nonce, problem, token=token or REFUSED):
            _alarm(rental, _("Auto-renew did not run: %(problem)s") % {"problem": problem})
        return _renewal(Renewal.REFUSED, token=token or REFUSED, rental=rental)
    outcome = rental_extend(
        rental=rental, hours=rental.auto_renew_hours, nonce=nonce, requested_by=rental.auto_renew_by, automatic=True,
        price_quoted=price, expect_end_date=rental.end_date,
    )  # fmt: skip
    found = {"rental": rental, "extension": outcome.extension, "repeated": outcome.repeated}
    if not outcome.ok and not outcome.repeated and outcome.token != Token.RENTAL_CHANGED:
        _alarm(rental, _("Auto-renew failed: %(problem)s") % {"problem": describe(outcome)})
        return _renewal(Renewal.FAILED, outcome.state, outcome.token, **found)
    word = Renewal.RENEWED if outcome.ok else Renewal.ALREADY_HANDLED
    return _renewal(word, outcome.state, outcome.token, **found)


REFUSED = "AUTO_RENEW_REFUSED"


def _refusal_before_asking(rental: Rental) -> tuple[str, str]:
    """What stops the renewal before anything is asked of SMS.online, and its token; empty if nothing.

    The budgets are checked against the rental's price ceiling, the most this renewal may cost. A rental
    set to renew before Rentdesk recorded who set it, with no history saying so, has nobody's budget to
    check but the account's."""
    open_states = [AttemptState.PENDING, AttemptState.UNKNOWN]
    if RentalExtension.objects.filter(rental=rental, state__in=open_states).exists():
        return _("another extension of this rental is in progress or has an unknown outcome."), REFUSED
    if rental.auto_renew_max_price is None:
        return _("no price ceiling is set on the rental."), REFUSED
    person = rental.auto_renew_by
    if person is not None and not (is_active_staff(person) and person.has_perm(Permission.EXTEND)):
        no_longer = _(
            "it was set by %(person)s, who may no longer extend rentals. Extend this one by hand; for the renewals "
            "after it, someone who may extend should save its auto-renew settings again."
        )
        return no_longer % {"person": person}, REFUSED
    with transaction.atomic():
        refusal = budget_check(account=rental.account, person=person, price=rental.auto_renew_max_price,
                               now=timezone.now())  # fmt: skip
    if refusal is not None:
        budget_alert_soon(account=rental.account, person=person, refusal=refusal)
        return f"{explain(refusal.token)} {refusal.detail()}", refusal.token
    return "", ""


def _precheck(rental: Rental) -> tuple[Decimal | None, str]:
    """SMS.online's price, within the ceiling and the balance, or why not (asks, spends nothing)."""
    try:
        client = provider_client_for(rental.account)
        # Paced with the account's polling (a renewal is rare, and its end date near: it goes first).
        pacing = account_pacing(rental.account_id)
        pacing.wait(urgent=True)
        price = client.get_continue_price(rent_id=rental.provider_rent_id, hours=rental.auto_renew_hours)
        pacing.wait(urgent=True)
        balance = client.get_balance()
    except ProviderError as error:
        return None, str(what_happened(error.token))
    if price is None:
        return None, _("SMS.online gave no price, so the ceiling cannot be checked.")
    figures = {"price": money(price), "balance": money(balance), "ceiling": money(rental.auto_renew_max_price)}
    if price > rental.auto_renew_max_price:
        return None, _("the price, %(price)s USD, is above the ceiling of %(ceiling)s USD.") % figures
    if balance < price:
        return None, _("the account's balance, %(balance)s USD, does not cover the price of %(price)s USD.") % figures
    return price, ""


def _record_refusal(rental: Rental, nonce: uuid.UUID, problem: str, *, token: str) -> bool:
    """Keep the refusal as a failed extension under the renewal's nonce: it is announced once."""
    try:
        with transaction.atomic():
            RentalExtension.objects.create(
                nonce=nonce, rental=rental, hours=rental.auto_renew_hours, state=AttemptState.FAILED,
                error_token=token, error_detail=problem[:1000], old_rent_id=rental.provider_rent_id,
                finished_at=timezone.now(), requested_by=rental.auto_renew_by, automatic=True,
            )  # fmt: skip
    except IntegrityError:
        return False
    return True


def auto_renew_cut_short(rental: Rental, *, sent: bool) -> None:
    """An auto-renewal whose process stopped part-way (``attempts_resolve_stale``). Its nonce is spent, so
    no later run renews the rental for this end date: its people must hear."""
    with team_language():
        if sent:
            what = _(
                "Auto-renew stopped after asking SMS.online to extend the rental (the process stopped). SMS.online "
                "may have extended it and charged: reconciliation then moves the end date on the rental's page "
                "within minutes. If SMS.online shows it was not extended, mark the extension so under Extensions, "
                "then extend the rental by hand."
            )
        else:
            what = _("Auto-renew stopped before anything was sent (the process stopped); nothing was charged.")
        _alarm(rental, what)


def _alarm(rental: Rental, what: str, *, also: AbstractBaseUser | None = None) -> None:
    """Tell people, and keep it where ops look (Error events, the dashboard) should mail fail."""
    ErrorEvent.objects.create(
        account=rental.account, operation="auto-renew", token="AUTO_RENEW_FAILED", detail=f"{rental}: {what}"
    )
    recipients = rental_people(rental, rental.auto_renew_by or also)
    try:
        notify(notices.auto_renew_alarm(rental, what=what), recipients=recipients)
    except Exception:
        logger.exception("auto-renew alarm for rental %s could not be sent", rental.pk)
