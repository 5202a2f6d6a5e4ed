"""What an operation did, as data and a token: the one contract between services and entry points.

Renting, extending, finishing and cancelling return an ``Outcome``. The admin turns it into a
message with ``sentences.describe``, the CLI prints that sentence or the token, and the API answers
the token, the state and the facts as JSON. Every token Rentdesk itself answers with is in ``Token``,
beside the provider's own (normalised by ``provider.parsing``); ``explanations`` has the plain words
for each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Rental, RentalExtension, RentAttempt


class Token(StrEnum):
    """Tokens Rentdesk invents (the provider's come as it spells them, e.g. NO_BALANCE)."""

    # Refused before anything was sent to SMS.online.
    BUDGET_EXCEEDED = "BUDGET_EXCEEDED"
    PRICE_UNKNOWN = "PRICE_UNKNOWN"
    API_KEY_UNREADABLE = "API_KEY_UNREADABLE"
    RENTAL_ENDED = "RENTAL_ENDED"
    EXTENSION_OPEN = "EXTENSION_OPEN"
    RENTAL_CHANGED = "RENTAL_CHANGED"
    # A form another person sent already (its one-time nonce is theirs): their outcome is not shown.
    ANOTHER_PERSONS_FORM = "ANOTHER_PERSONS_FORM"
    BAD_ARGUMENTS = "BAD_ARGUMENTS"
    # The same request again while the first is still at the provider.
    PENDING = "PENDING"
    # Stopped before or after sending, by a process that died.
    NOT_SENT = "NOT_SENT"
    DUPLICATE_RENT_ID = "DUPLICATE_RENT_ID"
    # The API's own answers.
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    NOT_FOUND = "NOT_FOUND"
    TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
    TOO_MANY_INVALID_TOKENS = "TOO_MANY_INVALID_TOKENS"
    # The token's person must sign in with two factors and has no authenticator app set up.
    TWO_FACTOR_REQUIRED = "TWO_FACTOR_REQUIRED"
    WAIT_SLOTS_BUSY = "WAIT_SLOTS_BUSY"
    # SMS.online not asked now (the account's pace, or this web process's calls to it): nothing recorded.
    PROVIDER_BUSY = "PROVIDER_BUSY"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    BODY_TOO_LARGE = "BODY_TOO_LARGE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class Operation(StrEnum):
    RENT = "rent"
    EXTEND = "extend"
    FINISH = "finish"
    CANCEL = "cancel"


@dataclass(frozen=True)
class Outcome:
    """``state`` is an attempt's: succeeded, failed (nothing charged), unknown (may have charged) or
    pending (the same request is still at the provider). ``token`` is empty when all went as asked;
    ``facts`` holds what the wording needs beyond the rows (a budget's numbers, the most hours)."""

    operation: Operation
    state: str
    token: str = ""
    rental: Rental | None = None
    attempt: RentAttempt | None = None
    extension: RentalExtension | None = None
    repeated: bool = False
    facts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.state == "succeeded"
