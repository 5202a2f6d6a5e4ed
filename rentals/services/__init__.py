"""Business operations. Keyword-only, named <entity>_<verb>; each owns its transactions.

Admin, commands and tasks call these and nothing deeper: the provider's errors they catch
(``ProviderError``, ``ProviderUnreachable``, ``UnreadableWebhook``) are named here too, so no entry point
imports rentals.provider (the layers contract in pyproject.toml).
"""

from ..provider.errors import ProviderError, ProviderUnreachable
from ..provider.parsing import UnreadableWebhook
from .accounts import (
    account_change_state,
    account_check_balance,
    account_create,
    account_record_error,
    account_refresh_health,
    account_reset_state,
    account_set_api_key,
    accounts_clear_expired_bans,
    api_url_problem,
    key_needed_for,
    provider_client_for,
)
from .assigning import rentals_claim, rentals_follow, rentals_release, rentals_unfollow
from .budgets import Budget, account_set_budget, budget_spent, budgets_alert, budgets_usage, month_start
from .catalog import CatalogChunk, catalog_sync, catalog_sync_chunk, catalog_sync_start
from .ending import CANCEL_WINDOW, cancel_deadline, rental_cancel, rental_finish
from .expiry import rentals_expire
from .extending import extension_outcome_for, extensions_mark_not_charged, rental_extend, rental_extension_quote
from .followups import stale_provider_data, webhooks_process_soon
from .forwarding import ChatUnavailable, forward_destinations, forwards_to_requeue, sms_forward, telegram_links_for
from .kept_webhooks import kept_webhooks_store, kept_webhooks_store_soon, webhook_keep
from .key_rotation import KeysNotRotated, accounts_rotate_keys
from .people import PersonRefused, person_allowed, person_leave, person_was_active_staff
from .polling import account_poll, polls_per_cycle, polls_split, rental_check_sms, rental_mark_ended, rental_poll
from .reconciling import ReconcileResult, account_ids_to_reconcile, account_reconcile
from .reminders import nearest_threshold, reminders_send_due
from .renewing import (
    AUTO_RENEW_SETTINGS,
    auto_renew_owner_leaving,
    auto_renew_settings_changed,
    renewal_nonce,
    rental_auto_renew,
    rentals_due_for_renewal,
    rentals_set_auto_renew,
)
from .rent_choice import rent_choice_remember
from .renting import (
    attempts_mark_not_charged,
    attempts_resolve_stale,
    rent_outcome_for,
    rental_rent,
    webhook_url_for,
)
from .retention import Purged, records_purge
from .sms import extract_code, sms_record
from .spend import SUMMARY_GRACE, spend_month_summarise, spend_months_summarise, spend_of_rental_changed
from .telegram_bot import telegram_update_answer, telegram_updates_read
from .telegram_links import (
    LINK_CODE_LIFETIME,
    telegram_bot_name,
    telegram_chat_refused,
    telegram_codes_on,
    telegram_codes_set,
    telegram_link_by_code,
    telegram_link_code_create,
    telegram_link_of,
    telegram_refused_at,
    telegram_unlink,
)
from .telegram_push import telegram_sms_push
from .telegram_webhook import (
    telegram_update_answer_once,
    telegram_webhook_checks,
    telegram_webhook_delete,
    telegram_webhook_set,
    telegram_webhook_url,
)
from .turns import ProviderBusy
from .webhooks import (
    UnknownWebhookToken,
    webhook_ids_to_requeue,
    webhook_process,
    webhook_store,
    webhooks_process,
)

__all__ = [
    "AUTO_RENEW_SETTINGS",
    "CANCEL_WINDOW",
    "LINK_CODE_LIFETIME",
    "SUMMARY_GRACE",
    "Budget",
    "CatalogChunk",
    "ChatUnavailable",
    "KeysNotRotated",
    "PersonRefused",
    "ProviderBusy",
    "ProviderError",
    "ProviderUnreachable",
    "Purged",
    "ReconcileResult",
    "UnknownWebhookToken",
    "UnreadableWebhook",
    "account_change_state",
    "account_check_balance",
    "account_create",
    "account_ids_to_reconcile",
    "account_poll",
    "account_reconcile",
    "account_record_error",
    "account_refresh_health",
    "account_reset_state",
    "account_set_api_key",
    "account_set_budget",
    "accounts_clear_expired_bans",
    "accounts_rotate_keys",
    "api_url_problem",
    "attempts_mark_not_charged",
    "attempts_resolve_stale",
    "auto_renew_owner_leaving",
    "auto_renew_settings_changed",
    "budget_spent",
    "budgets_alert",
    "budgets_usage",
    "cancel_deadline",
    "catalog_sync",
    "catalog_sync_chunk",
    "catalog_sync_start",
    "extension_outcome_for",
    "extensions_mark_not_charged",
    "extract_code",
    "forward_destinations",
    "forwards_to_requeue",
    "kept_webhooks_store",
    "kept_webhooks_store_soon",
    "key_needed_for",
    "month_start",
    "nearest_threshold",
    "person_allowed",
    "person_leave",
    "person_was_active_staff",
    "polls_per_cycle",
    "polls_split",
    "provider_client_for",
    "records_purge",
    "reminders_send_due",
    "renewal_nonce",
    "rent_choice_remember",
    "rent_outcome_for",
    "rental_auto_renew",
    "rental_cancel",
    "rental_check_sms",
    "rental_extend",
    "rental_extension_quote",
    "rental_finish",
    "rental_mark_ended",
    "rental_poll",
    "rental_rent",
    "rentals_claim",
    "rentals_due_for_renewal",
    "rentals_expire",
    "rentals_follow",
    "rentals_release",
    "rentals_set_auto_renew",
    "rentals_unfollow",
    "sms_forward",
    "sms_record",
    "spend_month_summarise",
    "spend_months_summarise",
    "spend_of_rental_changed",
    "stale_provider_data",
    "telegram_bot_name",
    "telegram_chat_refused",
    "telegram_codes_on",
    "telegram_codes_set",
    "telegram_link_by_code",
    "telegram_link_code_create",
    "telegram_link_of",
    "telegram_links_for",
    "telegram_refused_at",
    "telegram_sms_push",
    "telegram_unlink",
    "telegram_update_answer",
    "telegram_update_answer_once",
    "telegram_updates_read",
    "telegram_webhook_checks",
    "telegram_webhook_delete",
    "telegram_webhook_set",
    "telegram_webhook_url",
    "webhook_ids_to_requeue",
    "webhook_keep",
    "webhook_process",
    "webhook_store",
    "webhook_url_for",
    "webhooks_process",
    "webhooks_process_soon",
]
