"""The shapes the API reads and writes, as its OpenAPI schema documents them.

They declare types only: what a request means is checked by the operation's form (``rentals.forms``),
the same one the admin and the CLI use.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from ninja import Field, Schema


class SmsOut(Schema):
    id: int = Field(description="Pass it as `after` to wait for the SMS after this one.")
    sender: str
    text: str
    code: str = Field(description="The code found in the text, or empty.")
    received_at: datetime
    provider_date: datetime | None = Field(
        None, description="The date SMS.online gave it, when that lay in the future; it is ordered by received_at."
    )
    source: str = Field(description="How it reached Rentdesk first: webhook or poll.")


class RentalOut(Schema):
    id: int
    number: str = Field(description="Digits only, as SMS.online gives it, e.g. 380501234567.")
    label: str = Field(description="What the number is used for.")
    status: str = Field(description="active, finished, cancelled, revoked or expired.")
    service: str | None = Field(description="Service code, e.g. tg.")
    country: int | None = Field(description="SMS.online's country id.")
    operator: str
    hours: int
    end_date: datetime
    account: str
    assignee: str | None
    rented_by: str | None
    cost: Decimal | None = Field(description="USD paid: the rent and its extensions; 0 once refunded.")
    provider_rent_id: str
    created_at: datetime
    attention: str = Field(description="Something staff should look at, or empty.")
    lost: bool = Field(description="SMS.online no longer knows this rent: its SMS cannot be read.")
    last_sms_at: datetime | None
    last_sms_text: str | None = Field(description="null unless your account may read SMS.")
    last_sms_code: str | None = Field(description="null unless your account may read SMS.")


class RentalDetailOut(RentalOut):
    messages: list[SmsOut] | None = Field(description="Newest first; null unless your account may read SMS.")


class RentalListOut(Schema):
    count: int
    results: list[RentalOut]


class RentalFilters(Schema):
    status: Literal["active", "finished", "cancelled", "revoked", "expired"] | None = None
    account: str | None = Field(None, description="Account name.")
    service: str | None = Field(None, description="Service code.")
    country: int | None = Field(None, description="SMS.online's country id.")
    assignee: str | None = Field(None, description="Username of who takes care of it.")
    mine: Literal["assigned", "rented"] | None = Field(None, description="Assigned to me, or rented by me.")
    ending_within_hours: int | None = Field(None, ge=1, le=2160, description="Active and ending within this.")
    number: str | None = Field(
        None, max_length=30, description="A number in any spelling: the rentals whose number starts or ends with it."
    )
    q: str | None = Field(
        None,
        max_length=200,
        description="The inventory's search: a number in any spelling, or words of the label"
        " or notes (and of an SMS, for those who may read SMS).",
    )
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=10**9)  # more overflowed the database's integer: a server error


class WaitOut(Schema):
    sms: SmsOut | None = Field(description="The next SMS, or null when none came in time.")
    after: int = Field(description="Pass it as `after` next time, to wait for the SMS after this one.")


class RentIn(Schema):
    account: str = Field(description="Account name, as in the admin.")
    service: str = Field(description="Service code, e.g. tg.")
    country: int | str = Field(description="SMS.online's country id, e.g. 1.")
    operator: str = Field("any", description="Operator code, or any.")
    hours: int | str = Field(24, description="4, 8, 12, 24, 72, 168, 360, 720 or 2160.")
    label: str = Field("", description="What the number is used for (shown in the inventory).")
    webhook: bool = Field(True, description="Let SMS.online post each SMS to Rentdesk at once.")


class ExtendIn(Schema):
    hours: int | str = Field(24, description="4, 8, 12, 24, 72, 168, 360, 720 or 2160.")
    price: Decimal | None = Field(
        None,
        description="The price you were shown, kept with the extension. A budget counts the catalog's price "
        "instead when that is higher.",
    )


class ExtensionPriceOut(Schema):
    hours: int
    price: Decimal = Field(description="What SMS.online asks for extending by these hours now, in USD.")


class OutcomeOut(Schema):
    ok: bool
    state: str = Field(description="succeeded; failed (nothing charged); unknown (may have charged: do not "
                                   "simply retry); pending (the same request is still at SMS.online).")  # fmt: skip
    token: str = Field(description="Empty when all went as asked; else SMS.online's or Rentdesk's token.")
    error: str | None = Field(description="The token when not ok.")
    message: str
    replayed: bool = Field(description="This Idempotency-Key was seen before: this is the first request's outcome.")
    rental: RentalOut | None
    attempt: int | None = Field(description="The rent attempt's id (rent).")
    extension: int | None = Field(description="The extension's id (extend).")
    facts: dict[str, str] = Field(description="The numbers behind a refusal, e.g. a budget's cap and spend.")


class ErrorOut(Schema):
    error: str
    message: str
    fields: dict[str, list[str]] | None = None
    retry_after: int | None = Field(
        default=None, description="PROVIDER_BUSY: seconds until asking again may be answered."
    )
