"""Rentdesk's data. No HTTP and no side effects here: business operations live in ``services``."""

from .accounts import RATE_LIMITED_TOKEN, STATE_TOKENS, AccountEvent, AccountState, ProviderAccount, api_key_problem
from .api import ApiToken
from .budgets import BudgetAlert, PersonBudget
from .catalog import CatalogSync, Country, Offer, Operator, Service
from .choices import LastRentChoice
from .forwarding import ForwardingPreference, ForwardState, SmsForward
from .records import ErrorEvent
from .rentals import (
    ANY_OPERATOR,
    RENT_HOUR_CHOICES,
    RENT_HOURS,
    AttemptState,
    Rental,
    RentalExtension,
    RentalReminder,
    RentalStatus,
    RentAttempt,
    SmsMessage,
    SmsSource,
    WebhookDelivery,
    auto_renew_window_problem,
)
from .spend import SpendMonth, SpendSum
from .telegram import TelegramLink, TelegramLinkCode, TelegramPoll, TelegramRentOffer

__all__ = [
    "ANY_OPERATOR",
    "RATE_LIMITED_TOKEN",
    "RENT_HOURS",
    "RENT_HOUR_CHOICES",
    "STATE_TOKENS",
    "AccountEvent",
    "AccountState",
    "ApiToken",
    "AttemptState",
    "BudgetAlert",
    "CatalogSync",
    "Country",
    "ErrorEvent",
    "ForwardState",
    "ForwardingPreference",
    "LastRentChoice",
    "Offer",
    "Operator",
    "PersonBudget",
    "ProviderAccount",
    "RentAttempt",
    "Rental",
    "RentalExtension",
    "RentalReminder",
    "RentalStatus",
    "Service",
    "SmsForward",
    "SmsMessage",
    "SmsSource",
    "SpendMonth",
    "SpendSum",
    "TelegramLink",
    "TelegramLinkCode",
    "TelegramPoll",
    "TelegramRentOffer",
    "WebhookDelivery",
    "api_key_problem",
    "auto_renew_window_problem",
]
