"""Read queries shared by the admin, the API, tasks and services, one module per thing read.

Every name is re-exported here: callers write ``selectors.rentals_inventory`` or
``from ..selectors import DuePolls`` whichever module holds it.
"""

from .accounts import account_ids_for_health_check
from .dashboard_panels import Dashboard, TelegramReading, dashboard, logins_locked_out, telegram_reading
from .inventory import (
    DIALLED_MIN_DIGITS,
    INVENTORY_ORDER,
    INVENTORY_RELATED,
    NUMBER_SEARCH_MIN_DIGITS,
    SMS_SEARCH_RENTALS,
    InventoryFilter,
    rentals_inventory,
    rentals_search,
)
from .metrics import (
    AccountFigures,
    AttemptOutcome,
    accounts_for_metrics,
    rent_attempts_by_outcome,
    webhook_deliveries_unprocessed,
)
from .polling import (
    AWAITING_CODE_FOR,
    EAGER_WHILE_YOUNGER_THAN,
    LOST_RECHECK_EVERY,
    POLL_CYCLE,
    POLL_EAGER_EVERY,
    POLL_IDLE_EVERY,
    DuePolls,
    awaiting_a_code,
    rentals_due_for_poll,
)
from .reminders import rentals_due_for_reminder
from .rent_form import RECENT_ATTEMPTS_SHOWN, last_rent_choice, offers_for_rent_form, rent_attempts_recent
from .sms import (
    LIVE_LIST_MAX_IDS,
    LIVE_SMS_SHOWN,
    NEW_CODES_MAX,
    desktop_notifications_on,
    live_last_sms,
    live_sms_of,
    new_codes_for,
    newest_sms_id,
    newest_sms_id_of,
)
from .spend import SPEND_GROUPS, CommittedSpend, SpendRow, committed_spend, spend_by_month
from .webhooks import rental_for_webhook

__all__ = [
    "AWAITING_CODE_FOR",
    "DIALLED_MIN_DIGITS",
    "EAGER_WHILE_YOUNGER_THAN",
    "INVENTORY_ORDER",
    "INVENTORY_RELATED",
    "LIVE_LIST_MAX_IDS",
    "LIVE_SMS_SHOWN",
    "LOST_RECHECK_EVERY",
    "NEW_CODES_MAX",
    "NUMBER_SEARCH_MIN_DIGITS",
    "POLL_CYCLE",
    "POLL_EAGER_EVERY",
    "POLL_IDLE_EVERY",
    "RECENT_ATTEMPTS_SHOWN",
    "SMS_SEARCH_RENTALS",
    "SPEND_GROUPS",
    "AccountFigures",
    "AttemptOutcome",
    "CommittedSpend",
    "Dashboard",
    "DuePolls",
    "InventoryFilter",
    "SpendRow",
    "TelegramReading",
    "account_ids_for_health_check",
    "accounts_for_metrics",
    "awaiting_a_code",
    "committed_spend",
    "dashboard",
    "desktop_notifications_on",
    "last_rent_choice",
    "live_last_sms",
    "live_sms_of",
    "logins_locked_out",
    "new_codes_for",
    "newest_sms_id",
    "newest_sms_id_of",
    "offers_for_rent_form",
    "rent_attempts_by_outcome",
    "rent_attempts_recent",
    "rental_for_webhook",
    "rentals_due_for_poll",
    "rentals_due_for_reminder",
    "rentals_inventory",
    "rentals_search",
    "spend_by_month",
    "telegram_reading",
    "webhook_deliveries_unprocessed",
]
