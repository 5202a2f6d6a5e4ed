"""What an operation did, as data and a token: the one contract between services and entry points.

Every service that asks SMS.online returns an ``Outcome``: renting, extending, finishing, cancelling,
auto-renewing, and the requests that spend nothing (a poll for SMS, a balance, an extension's price).
The admin turns it into a message with ``wording.pages.describe``, the CLI prints that sentence or
the token, and the API answers the token, the state and the facts as JSON. Every token Rentdesk itself
answers with is in ``Token``, beside the provider's own (normalised by ``provider.parsing``);
``wording.tokens`` has the plain words for each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

# An outcome's state is its attempt's or extension's, as stored: one set of values, defined with the
# models' choices.
from .models import AttemptState as State

if TYPE_CHECKING:
    from .models import Rental, RentalExtension, RentAttempt
    from .provider.errors import ProviderError


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
    AUTO_RENEW = "auto-renew"
    # Requests that spend nothing.
    POLL = "poll"
    BALANCE = "balance"
    QUOTE = "quote"


# A request that spends nothing came back without an answer to go by (unreachable, busy, unreadable).
ASK_AGAIN_KINDS = ("transient", "unknown")


@dataclass(frozen=True)
class Outcome:
    """``state`` is an attempt's: succeeded, failed (nothing charged), unknown (may have charged) or
    pending (the same request is still at the provider). For a request that spends nothing, failed
    means SMS.online refused it, and unknown that no answer came to go by: ask again later.

    ``token`` is empty when all went as asked; ``error`` is SMS.online's, when it answered with one (its
    kind tells a task whether to retry); ``facts`` holds what the wording needs beyond the rows (a
    budget's numbers, the most hours). What a request found: ``new_messages`` and ``rent_state`` (a
    poll: how many SMS were new, and the rent's state at SMS.online), ``balance``, ``price`` (a quote).
    """

    operation: Operation
    state: State
    token: str = ""
    rental: Rental | None = None
    attempt: RentAttempt | None = None
    extension: RentalExtension | None = None
    repeated: bool = False
    facts: Mapping[str, Any] = field(default_factory=dict)
    error: ProviderError | None = None
    new_messages: int = 0
    rent_state: str = ""
    balance: Decimal | None = None
    price: Decimal | None = None

    def __post_init__(self) -> None:
        # A state read back from a row is its plain value: the member itself, so ``is`` compares.
        object.__setattr__(self, "state", State(self.state))

    @property
    def ok(self) -> bool:
        return self.state is State.SUCCEEDED

    @classmethod
    def unanswered(cls, operation: Operation, error: ProviderError, **found: Any) -> Outcome:
        """A request that spends nothing, answered with ``error``."""
        state = State.UNKNOWN if error.kind in ASK_AGAIN_KINDS else State.FAILED
        return cls(operation, state, error.token, error=error, **found)
