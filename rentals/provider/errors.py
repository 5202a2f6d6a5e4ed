"""The typed tree of provider outcomes that are not a success.

One class per token family. Each error carries the normalised token, the provider's detail, the
HTTP status and a redacted, shortened copy of the body, and says what it means for the caller:
``kind`` is one of ``request`` (fix the request), ``integration`` (a bug on one side),
``account`` (the account cannot spend until it recovers), ``transient`` (try again later) or
``unknown`` (the provider may have acted: for a call that spends money, "maybe charged").
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import ClassVar

UNKNOWN_OUTCOME = "UNKNOWN_OUTCOME"
PROVIDER_UNREACHABLE = "PROVIDER_UNREACHABLE"
RATE_LIMITED = "RATE_LIMITED"
API_KEY_UNREADABLE = "API_KEY_UNREADABLE"


class ProviderError(Exception):
    kind: ClassVar[str] = "unknown"
    default_token: ClassVar[str] = UNKNOWN_OUTCOME

    def __init__(
        self,
        token: str | None = None,
        detail: str = "",
        *,
        http_status: int | None = None,
        raw_body: str = "",
    ) -> None:
        self.token = storable_text(token or self.default_token)
        self.detail = storable_text(detail)
        self.http_status = http_status
        self.raw_body = storable_text(raw_body)
        super().__init__(self.token)

    def __str__(self) -> str:
        # Built on demand from the current fields, so a detail redacted after construction stays so.
        return f"{self.token}: {self.detail}" if self.detail else self.token

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self!s})"

    @property
    def is_unknown_outcome(self) -> bool:
        return self.kind == "unknown"

    @property
    def was_sent(self) -> bool:
        """False when the request never reached the provider, so it cannot have acted on it."""
        return True


def storable_text(text: str) -> str:
    """Text any database column takes: no NUL characters, no lone surrogates."""
    return text.replace("\x00", "").encode("utf-8", errors="replace").decode("utf-8")


# What the family writes after a token or in errorMsg/info: a date, a number, a few words.
_PROVIDER_DETAIL = re.compile(r"[\w .,:;'\"{}()\[\]+-]{0,100}")
_HOST_NAME = re.compile(r"[\w-]+\.[^\W\d_]{2,}")


def provider_detail(text: str) -> str:
    """A detail from a reply, as kept where staff (viewers included) read it: short and shaped like
    the provider's own. Anything else (a web page's text, a link, a host name) is left out, so a
    hostile or broken server cannot put its words in front of staff."""
    text = " ".join(text.split())
    if _PROVIDER_DETAIL.fullmatch(text) and not _HOST_NAME.search(text):
        return text
    return f"(a detail of {len(text)} characters, not shown)"


class RequestRejected(ProviderError):
    """The provider refused these parameters (country, service, time, operator); nothing spent."""

    kind = "request"


class IntegrationError(ProviderError):
    """A request the provider could not read as sent: a bug on one side, not the rent's or the account's
    fault. ``NO_ID_RENT``: it saw no rent id in a request that carried one."""

    kind = "integration"


class UnknownAction(IntegrationError):
    """``BAD_ACTION``: the provider does not know the action we sent (an older member may know it by
    another name: see the client's ``ACTION_NAMES``)."""


class NoNumbers(ProviderError):
    """No number in stock for this service, country and operator right now."""

    kind = "transient"


class ProviderUnreachable(ProviderError):
    """The connection could not be opened, so the request never reached the provider."""

    kind = "transient"
    default_token = PROVIDER_UNREACHABLE

    @property
    def was_sent(self) -> bool:
        return False


class RateLimited(ProviderError):
    """HTTP 429, whatever the body: the provider refused the request before handling it, so nothing was
    done or charged (contract section 6). ``retry_until`` is when the account may ask again.

    Also raised without sending while an earlier 429's wait has not run out (``sent`` False).
    """

    kind = "transient"
    default_token = RATE_LIMITED

    def __init__(self, *args: object, retry_until: datetime, sent: bool = True, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.retry_until = retry_until
        self.sent = sent

    @property
    def was_sent(self) -> bool:
        return self.sent


class UnknownOutcome(ProviderError):
    """No answer could be read (timeout, reset, HTML, empty, truncated) or a server-side error.

    The provider may have carried the request out: a rent may have been charged.
    """

    kind = "unknown"


class AccountError(ProviderError):
    """The token describes the account, not the request: spending on it is pointless for now."""

    kind = "account"
    account_state: ClassVar[str | None]  # the state it puts the account in; None leaves the state as it is


class BadKey(AccountError):
    account_state = "bad_key"


class KeyNotForThisUrl(BadKey):
    """The account's API URL moved to another scheme, host or port since its key was entered: the
    key is not sent there until someone enters it again. Nothing was sent."""

    default_token = "API_KEY_NOT_FOR_URL"

    @property
    def was_sent(self) -> bool:
        return False


class KeyUnreadable(AccountError):
    """The account's stored API key cannot be decrypted with API_KEY_ENCRYPTION_KEYS (``rentals.crypto``):
    no request of the account can go until that key is restored or the API key is entered again.
    Nothing was sent. The account's state stays as it is: the fault is Rentdesk's, SMS.online said nothing."""

    default_token = API_KEY_UNREADABLE
    account_state = None

    @property
    def was_sent(self) -> bool:
        return False


class DestinationRefused(ProviderError):
    """The API URL is not one Rentdesk sends a key to (plain http where https is required, or a
    loopback, private, link-local or metadata address not allowed). Nothing was sent."""

    kind = "request"
    default_token = "API_URL_REFUSED"

    @property
    def was_sent(self) -> bool:
        return False


class AccountBanned(AccountError):
    """``BANNED:'<date>'``: the account may not rent until that time."""

    account_state = "banned"

    def __init__(self, *args: object, banned_until: datetime, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.banned_until = banned_until


class AccountBlocked(AccountError):
    """Blocked with no end date (``CHANNELS_LIMIT``, or ``BANNED`` without a readable date)."""

    account_state = "blocked"


class AccountInactive(AccountError):
    account_state = "inactive"


class NoBalance(AccountError):
    account_state = "no_balance"


class RentStatusReply(ProviderError):
    """A getRentStatus answer in token form (waiting, finished, cancelled, revoked): not a failure there.

    Any other action answering one of these has said something Rentdesk cannot read: unknown.
    """

    kind = "unknown"


class RentLifecycleError(ProviderError):
    """Refusals about an existing rent (status, cancel, extend); nothing spent."""

    kind = "request"


class RentUnknown(RentLifecycleError):
    """``INVALID_PHONE``: the id is not this key's rent, or no longer known. For a rent id Rentdesk
    sent, the provider has lost the rent."""


class ExtensionTooLong(RentLifecycleError):
    """``MAX_HOURS_EXCEED``: the rent cannot be extended by that much; ``max_hours`` is the most it can
    (the JSON form's ``info.max``, or a bare number after the token), None when the provider did not
    say. The detail then reads ``max N h``, Rentdesk's own words, whatever the provider wrote."""

    def __init__(self, *args: object, max_hours: int | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.max_hours = max_hours
        if max_hours is not None:
            self.detail = f"max {max_hours} h"

    @staticmethod
    def max_hours_in(detail: str) -> int | None:
        """The most hours, from a detail this class wrote (a stored extension's, say)."""
        match = re.fullmatch(r"max ([0-9]{1,9}) h", detail)
        return int(match.group(1)) if match else None


class CancelTooEarly(RentLifecycleError):
    """``EARLY_CANCEL_DENIED``: some clones refuse a cancel in the first minutes; it works later."""

    kind = "transient"


TOKEN_CLASSES: dict[str, type[ProviderError]] = {
    "BAD_ACTION": UnknownAction,
    "BAD_KEY": BadKey,
    "NO_KEY": BadKey,
    "NOT_AUTHORIZED": BadKey,
    "ERROR_SQL": UnknownOutcome,
    "SERVER_ERROR": UnknownOutcome,
    "ACCOUNT_INACTIVE": AccountInactive,
    "CHANNELS_LIMIT": AccountBlocked,
    "BAD_COUNTRY": RequestRejected,
    "BAD_SERVICE": RequestRejected,
    "INVALID_TIME": RequestRejected,
    "WRONG_OPERATOR": RequestRejected,
    "NO_BALANCE": NoBalance,
    "NO_NUMBERS": NoNumbers,
    "NO_ID_RENT": IntegrationError,
    "INVALID_PHONE": RentUnknown,
    "EARLY_CANCEL_DENIED": CancelTooEarly,
    "RENT_DIE": RentLifecycleError,
    "MAX_HOURS_EXCEED": ExtensionTooLong,
    "CANT_CANCEL": RentLifecycleError,
    "ALREADY_FINISH": RentLifecycleError,
    "ALREADY_CANCEL": RentLifecycleError,
    "INCORECT_STATUS": RentLifecycleError,
    "STATUS_WAIT_CODE": RentStatusReply,
    "STATUS_FINISH": RentStatusReply,
    "STATUS_CANCEL": RentStatusReply,
    "STATUS_REVOKE": RentStatusReply,
}


def error_for_token(
    token: str,
    detail: str = "",
    *,
    banned_until: datetime | None = None,
    max_hours: int | None = None,
    http_status: int | None = None,
    raw_body: str = "",
) -> ProviderError:
    """Map a normalised token to its error; unknown tokens keep their name as an unknown outcome."""
    extra = {"http_status": http_status, "raw_body": raw_body}
    if token == "BANNED":
        if banned_until is not None:
            return AccountBanned(token, detail, banned_until=banned_until, **extra)
        return AccountBlocked(token, detail, **extra)
    if token == "MAX_HOURS_EXCEED":
        return ExtensionTooLong(token, detail, max_hours=max_hours, **extra)
    error_class = TOKEN_CLASSES.get(token, UnknownOutcome)
    return error_class(token, detail, **extra)
