"""Monthly budgets: what an account or a person has spent this month, and the check that keeps a rent
or an extension within them.

Spend counts what SMS.online has charged or may still charge: rents (less the refunded ones,
cancelled or revoked) and extensions at their cost, and rent attempts and extensions whose outcome is
pending or unknown at the price quoted or the catalog's. So neither two rents at once nor an answer
that was lost can carry the spend past a budget.

The check runs in the transaction that records the attempt, with the account's row and the person's
budget row locked: two rents at once are checked one after the other, the second counting the first's
pending attempt. SQLite has no row locks, but its IMMEDIATE transactions serialise writers the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import (
    AttemptState,
    BudgetAlert,
    Country,
    Offer,
    PersonBudget,
    ProviderAccount,
    Rental,
    RentalExtension,
    RentalStatus,
    RentAttempt,
    Service,
)
from ..notice_sending import notify
from ..outcomes import Token
from ..raw_sql import row_read_afresh
from ..wording import notices
from .followups import BUDGETS_CHECK_TASK, task_queue_on_commit

logger = logging.getLogger(__name__)

ALERT_PERCENTS = (80, 100)
_MONEY = models.DecimalField(max_digits=14, decimal_places=4)
_ZERO = Value(Decimal(0), output_field=_MONEY)
_OPEN = [AttemptState.PENDING, AttemptState.UNKNOWN]  # may still have been charged
_REFUNDED = [RentalStatus.CANCELLED, RentalStatus.REVOKED]


@dataclass(frozen=True)
class Budget:
    """One budget this month: ``spent`` is what was spent or may still be charged."""

    scope: str  # "account" or "person"
    owner_id: int
    name: str
    cap: Decimal
    spent: Decimal
    month: date

    @property
    def key(self) -> str:
        return f"{self.scope}:{self.owner_id}"

    @property
    def percent(self) -> int:
        if self.cap <= 0:
            return 100 if self.spent > 0 else 0
        return int(self.spent * 100 / self.cap)

    @property
    def left(self) -> Decimal:
        return max(self.cap - self.spent, Decimal(0))


@dataclass(frozen=True)
class Refusal:
    """Why a rent or extension was refused: BUDGET_EXCEEDED, or PRICE_UNKNOWN when a budget applies
    but no price is known to check it with."""

    token: Token
    budget: Budget
    price: Decimal | None

    def facts(self) -> dict[str, str]:
        facts = {"budget": self.budget.scope, "budget_of": self.budget.name, "cap": f"{self.budget.cap:.2f}",
                 "spent": f"{self.budget.spent:.2f}", "month": f"{self.budget.month:%Y-%m}"}  # fmt: skip
        if self.price is not None:
            facts["price"] = f"{self.price:.2f}"
        return facts

    def detail(self) -> str:
        """For the attempt's record: the numbers as they were when it was refused."""
        budget = self.budget
        owner = _("Budget of account %(name)s") if budget.scope == "account" else _("Budget of person %(name)s")
        price = _("%(price)s USD") % {"price": f"{self.price:.2f}"} if self.price is not None else _("an unknown price")
        facts = {"owner": owner % {"name": budget.name}, "spent": f"{budget.spent:.2f}", "cap": f"{budget.cap:.2f}",
                 "month": f"{budget.month:%Y-%m}", "price": price}  # fmt: skip
        return (
            _("%(owner)s: %(spent)s of %(cap)s USD spent or committed in %(month)s; this costs %(price)s. Not sent.")
            % facts
        )


def month_start(now: datetime) -> datetime:
    """The first instant of ``now``'s calendar month, in Rentdesk's timezone (TIME_ZONE)."""
    return timezone.localtime(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(start: datetime) -> datetime:
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def account_set_budget(*, account: ProviderAccount, monthly_budget: str | Decimal | None) -> None:
    """Set (None or "": remove) the account's monthly budget. Raises ``ValidationError`` for an amount the
    admin's form would refuse too (the model field's checks)."""
    field = ProviderAccount._meta.get_field("monthly_budget")
    account.monthly_budget = None if monthly_budget in (None, "") else field.clean(monthly_budget, account)
    account.save(update_fields=["monthly_budget", "updated_at"])


def rent_price(*, service: Service | None, country: Country | None, hours: int) -> Decimal | None:
    """The catalog's price for renting (from the last catalog sync), or None when it is not known."""
    # One row at most (unique per service, country and hours): no ORDER BY, which SQLite may answer by
    # walking the table in id order instead of using that index.
    costs = Offer.objects.filter(service=service, country=country, hours=hours, cost__isnull=False)
    return next(iter(costs.values_list("cost", flat=True)[:1]), None)


def _catalog_cost(service: str, country: str) -> Subquery:
    offers = Offer.objects.filter(service=OuterRef(service), country=OuterRef(country), hours=OuterRef("hours"))
    return Subquery(offers.values("cost")[:1], output_field=_MONEY)


def _total(queryset: QuerySet, *amounts: object) -> Decimal:
    return queryset.aggregate(total=Sum(Coalesce(*amounts, _ZERO), output_field=_MONEY))["total"] or Decimal(0)


def budget_spent(
    *, since: datetime, account: ProviderAccount | None = None, person: AbstractBaseUser | None = None
) -> Decimal:
    """Spent or still chargeable in the month starting at ``since``, for an account, a person or both."""
    until = _next_month(since)
    rents = Rental.objects.filter(created_at__gte=since, created_at__lt=until).exclude(status__in=_REFUNDED)
    attempts = RentAttempt.objects.filter(created_at__gte=since, created_at__lt=until, state__in=_OPEN,
                                          rental__isnull=True)  # fmt: skip
    extensions = RentalExtension.objects.filter(
        created_at__gte=since, created_at__lt=until, state__in=[AttemptState.SUCCEEDED, *_OPEN]
    )
    if account is not None:
        rents, attempts = rents.filter(account=account), attempts.filter(account=account)
        extensions = extensions.filter(rental__account=account)
    if person is not None:
        rents, attempts = rents.filter(rented_by=person), attempts.filter(requested_by=person)
        extensions = extensions.filter(requested_by=person)
    # An extension's quote came back from a page or a script: it counts only where the catalog knows
    # no higher price. (Greatest is NULL on SQLite when either is; the fallbacks cover that.)
    quoted, catalog = F("price_quoted"), _catalog_cost("rental__service", "rental__country")
    return (
        _total(rents, F("cost"), _catalog_cost("service", "country"))
        + _total(attempts, _catalog_cost("service", "country"))
        + _total(extensions, F("cost"), Greatest(quoted, catalog), quoted, catalog)
    )


def budget_check(
    *, account: ProviderAccount, person: AbstractBaseUser | None, price: Decimal | None, now: datetime
) -> Refusal | None:
    """Whether spending ``price`` now keeps the account and the person within their budgets.

    Call it inside the transaction that then records the attempt: it locks the budgets it reads, so
    the attempt is counted before anyone else is checked.
    """
    return budget_refusal(budgets_locked(account=account, person=person, now=now), price)


def budgets_locked(*, account: ProviderAccount, person: AbstractBaseUser | None, now: datetime) -> list[Budget]:
    """The budgets that apply to a spend now, their rows locked until the transaction ends. ``account``
    is read afresh under its lock (its state too, for the caller's checks).

    A caller that needs a price only when a budget applies (the rent: a catalog read) asks for the
    budgets first, then ``budget_refusal``.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("budgets must be checked in the transaction that records the attempt.")
    # Always the account first, then the person: one order, so two checks never wait on each other.
    since = month_start(now)
    month = since.date()
    budgets = []
    row_read_afresh(account, lock=True)  # every rent reads it: one statement built once, not a queryset
    if account.monthly_budget is not None:
        spent = budget_spent(since=since, account=account)
        budgets.append(Budget("account", account.pk, account.name, account.monthly_budget, spent, month))
    if person is not None:
        row = PersonBudget.objects.select_for_update().filter(user=person).first()
        if row is not None:
            spent = budget_spent(since=since, person=person)
            budgets.append(Budget("person", person.pk, str(person), row.monthly_budget, spent, month))
    return budgets


def budget_refusal(budgets: list[Budget], price: Decimal | None) -> Refusal | None:
    """The first budget that ``price`` would carry past its cap, or that cannot be checked (no price)."""
    for budget in budgets:
        if price is None:
            return Refusal(Token.PRICE_UNKNOWN, budget, None)
        if budget.spent + price > budget.cap:
            return Refusal(Token.BUDGET_EXCEEDED, budget, price)
    return None


def budgets_of(*, account_id: int | None, person_id: int | None, now: datetime) -> list[Budget]:
    """The budgets that apply to this account and person this month, with their spend."""
    since = month_start(now)
    budgets = []
    account = ProviderAccount.objects.filter(pk=account_id, monthly_budget__isnull=False).first()
    if account is not None:
        spent = budget_spent(since=since, account=account)
        budgets.append(Budget("account", account.pk, account.name, account.monthly_budget, spent, since.date()))
    row = PersonBudget.objects.select_related("user").filter(user_id=person_id).first()
    if row is not None:
        spent = budget_spent(since=since, person=row.user)
        budgets.append(Budget("person", row.user_id, str(row.user), row.monthly_budget, spent, since.date()))
    return budgets


def budgets_usage(*, now: datetime) -> list[Budget]:
    """Every budget this month, accounts first, for the costs page."""
    accounts = ProviderAccount.objects.filter(monthly_budget__isnull=False).order_by("name")
    accounts = accounts.values_list("pk", flat=True)
    people = PersonBudget.objects.order_by("user__username").values_list("user_id", flat=True)
    return [
        *(budget for pk in accounts for budget in budgets_of(account_id=pk, person_id=None, now=now)),
        *(budget for pk in people for budget in budgets_of(account_id=None, person_id=pk, now=now)),
    ]


def budget_alert_soon(
    *, account: ProviderAccount, person: AbstractBaseUser | None, refusal: Refusal | None = None,
    spent_at: datetime | None = None,
) -> None:  # fmt: skip
    """After the spend changed (or a budget refused), check the alerts in a task, once committed:
    those of the month of ``spent_at``, the moment the spend counts from (by default now)."""
    person_id = person.pk if person is not None else None
    if account.monthly_budget is None and not PersonBudget.objects.filter(user_id=person_id).exists():
        return
    refused = refusal.budget.key if refusal is not None and refusal.token == Token.BUDGET_EXCEEDED else None
    try:
        # With the moment of the spend: a check that runs after midnight on the 1st is still about its month.
        task_queue_on_commit(
            BUDGETS_CHECK_TASK, account.pk, person_id, refused, (spent_at or timezone.now()).isoformat()
        )
    except Exception:
        # The next rent or extension checks again; the budget itself holds either way.
        logger.warning("could not queue the budget check of account %s", account.pk)


def budgets_alert(
    *, account_id: int | None, person_id: int | None, now: datetime, refused: str | None = None,
    spent_at: datetime | None = None,
) -> int:  # fmt: skip
    """Tell the team once per budget and month when it reaches 80% and 100%, or when it refused a rent
    or an extension (``refused`` names that budget: it is as good as reached). The month is that of
    ``spent_at``, the spend or refusal that asked for the check, when given.

    Returns how many alerts went out. Each is claimed by a unique row before it is sent; a send that
    fails gives its claim back, so the next check tries again.
    """
    sent = 0
    for budget in budgets_of(account_id=account_id, person_id=person_id, now=spent_at or now):
        reached = ALERT_PERCENTS if budget.key == refused else [p for p in ALERT_PERCENTS if budget.percent >= p > 0]
        claimed = [percent for percent in reached if _alert_claim(budget, percent, now)]
        if not claimed:
            continue
        try:
            _alert_send(budget, max(claimed), person_id)
        except Exception:
            BudgetAlert.objects.filter(scope=budget.key, month=budget.month, percent__in=claimed).delete()
            logger.exception("budget alert for %s not sent", budget.key)
            continue
        BudgetAlert.objects.filter(scope=budget.key, month=budget.month, percent__in=claimed).update(sent_at=now)
        sent += 1
    return sent


def _alert_claim(budget: Budget, percent: int, now: datetime) -> bool:
    try:
        with transaction.atomic():
            BudgetAlert.objects.create(scope=budget.key, month=budget.month, percent=percent, claimed_at=now)
    except IntegrityError:
        return False
    return True


def _alert_send(budget: Budget, percent: int, person_id: int | None) -> None:
    person = PersonBudget.objects.filter(user_id=person_id).select_related("user").first() if person_id else None
    notice = notices.budget_alert(scope=budget.scope, name=budget.name, cap=budget.cap, spent=budget.spent,
                                  percent=budget.percent, reached=percent >= 100, month=budget.month)  # fmt: skip
    notify(notice, recipients=[person.user.email] if person and budget.scope == "person" else [])
