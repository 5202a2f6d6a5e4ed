"""The rest of a rent's life on the provider's side (contract section 4): status and SMS, finish and
cancel, the rent list, extension and its price, the catalog, plus what the control plane does to rents."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from .wire import Reply, json_reply

if TYPE_CHECKING:
    from .state import SimRent, SimulatorState

CANCEL_WINDOW = timedelta(minutes=20)
MAX_TOTAL_HOURS = 2160 * 2  # a rent may be extended up to this many hours in all
RENT_LIST_LENGTH = 10
USD = 840  # ISO 4217 number: the family's replies name their currency this way
ENDED_TOKENS = {"finished": "STATUS_FINISH", "cancelled": "STATUS_CANCEL", "revoked": "STATUS_REVOKE"}


def phone_reply(state: SimulatorState, rent: SimRent) -> Reply:
    phone = {"id": rent.id, "endDate": state.wall_clock(rent.end_date, "%Y-%m-%dT%H:%M:%S"), "number": rent.number}
    return json_reply({"status": "success", "phone": {**phone, "cost": float(rent.cost)}})


def _own_rent(state: SimulatorState, api_key: str, params: dict[str, str]) -> SimRent | Reply:
    """The rent named by ``id``: NO_ID_RENT when no id was sent, INVALID_PHONE when it is not this key's."""
    rent_id = params.get("id", "").strip()
    if not rent_id:
        return state.dialect.rent_error("NO_ID_RENT")
    rent = state.rents.get(int(rent_id)) if rent_id.isascii() and rent_id.isdigit() else None
    if rent is None or rent.api_key != api_key:
        return state.dialect.rent_error("INVALID_PHONE")
    return rent


def get_rent_status(state: SimulatorState, api_key: str, params: dict[str, str]) -> Reply:
    rent = _own_rent(state, api_key, params)
    if isinstance(rent, Reply):
        return rent
    status = rent.state_at(state.now())
    if status != "active":
        return state.dialect.rent_error(ENDED_TOKENS[status])
    if not rent.sms:
        return state.dialect.rent_error("STATUS_WAIT_CODE")
    page = int(params["page"]) if _digits(params.get("page", "")) else 0
    size = int(params["size"]) if _digits(params.get("size", "")) and int(params["size"]) > 0 else 10
    newest_first = list(reversed(rent.sms))[page * size : (page + 1) * size]
    values = [
        {"phoneFrom": sms.sender, "text": sms.text, "service": rent.service, "date": state.wall_clock(sms.date)}
        for sms in newest_first
    ]
    return json_reply({"status": "success", "quantity": str(len(rent.sms)), "values": state.dialect.values_of(values)})


def set_rent_status(state: SimulatorState, api_key: str, params: dict[str, str]) -> Reply:
    rent = _own_rent(state, api_key, params)
    if isinstance(rent, Reply):
        return rent
    now, requested = state.now(), params.get("status", "")
    current = rent.state_at(now)
    if requested not in ("1", "2"):
        return state.dialect.rent_error("INCORECT_STATUS")
    if current in ("finished", "revoked"):
        return state.dialect.rent_error("ALREADY_FINISH")
    if current == "cancelled":
        return state.dialect.rent_error("ALREADY_CANCEL")
    if requested == "2":
        if now - rent.created_at < timedelta(seconds=state.dialect.early_cancel_denied_seconds):
            return state.dialect.rent_error("EARLY_CANCEL_DENIED")
        if now - rent.created_at > CANCEL_WINDOW:
            return state.dialect.rent_error("CANT_CANCEL")
        _refund(state, rent, "cancelled")
    else:
        rent.state = "finished"
    return json_reply({"status": "success"})


def _refund(state: SimulatorState, rent: SimRent, new_state: str) -> None:
    """Cancelled or revoked: everything paid for the rent comes back, its extensions included."""
    state.account_for(rent.api_key).balance += rent.paid
    rent.paid, rent.state = Decimal(0), new_state


def get_rent_list(state: SimulatorState, api_key: str, params: dict[str, str]) -> Reply:
    """The key's rents, newest first, ten a page (``page``, 0-based); past the last page, NO_NUMBERS."""
    mine = [rent for rent in state.rents.values() if rent.api_key == api_key]
    page = int(params["page"]) if _digits(params.get("page", "")) else 0
    newest_first = sorted(mine, key=lambda rent: rent.id, reverse=True)
    latest = newest_first[page * RENT_LIST_LENGTH : (page + 1) * RENT_LIST_LENGTH]
    if not latest:
        return state.dialect.rent_error("NO_NUMBERS")
    values = [
        {"id": str(rent.id), "phone": rent.number, "price": f"{rent.cost:.2f}", "hours": str(rent.hours)}
        for rent in latest
    ]
    return json_reply({"status": "success", "values": state.dialect.values_of(values)})


def _extension(
    state: SimulatorState, api_key: str, params: dict[str, str], *, default_hours: int | None = None
) -> tuple[SimRent, int, Decimal] | Reply:
    from .state import hours_param, price_of

    rent = _own_rent(state, api_key, params)
    if isinstance(rent, Reply):
        return rent
    hours = hours_param(params, default=default_hours)
    if hours is None:
        return state.dialect.rent_error("INVALID_TIME")
    if rent.state_at(state.now()) in ("cancelled", "revoked"):
        return state.dialect.rent_error("RENT_DIE")
    if rent.hours + hours > MAX_TOTAL_HOURS:
        return state.dialect.rent_error("MAX_HOURS_EXCEED", info={"max": MAX_TOTAL_HOURS - rent.hours})
    return rent, hours, price_of(rent.service, hours)


def continue_rent_info(state: SimulatorState, api_key: str, params: dict[str, str]) -> Reply:
    """The current name of the extension price (``id``, ``hours``, ``needHistory``)."""
    checked = _extension(state, api_key, params)
    if isinstance(checked, Reply):
        return checked
    rent, hours, price = checked
    reply: dict[str, object] = {
        "status": "success", "price": float(price), "currency": USD, "hours": hours,
        "maxHours": MAX_TOTAL_HOURS - rent.hours,
    }  # fmt: skip
    if params.get("needHistory", "").lower() in ("1", "true"):
        reply["history"] = [{"hours": rent.hours, "price": float(rent.paid), "currency": USD}]
    return json_reply(reply)


def get_continue_rent_price_number(state: SimulatorState, api_key: str, params: dict[str, str]) -> Reply:
    """The older name (``id``, ``rent_time``): the official Python client sends no time, meaning 4 hours."""
    checked = _extension(state, api_key, params, default_hours=4)
    if isinstance(checked, Reply):
        return checked
    return json_reply({"status": "success", "price": float(checked[2]), "currency": USD})


def continue_rent_number(state: SimulatorState, api_key: str, params: dict[str, str]) -> Reply:
    checked = _extension(state, api_key, params)
    if isinstance(checked, Reply):
        return checked
    rent, hours, cost = checked
    account = state.account_for(api_key)
    if account.balance < cost:
        return state.dialect.rent_error("NO_BALANCE")
    account.balance -= cost
    now = state.now().replace(microsecond=0)
    if rent.state_at(now) == "finished":
        # A finished rent is ordered again under a new id (contract section 4); the old id still
        # answers, as the finished rent it is.
        rent.state = "finished"
        rent = replace(
            rent, id=state.next_rent_id, state="active", created_at=now, end_date=now + timedelta(hours=hours),
            hours=rent.hours + hours, cost=cost, paid=cost, sms=[],
        )  # fmt: skip
        state.rents[rent.id] = rent
        state.next_rent_id += 1
    else:
        rent.end_date += timedelta(hours=hours)
        rent.hours += hours
        rent.cost = cost
        rent.paid += cost
    return phone_reply(state, rent)


def get_rent_prices(state: SimulatorState, api_key: str, params: dict[str, str]) -> Reply:
    from .state import SERVICES, country_and_hours, price_of

    where = country_and_hours(state, params)
    if isinstance(where, Reply):
        return where
    country, hours = where
    services = {
        code: {"cost": float(price_of(code, hours)), "count": state.stock_of(country, code)} for code in SERVICES
    }
    return json_reply({"status": "success", "values": {str(country): services}})


def get_rent_services_and_countries(state: SimulatorState, api_key: str, params: dict[str, str]) -> Reply:
    """The catalog in the form the official clients read (``rent_time`` or ``time``, ``operator``,
    ``country``); country 0 when none is named."""
    from .state import OPERATORS, SERVICES, country_and_hours, price_of

    where = country_and_hours(state, params, default_country=0)
    if isinstance(where, Reply):
        return where
    country, hours = where
    operator = params.get("operator") or "any"
    stock = {code: state.stock_of(country, code, operator) for code in SERVICES}
    if not any(stock.values()):
        return state.dialect.rent_error("NO_NUMBERS")
    dialect = state.dialect
    services = {
        code: {"cost": float(price_of(code, hours)), "quant": _quantity(count, dialect.quant)}
        for code, count in stock.items()
    }
    operators = ["any", *sorted(OPERATORS.get(country, ()))]
    return json_reply({
        dialect.countries_key: _listing([country], dialect.lists),
        "operators": _listing(operators, dialect.lists),
        "services": services,
        "currency": USD,
    })  # fmt: skip


def _quantity(count: int, form: str) -> object:
    return {"current": count, "total": count} if form == "object" else count


def _listing(items: list[object], form: str) -> object:
    return items if form == "array" else {str(index): item for index, item in enumerate(items)}


# --- what the control plane does -------------------------------------------------------------


def inject_sms(
    state: SimulatorState, rent_id: int, sender: str, text: str, *, at: datetime | None = None
) -> tuple[str | None, dict[str, object]]:
    """The SMS reaches the rent; returns where and what its webhook would POST (sent by the caller,
    outside the state lock, so a slow receiver never stalls the simulator)."""
    from .state import SimSms

    rent = state.rents[rent_id]
    sms = SimSms(sender=sender, text=text, date=(at or state.now()).replace(microsecond=0))
    rent.sms.append(sms)
    payload = {"rentId": rent.id, "sms": {"phoneFrom": sender, "text": text,
                                          "date": state.wall_clock(sms.date)}}  # fmt: skip
    return rent.webhook_url, payload


def revoke(state: SimulatorState, rent_id: int) -> None:
    rent = state.rents[rent_id]
    if rent.state_at(state.now()) == "active":
        _refund(state, rent, "revoked")


def _digits(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also takes "²", which ``int`` refuses."""
    return text.isascii() and text.isdigit()
