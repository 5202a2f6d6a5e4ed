"""Renting through the admin, as staff do; and S4, a provider that charges and then fails.

Every rent goes through gunicorn's rent form (one nonce per form, the attempt committed before the
call). In S4 the simulator carries out 40% of the rents and then answers an error token with HTTP
500, answers too late (after Rentdesk's read timeout), or answers an HTML page: each of these may
have charged, so each attempt must end as an unknown outcome that reconciliation resolves against
getRentList. Targets: no rent paid twice, no rent paid and not recorded.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import requests

from harness.servers import wait_until
from harness.stack import Stack, rent_form_fields

from .report import Figures
from .rig import Rig
from .traffic import Answer, Rental, timed

CHAOS_SHARE = 0.4
# Settles unknown outcomes within this (reconciliation runs 10 s after each, and every 3 minutes).
RECONCILED_WITHIN = 180.0
READ_TIMEOUT = 3  # SMSONLINE_TIMEOUT of the stack: a late answer costs seconds, not half a minute
PARALLEL_RENTS = 4
WAF_PAGE = "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>"
CHAOS = {
    "charged, then ERROR_SQL with HTTP 500": {"handle": True, "token": "ERROR_SQL", "status": 500},
    "charged, then answered too late": {"delay": READ_TIMEOUT + 2},
    "charged, then an HTML page": {"handle": True, "body": WAF_PAGE, "content_type": "text/html"},
}


def rent(stack: Stack, session: requests.Session, *, label: str, hours: int = 24) -> requests.Response:
    """Open the rent form and submit it: Telegram, Ukraine, ``hours``, webhook on."""
    form_url = f"{stack.url}/admin/rentals/rental/rent/"
    fields = {**rent_form_fields(session.get(form_url, timeout=60).text), "label": label, "hours": str(hours)}
    return session.post(form_url, data=fields, headers={"Referer": form_url}, timeout=60, allow_redirects=False)


def rentals_labelled(rig: Rig, label: str, *, count: int, hours: int = 24) -> list[Rental]:
    """``count`` new rentals, labelled ``label`` and a number."""
    session = rig.stack.logged_in()
    for n in range(count):
        response = rent(rig.stack, session, label=f"{label} {n}", hours=hours)
        if response.status_code != 302:
            raise RuntimeError(f"renting for the suite failed: {response.status_code} {response.text[-2000:]}")
    rows = rig.sql("SELECT id, provider_rent_id, webhook_token FROM rentals_rental WHERE label LIKE %s ORDER BY id",
                   f"{label} %")  # fmt: skip
    return [Rental(*row) for row in rows]


def provider_chaos_on_rent(rig: Rig, *, attempts: int) -> Figures:
    rig.simulator("accounts", {"api_key": rig.stack.env["SMSONLINE_API_KEY"], "balance": "10000"})
    rig.simulator("stock", {"country": 1, "service": "tg", "operator": "any", "count": 100_000})
    known = {rent["id"] for rent in rig.simulator("rents")}
    kinds = plan_chaos(rig, attempts)
    started = time.time()
    staff = threading.local()  # a person per thread, logged in once

    def rent_as_staff(n: int) -> Answer:
        if not hasattr(staff, "session"):
            staff.session = rig.stack.logged_in()
        return timed(lambda: rent(rig.stack, staff.session, label=f"S4 {n}"))

    with ThreadPoolExecutor(PARALLEL_RENTS) as pool:
        answers = list(pool.map(rent_as_staff, range(attempts)))
    answered = time.time()
    settled = wait_until(lambda: not charges_unaccounted(rig, known) and not unknown_left(rig),
                         seconds=RECONCILED_WITHIN, every=1)  # fmt: skip
    return chaos_figures(rig, known, kinds, answers, started=started, recovery=time.time() - answered, settled=settled)


def plan_chaos(rig: Rig, attempts: int) -> dict[str, int]:
    """Queue one forced reply per coming getRentNumber: the chaos ones, and plain turns between them."""
    rng = random.Random(14)
    chaotic = sorted(rng.sample(range(attempts), round(attempts * CHAOS_SHARE)))
    kind_of = {n: list(CHAOS)[turn % len(CHAOS)] for turn, n in enumerate(chaotic)}  # each kind in turn
    for n in range(attempts):
        rig.simulator("force", {"action": "getRentNumber", **CHAOS.get(kind_of.get(n, ""), {})})
    return {kind: list(kind_of.values()).count(kind) for kind in CHAOS}


def charges_unaccounted(rig: Rig, known: set[int]) -> list[str]:
    """Rents the provider charged for (made during S4) that no rent attempt of S4 is linked to."""
    linked = {row[0] for row in rig.sql(
        "SELECT r.provider_rent_id FROM rentals_rental r JOIN rentals_rentattempt a ON a.rental_id = r.id "
        "WHERE a.label LIKE %s", "S4 %")}  # fmt: skip
    return [str(rent["id"]) for rent in new_rents(rig, known) if str(rent["id"]) not in linked]


def new_rents(rig: Rig, known: set[int]) -> list[dict]:
    return [rent for rent in rig.simulator("rents") if rent["id"] not in known]


def unknown_left(rig: Rig) -> int:
    return rig.value("SELECT count(*) FROM rentals_rentattempt WHERE label LIKE %s AND state = %s", "S4 %", "unknown")


def chaos_figures(
    rig: Rig, known: set[int], kinds: dict[str, int], answers: list[Answer], *, started: float, recovery: float,
    settled: bool,
) -> Figures:  # fmt: skip
    charged = new_rents(rig, known)
    unaccounted = charges_unaccounted(rig, known)
    requested = len(rig.provider_requests("getRentNumber", since=started))
    sent = rig.value("SELECT count(*) FROM rentals_rentattempt WHERE label LIKE %s AND sent_at IS NOT NULL", "S4 %")
    paid = sum((Decimal(rent["paid"]) for rent in charged), Decimal(0))
    recorded = sum_costs(rig, [str(rent["id"]) for rent in charged])
    states = dict(rig.sql("SELECT state, count(*) FROM rentals_rentattempt WHERE label LIKE %s GROUP BY state", "S4 %"))
    figures = Figures(
        "S4 provider chaos on rent", sent=len(answers), stored=len(charged) - len(unaccounted), lost=len(unaccounted),
        # getRentNumber sent more than once for one attempt: a rent paid twice.
        duplicates=max(0, requested - sent),
        server_errors=sum(1 for a in answers if a.status is not None and a.status >= 500),
        no_answer=sum(1 for a in answers if a.status is None), recovery=recovery if settled else None,
    )  # fmt: skip
    figures.notes += [
        f"{len(answers)} rents through the admin, {PARALLEL_RENTS} at a time; "
        + ", ".join(f"{kind}: {n}" for kind, n in kinds.items()),
        f"provider charged {len(charged)} rents ({paid:.2f} USD), Rentdesk records {recorded:.2f} USD; "
        f"getRentNumber received {requested} for {sent} attempts sent; attempts now {states}",
        "stored: charges linked to their attempt; recovery: from the last answer until no attempt is unknown "
        "and every charge is linked",
    ]
    figures.expect_none("lost", "duplicates", "server_errors", "no_answer")
    figures.expect("no attempt left unknown", states.get("unknown", 0) == 0)
    figures.expect("Rentdesk's costs equal the charges", paid == recorded)
    figures.expect(f"settled within {RECONCILED_WITHIN:.0f} s", settled)
    return figures


def sum_costs(rig: Rig, provider_ids: list[str]) -> Decimal:
    costs = rig.sql("SELECT provider_rent_id, cost FROM rentals_rental WHERE cost IS NOT NULL")
    return sum((Decimal(str(cost)) for rent_id, cost in costs if rent_id in set(provider_ids)), Decimal(0))
