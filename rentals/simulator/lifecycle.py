"""The rest of a rent's life on the provider's side (contract section 4): status and SMS, finish and
cancel, the rent list, extension and prices, plus what the control plane does to rents."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from .wire import Reply, json_reply, text_reply

if TYPE_CHECKING:
    from .state import SimRent, SimulatorState

CANCEL_WINDOW = timedelta(minutes=20)
MAX_TOTAL_HOURS = 2160 * 2  # a rent may be extended up to this many hours in all
RENT_LIST_LENGTH = 10


def phone_reply(state: SimulatorState, rent: SimRent) -> Reply:
    phone = {"id": rent.id, "endDate": state.wall_clock(rent.end_date, "%Y-%m-%dT%H:%M:%S"), "number": rent.number}
    return json_reply({"status": "success", "phone": {**phone, "cost": float(rent.cost)}})


def _own_rent(state: SimulatorState, api_key: str, params: dict[str, str]) -> SimRent | Reply:
    rent_id = params.get("id", "")
    rent = state.rents.get(int(rent_id)) if rent_id.isdigit() else None
    if rent is None or rent.api_key != api_key:
        return text_reply("NO_ID_RENT")
    return rent


def get_rent_status(state: SimulatorState, api_key: str, params: dict[str, str]) -> Reply:
    rent = _own_rent(state, api_key, params)
    if isinstance(rent, Reply):
        return rent
    status = rent.state_at(state.now())
    if status != "active":
        return text_reply(
            {"finished": "STATUS_FINISH", "cancelled": "STATUS_CANCEL", "revoked": "STATUS_REVOKE"}[status]
        )
    if not rent.sms:
        return text_reply("STATUS_WAIT_CODE")
    page = int(params["page"]) if params.get("page", "").isdigit() else 0
    size = int(params["size"]) if params.get("size", "").isdigit() and int(params["size"]) > 0 else 10
    newest_first = list(reversed(rent.sms))[page * size : (page + 1) * size]
    values = {
        str(index): {"phoneFrom": sms.sender, "text": sms.text, "service": rent.service,
                     "date": state.wall_clock(sms.date)}
        for index, sms in enumerate(newest_first)
    }  # fmt: skip
    return json_reply({"status": "success", "quantity": str(len(rent.sms)), "values": values})


def set_rent_status(state: SimulatorState, api_key: str, params: dict[str, str]) -> Reply:
    rent = _own_rent(state, api_key, params)
    if isinstance(rent, Reply):
        return rent
    now, requested = state.now(), params.get("status", "")
    current = rent.state_at(now)
    if requested not in ("1", "2"):
        return text_reply("INCORECT_STATUS")
    if current in ("finished", "revoked"):
        return text_reply("ALREADY_FINISH")
    if current == "cancelled":
        return text_reply("ALREADY_CANCEL")
    if requested == "2":
        if now - rent.created_at > CANCEL_WINDOW:
            return text_reply("CANT_CANCEL")
        state.account_for(api_key).balance += rent.cost
        rent.state = "cancelled"
    else:
        rent.state = "finished"
    return json_reply({"status": "success"})


def get_rent_list(state: SimulatorState, api_key: str, params: dict[str, str]) -> Reply:
    mine = [rent for rent in state.rents.values() if rent.api_key == api_key]
    latest = sorted(mine, key=lambda rent: rent.id, reverse=True)[:RENT_LIST_LENGTH]
    if not latest:
        return text_reply("NO_NUMBERS")
    values = {
        str(index): {"id": str(rent.id), "phone": rent.number, "price": f"{rent.cost:.2f}", "hours": str(rent.hours)}
        for index, rent in enumerate(latest)
    }
    return json_reply({"status": "success", "values": values})


def _extension(state: SimulatorState, api_key: str, params: dict[str, str]) -> tuple[SimRent, int, Decimal] | Reply:
    from .state import RENT_HOURS, price_of

    rent = _own_rent(state, api_key, params)
    if isinstance(rent, Reply):
        return rent
    hours_text = params.get("rent_time") or params.get("hours") or params.get("time") or ""
    if not hours_text.isdigit() or int(hours_text) not in RENT_HOURS:
        return text_reply("INVALID_TIME")
    hours = int(hours_text)
    if rent.state_at(state.now()) in ("cancelled", "revoked"):
        return text_reply("RENT_DIE")
    if rent.hours + hours > MAX_TOTAL_HOURS:
        return json_reply(
            {"status": "error", "message": "MAX_HOURS_EXCEED", "info": {"max": MAX_TOTAL_HOURS - rent.hours}}
        )
    return rent, hours, price_of(rent.service, hours)


def get_continue_rent_price(state: SimulatorState, api_key: str, params: dict[str, str]) -> Reply:
    checked = _extension(state, api_key, params)
    if isinstance(checked, Reply):
        return checked
    return json_reply({"status": "success", "price": float(checked[2]), "currency": 840})


def continue_rent_number(state: SimulatorState, api_key: str, params: dict[str, str]) -> Reply:
    checked = _extension(state, api_key, params)
    if isinstance(checked, Reply):
        return checked
    rent, hours, cost = checked
    account = state.account_for(api_key)
    if account.balance < cost:
        return text_reply("NO_BALANCE")
    account.balance -= cost
    now = state.now().replace(microsecond=0)
    if rent.state_at(now) == "finished":
        # A finished rent is ordered again under a new id (contract section 4).
        del state.rents[rent.id]
        rent.id, state.next_rent_id = state.next_rent_id, state.next_rent_id + 1
        rent.state, rent.end_date, rent.created_at = "active", now + timedelta(hours=hours), now
        state.rents[rent.id] = rent
    else:
        rent.end_date += timedelta(hours=hours)
    rent.hours += hours
    rent.cost = cost
    return phone_reply(state, rent)


def get_rent_prices(state: SimulatorState, api_key: str, params: dict[str, str]) -> Reply:
    from .state import COUNTRIES, DEFAULT_STOCK, RENT_HOURS, SERVICES, price_of

    country_text = params.get("country", "")
    if not country_text.isdigit() or int(country_text) not in COUNTRIES:
        return text_reply("BAD_COUNTRY")
    country = int(country_text)
    hours = int(params["rent_time"]) if params.get("rent_time", "").isdigit() else 4
    hours = hours if hours in RENT_HOURS else 4
    services = {
        code: {"cost": float(price_of(code, hours)), "count": state.stock.get((country, code, "any"), DEFAULT_STOCK)}
        for code in SERVICES
    }
    return json_reply({"status": "success", "values": {str(country): services}})


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
        rent.state = "revoked"
        state.account_for(rent.api_key).balance += rent.cost
