"""The figures /metrics exports (rentals/metrics.py): rent attempts by outcome, each account's spend and
balance, and the webhook deliveries still to process."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import NamedTuple

from django.db.models import Count

from ..models import ProviderAccount, RentAttempt, WebhookDelivery
from .spend import spend_by_month


class AttemptOutcome(NamedTuple):
    state: str
    token: str  # SMS.online's token where it refused; empty otherwise
    count: int


def rent_attempts_by_outcome() -> list[AttemptOutcome]:
    """Every rent attempt ever made, counted by state and token (/metrics)."""
    rows = RentAttempt.objects.values_list("state", "error_token").annotate(count=Count("id")).order_by()
    return [AttemptOutcome(state, token, count) for state, token, count in rows]


class AccountFigures(NamedTuple):
    name: str
    spend: Decimal  # rents and extensions paid, refunds deducted
    balance: Decimal | None


def accounts_for_metrics() -> list[AccountFigures]:
    """Each provider account's spend and last known balance (/metrics)."""
    spend: dict[str, Decimal] = {}
    for row in spend_by_month(group="account", since=datetime.min.replace(tzinfo=UTC)):
        spend[row.group] = spend.get(row.group, Decimal(0)) + row.amount
    accounts = ProviderAccount.objects.order_by("name").values_list("name", "balance")
    return [AccountFigures(name, spend.get(name, Decimal(0)), balance) for name, balance in accounts]


def webhook_deliveries_unprocessed() -> int:
    return WebhookDelivery.objects.filter(processed_at__isnull=True).count()
