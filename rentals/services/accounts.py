"""Provider accounts: keys, health (state, balance) and the record of what went wrong."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import metrics
from ..crypto import ApiKeyUnreadable
from ..models import AccountEvent, AccountState, ErrorEvent, ProviderAccount, RentAttempt
from ..notice_sending import notify
from ..outcomes import Operation, Outcome, State, Token
from ..provider.client import AccountMemory, ClientConfig, SmsOnlineClient
from ..provider.destinations import UrlRefusal, destination_refusal, normalised_hosts, url_origin
from ..provider.errors import AccountBanned, AccountError, KeyUnreadable, ProviderError, ProviderUnreachable
from ..wording import notices
from ..wording.pages import url_refusal
from .followups import balance_check_started, provider_data_refresh_soon

logger = logging.getLogger(__name__)


def provider_client_for(account: ProviderAccount) -> SmsOnlineClient:
    """A client for the account. Raises ``KeyUnreadable``, a ``ProviderError`` like any other request's
    (nothing sent), when the stored key cannot be decrypted."""
    config = ClientConfig(
        api_url=account.api_url,
        connect_timeout=settings.SMSONLINE_CONNECT_TIMEOUT,
        read_timeout=settings.SMSONLINE_TIMEOUT,
        provider_tz=ZoneInfo(settings.PROVIDER_TIMEZONE),
        key_origin=account.api_key_origin,
        allowed_hosts=normalised_hosts(settings.SMSONLINE_ALLOWED_HOSTS),
        require_https=settings.SMSONLINE_REQUIRE_HTTPS,
    )
    try:
        api_key = account.reveal_api_key()
    except ApiKeyUnreadable as unreadable:
        raise KeyUnreadable(detail=str(unreadable)) from None
    return SmsOnlineClient(api_key=api_key, config=config, memory=_SavedMemory(account))


class _SavedMemory(AccountMemory):
    """Keeps what the client learns on the account row, for every process and every later client (and on
    the instance, which callers reuse for further clients)."""

    def __init__(self, account: ProviderAccount) -> None:
        super().__init__(actions=account.provider_actions, wait_until=account.rate_limited_until)
        self._account = account

    def action_learned(self, operation: str, action: str) -> None:
        super().action_learned(operation, action)
        with transaction.atomic():
            locked = ProviderAccount.objects.select_for_update().filter(pk=self._account.pk).first()
            actions = {**(locked.provider_actions if locked else {}), operation: action}
            ProviderAccount.objects.filter(pk=self._account.pk).update(provider_actions=actions)
        self._account.provider_actions = actions

    def rate_limited(self, until: datetime) -> None:
        super().rate_limited(until)
        ProviderAccount.objects.filter(pk=self._account.pk).update(rate_limited_until=until)
        self._account.rate_limited_until = until

    def answered(self, action: str, outcome: str) -> None:
        metrics.provider_call_answered(account=self._account.name, action=action, outcome=outcome)


def api_url_problem(api_url: str) -> UrlRefusal | None:
    """Why an account may not send its key to ``api_url``, or None (``wording.pages.url_refusal`` words it).
    Shared by the admin and the CLI; the client checks again before every request."""
    return destination_refusal(
        api_url,
        allowed_hosts=normalised_hosts(settings.SMSONLINE_ALLOWED_HOSTS),
        require_https=settings.SMSONLINE_REQUIRE_HTTPS,
    )


def key_needed_for(account: ProviderAccount, api_url: str) -> bool:
    """True when moving the account to ``api_url`` would send its key to another scheme, host or port."""
    return url_origin(api_url) != account.api_key_origin


def account_create(
    *, name: str, api_url: str, api_key: str, monthly_budget: str | Decimal | None = None
) -> ProviderAccount:
    """Raises ``ValidationError`` for a bad name, URL or budget, including a URL the key may not be sent to."""
    if problem := api_url_problem(api_url):
        raise ValidationError({"api_url": [url_refusal(problem)]})
    account = ProviderAccount(name=name, api_url=api_url, monthly_budget=monthly_budget)
    account.set_api_key(api_key)
    account.full_clean()
    account.save()
    provider_data_refresh_soon(account)
    return account


def account_set_api_key(*, account: ProviderAccount, api_key: str, api_url: str | None = None) -> None:
    """Store a new key (encrypted), for ``api_url`` when given (the account moves there), else for the
    account's current URL; a bad-key state no longer applies to it. Raises ``ValidationError`` for a
    URL the key may not be sent to. Its balance and the catalog are read soon after."""
    fields = ["api_key_ciphertext", "api_key_hint", "api_key_changed_at", "api_key_origin", "updated_at"]
    if api_url is not None and api_url != account.api_url:
        if problem := api_url_problem(api_url):
            raise ValidationError({"api_url": [url_refusal(problem)]})
        account.api_url = api_url
        fields.append("api_url")
    account.set_api_key(api_key)
    if account.state == AccountState.BAD_KEY:
        fields += _transition(account, state=AccountState.OK, cause="API key changed")
    account.save(update_fields=fields)
    provider_data_refresh_soon(account)


def account_reset_state(*, account: ProviderAccount, cause: str = "reset by staff") -> None:
    """Staff say the account has recovered (topped up, key fixed, ban lifted)."""
    fields = _transition(account, state=AccountState.OK, cause=cause)
    account.save(update_fields=[*fields, "updated_at"])


def account_record_error(
    *,
    account: ProviderAccount,
    error: ProviderError,
    operation: str,
    attempt: RentAttempt | None = None,
) -> None:
    """Keep the error where ops look; an account-level token also sets the account's state."""
    now = timezone.now()
    account.last_error_token, account.last_error_detail, account.last_error_at = error.token, error.detail, now
    fields = ["last_error_token", "last_error_detail", "last_error_at", "updated_at"]
    if isinstance(error, AccountError) and error.account_state is not None:
        banned_until = error.banned_until if isinstance(error, AccountBanned) else None
        cause = f"{error.token} from {operation}"
        fields += _transition(account, state=error.account_state, banned_until=banned_until, cause=cause)
    account.save(update_fields=fields)
    ErrorEvent.objects.create(
        account=account, operation=operation, token=error.token, detail=error.detail, attempt=attempt,
        sent=error.was_sent,
    )  # fmt: skip


def account_record_refusal(
    *, account: ProviderAccount, token: str, detail: str, attempt: RentAttempt | None = None,
    operation: str = "getRentNumber",
) -> None:  # fmt: skip
    """Rentdesk refused to send (the account cannot spend, a budget is reached): an error ops should see,
    not sent."""
    now = timezone.now()
    ProviderAccount.objects.filter(pk=account.pk).update(
        last_error_token=token, last_error_detail=detail, last_error_at=now, updated_at=now
    )
    ErrorEvent.objects.create(
        account=account, operation=operation, token=token, detail=detail, sent=False, attempt=attempt
    )


def account_change_state(
    *, account: ProviderAccount, state: str, cause: str, banned_until: datetime | None = None
) -> None:
    fields = _transition(account, state=state, banned_until=banned_until, cause=cause)
    account.save(update_fields=[*fields, "updated_at"])


def _transition(account: ProviderAccount, *, state: str, cause: str, banned_until: datetime | None = None) -> list[str]:
    """Set the state on the instance, record the change as an event, and name the fields to save."""
    if account.state != state or account.banned_until != banned_until:
        account.state_changed_at = timezone.now()
        AccountEvent.objects.create(
            account=account, kind=AccountEvent.Kind.STATE_CHANGED, old_state=account.state, new_state=state,
            cause=cause[:200],
        )  # fmt: skip
    account.state, account.banned_until = state, banned_until
    return ["state", "banned_until", "state_changed_at"]


def account_check_balance(*, account: ProviderAccount) -> Outcome:
    """Ask getBalance and record what it says: the outcome's ``balance``, or SMS.online's error (kept on
    the account too)."""
    try:
        balance = provider_client_for(account).get_balance()
    except ProviderError as error:
        with transaction.atomic():
            account_record_error(account=account, error=error, operation="getBalance")
        return Outcome.unanswered(Operation.BALANCE, error)
    with transaction.atomic():
        account.refresh_from_db(from_queryset=ProviderAccount.objects.select_for_update())
        account.balance, account.balance_checked_at = balance, timezone.now()
        fields = ["balance", "balance_checked_at", "updated_at", *_health_after_balance(account, balance)]
        account.save(update_fields=fields)
    _alert_low_balance_once(account=account, balance=balance)
    return Outcome(Operation.BALANCE, State.SUCCEEDED, balance=balance)


def _health_after_balance(account: ProviderAccount, balance: Decimal) -> list[str]:
    if balance <= 0 and account.state == AccountState.OK:
        return _transition(account, state=AccountState.NO_BALANCE, cause=f"getBalance: {balance}")
    if balance > 0 and account.state in (AccountState.NO_BALANCE, AccountState.BAD_KEY):
        # The key was accepted and there is money: both states are over.
        return _transition(account, state=AccountState.OK, cause=f"getBalance: {balance}")
    return []


def _alert_low_balance_once(*, account: ProviderAccount, balance: Decimal) -> None:
    """One alert per crossing below the threshold: the claim is the conditional update."""
    threshold = account.low_balance_threshold
    if threshold is None:
        return
    now = timezone.now()
    unalerted = ProviderAccount.objects.filter(pk=account.pk, low_balance_alerted_at__isnull=True)
    if balance < threshold:
        if unalerted.update(low_balance_alerted_at=now) == 1:
            try:
                _send_low_balance_alert(account, balance, threshold)
            except Exception:
                # Undo the claim, so the next check tries again rather than staying silent.
                ProviderAccount.objects.filter(pk=account.pk, low_balance_alerted_at=now).update(
                    low_balance_alerted_at=None
                )
                logger.exception("low-balance alert for account %s not sent", account.pk)
                return
            AccountEvent.objects.create(account=account, kind=AccountEvent.Kind.LOW_BALANCE, cause=f"balance {balance}")
    elif ProviderAccount.objects.filter(pk=account.pk, low_balance_alerted_at__isnull=False).update(
        low_balance_alerted_at=None
    ):
        recovered = AccountEvent.Kind.BALANCE_RECOVERED
        AccountEvent.objects.create(account=account, kind=recovered, cause=f"balance {balance}")


def _send_low_balance_alert(account: ProviderAccount, balance: Decimal, threshold: Decimal) -> None:
    notify(notices.low_balance(account, balance=balance, threshold=threshold), recipients=[])


def accounts_clear_expired_bans(*, now: datetime) -> int:
    """Accounts whose ban time has passed are OK again. Returns how many changed."""
    cleared = 0
    for account in ProviderAccount.objects.filter(state=AccountState.BANNED, banned_until__lte=now):
        with transaction.atomic():
            locked = ProviderAccount.objects.select_for_update().get(pk=account.pk)
            if locked.state == AccountState.BANNED and locked.banned_until and locked.banned_until <= now:
                account_change_state(account=locked, state=AccountState.OK, cause="ban time passed")
                cleared += 1
    return cleared


def account_refresh_health(*, account_id: int) -> Outcome:
    """The balance check of one account, scheduled or after spending. An outcome whose error is
    ``ProviderUnreachable`` was never sent: the task tries again."""
    balance_check_started(account_id)
    account = ProviderAccount.objects.filter(pk=account_id).first()
    if account is None:
        logger.info("balance check: account %s no longer exists", account_id)
        return Outcome(Operation.BALANCE, State.FAILED, Token.NOT_FOUND)
    outcome = account_check_balance(account=account)
    if outcome.error is not None and not isinstance(outcome.error, ProviderUnreachable):
        logger.info("balance check of account %s: %s", account.pk, outcome.token)
    return outcome
