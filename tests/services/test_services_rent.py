"""rental_rent against the simulator: attempts, outcomes, account states, no double charge."""

import json
import threading
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections, transaction
from django.utils import timezone

from rentals import services
from rentals.models import AccountState, AttemptState, Rental, RentAttempt
from rentals.wording.pages import describe

from ..conftest import SANDBOX_KEY
from ..factories import rent_number
from ..provider.test_provider_client import SEED_ERRORS

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_rent_records_the_rental_and_its_attempt(simulator, account, catalog):
    outcome = rent_number(account, catalog, webhook=True, operator="kyivstar")
    assert outcome.ok
    rental = Rental.objects.get()
    (sim_rent,) = simulator.rents()
    assert rental.provider_rent_id == str(sim_rent["id"]) and rental.number == sim_rent["number"]
    assert rental.end_date == timezone.datetime.fromisoformat(sim_rent["end_date"])
    assert (rental.operator, rental.hours, rental.cost) == ("kyivstar", 24, Decimal(sim_rent["cost"]))
    attempt = RentAttempt.objects.get()
    assert attempt.state == AttemptState.SUCCEEDED and attempt.rental == rental
    assert attempt.sent_at is not None and attempt.duration_ms is not None
    assert f"{rental}" in describe(outcome)


def test_the_webhook_url_carries_an_unguessable_token_of_this_rental(simulator, account, catalog):
    rent_number(account, catalog, webhook=True)
    rental = Rental.objects.get()
    (received,) = simulator.requests("getRentNumber")
    assert received["url"] == f"https://rentdesk.example.test/hooks/sms/{rental.webhook_token}/"
    assert len(rental.webhook_token) >= 40


def test_without_webhook_no_url_is_sent(simulator, account, catalog):
    rent_number(account, catalog, webhook=False)
    (received,) = simulator.requests("getRentNumber")
    assert "url" not in received and Rental.objects.get().webhook_token is None


def test_the_same_nonce_rents_once(simulator, account, catalog):
    nonce = uuid.uuid4()
    first = rent_number(account, catalog, webhook=True, nonce=nonce)
    second = rent_number(account, catalog, webhook=True, nonce=nonce)
    assert second.repeated and second.rental == first.rental
    assert len(simulator.requests("getRentNumber")) == 1
    assert RentAttempt.objects.count() == Rental.objects.count() == 1


def test_two_concurrent_submissions_of_one_form_rent_once(simulator, account, catalog):
    simulator.force(delay=0.5)  # keep the first request in flight while the second arrives
    nonce = uuid.uuid4()
    outcomes = []

    def submit():
        try:
            outcomes.append(rent_number(account, catalog, webhook=True, nonce=nonce))
        finally:
            connections.close_all()  # each thread has its own connection; leave none open

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(simulator.requests("getRentNumber")) == 1
    assert RentAttempt.objects.count() == 1 and Rental.objects.count() == 1
    assert sorted(o.repeated for o in outcomes) == [False, True]


@pytest.mark.parametrize(("token", "error_class"), SEED_ERRORS)
def test_each_seed_error_is_recorded_on_the_attempt(simulator, account, catalog, token, error_class):
    simulator.force(token=token)
    outcome = rent_number(account, catalog, webhook=True)
    attempt = RentAttempt.objects.get()
    expected_state = AttemptState.UNKNOWN if error_class.kind == "unknown" else AttemptState.FAILED
    assert not outcome.ok and Rental.objects.count() == 0
    assert (attempt.state, attempt.error_token) == (expected_state, token.partition(":")[0])
    account.refresh_from_db()
    assert account.last_error_token == attempt.error_token and account.last_error_at is not None
    expected_account_state = getattr(error_class, "account_state", AccountState.OK)
    assert account.state == expected_account_state


@pytest.mark.parametrize(
    ("token", "state"),
    [
        ("NO_BALANCE", "no_balance"),
        ("ACCOUNT_INACTIVE", "inactive"),
        ("BAD_KEY", "bad_key"),
        ("CHANNELS_LIMIT", "blocked"),
        ("BANNED:'2099-1-1 00-00-00'", "banned"),
    ],
)
def test_a_blocked_account_refuses_without_calling_the_provider(simulator, account, catalog, token, state):
    simulator.force(token=token)
    rent_number(account, catalog, webhook=True)
    account.refresh_from_db()
    assert account.state == state
    refused = rent_number(account, catalog, webhook=True)
    assert len(simulator.requests("getRentNumber")) == 1  # only the first reached the provider
    attempt = refused.attempt
    assert attempt.state == AttemptState.FAILED and attempt.sent_at is None
    assert refused.token == token.partition(":")[0] and describe(refused).startswith("Not sent")


def test_a_reset_account_rents_again(simulator, account, catalog):
    simulator.force(token="NO_BALANCE")
    rent_number(account, catalog, webhook=True)
    account.refresh_from_db()
    services.account_reset_state(account=account)
    assert rent_number(account, catalog, webhook=True).ok


def test_a_ban_that_has_run_out_no_longer_blocks_and_is_cleared_by_a_rent(simulator, account, catalog):
    account.state, account.banned_until = AccountState.BANNED, timezone.now() - timedelta(minutes=1)
    account.save()
    assert rent_number(account, catalog, webhook=True).ok
    account.refresh_from_db()
    assert account.state == AccountState.OK and account.banned_until is None


def test_a_read_timeout_leaves_an_unknown_attempt_and_sends_once(simulator, account, catalog, short_timeouts):
    simulator.force(delay=2.0)
    outcome = rent_number(account, catalog, webhook=True)
    attempt = RentAttempt.objects.get()
    assert attempt.state == AttemptState.UNKNOWN and attempt.error_token == "UNKNOWN_OUTCOME"
    assert "may have charged" in describe(outcome)
    assert len(simulator.requests("getRentNumber")) == 1 and Rental.objects.count() == 0


def test_the_attempt_is_committed_before_the_request_is_sent(simulator, account, catalog, settings):
    simulator.force(delay=0.7)
    seen_while_in_flight = []

    def look_from_another_connection():
        threading.Event().wait(0.35)
        try:
            seen_while_in_flight.extend(RentAttempt.objects.values_list("state", flat=True))
        finally:
            connections.close_all()

    watcher = threading.Thread(target=look_from_another_connection)
    watcher.start()
    rent_number(account, catalog, webhook=True)
    watcher.join()
    assert seen_while_in_flight == [AttemptState.PENDING]


def test_renting_inside_a_transaction_is_refused(account, catalog):
    with transaction.atomic(), pytest.raises(RuntimeError, match="outside a transaction"):
        rent_number(account, catalog, webhook=True)
    assert RentAttempt.objects.count() == 0


def test_an_unreadable_stored_key_is_reported_without_sending(simulator, account, catalog, settings):
    settings.API_KEY_ENCRYPTION_KEYS = ["x7Z3jz0sUNkN0qkxbRxWzPYiM1X7VhTGvB0N_7mLsHE="]
    outcome = rent_number(account, catalog, webhook=True)
    assert outcome.token == "API_KEY_UNREADABLE" and simulator.requests() == []


def test_an_unreachable_provider_fails_cleanly(account, catalog):
    services.account_set_api_key(
        account=account, api_key=SANDBOX_KEY, api_url="http://127.0.0.1:9/stubs/handler_api.php"
    )
    outcome = rent_number(account, catalog, webhook=True)
    assert outcome.attempt.state == AttemptState.FAILED and outcome.token == "PROVIDER_UNREACHABLE"
    assert "nothing was charged" in describe(outcome)


@pytest.mark.parametrize(
    ("rent_id", "end_date", "expected_end"),
    [
        (987654, "2030-05-10T12:34:56", "2030-05-10T09:34:56+00:00"),  # naive: the provider's timezone
        ("987654", "2030-05-10 12:34:56", "2030-05-10T09:34:56+00:00"),
        ("987654", "2030-05-10T12:34:56+00:00", "2030-05-10T12:34:56+00:00"),
    ],
)
def test_ids_and_end_dates_in_each_form_make_the_same_rental(
    simulator, account, catalog, settings, rent_id, end_date, expected_end
):
    settings.PROVIDER_TIMEZONE = "Europe/Kyiv"
    phone = {"id": rent_id, "endDate": end_date, "number": 380501234567}
    simulator.force(body=json.dumps({"status": "success", "phone": phone}), content_type="application/json")
    assert rent_number(account, catalog, webhook=True).ok
    rental = Rental.objects.get()
    assert rental.provider_rent_id == "987654" and rental.number == "380501234567"
    assert rental.end_date.isoformat() == expected_end


def rented_by(person, account, catalog, *, label: str) -> Rental:
    """A Ukrainian Telegram number rented from the admin in ``person``'s name."""
    outcome = services.rental_rent(
        account=account, service=catalog["telegram"], country=catalog["ukraine"], operator="kyivstar", hours=24,
        webhook=True, nonce=uuid.uuid4(), requested_by=person, via="admin", label=label,
    )  # fmt: skip
    return outcome.rental


def test_a_rents_history_row_holds_what_it_was_rented_with_as_a_saved_rental_would(
    simulator, account, catalog, django_user_model
):
    olena = django_user_model.objects.create_user("olena", is_staff=True)
    rental = rented_by(olena, account, catalog, label="Bank login")
    (created,) = rental.history.all()
    assert (created.history_type, created.history_user, created.history_change_reason) == ("+", olena, None)
    for field in type(created).tracked_fields:
        assert getattr(created, field.attname) == getattr(rental, field.attname), field.name
    assert abs(created.history_date - rental.created_at) < timedelta(seconds=5)
    # The same as django-simple-history writes for a rental saved through the ORM.
    saved = Rental.objects.get(pk=rental.pk)
    saved.pk, saved.provider_rent_id, saved.webhook_token = None, "saved-1", None
    saved._history_user = olena
    saved.save()
    orm_row = saved.history.get()
    mine, theirs = (
        {f.attname: getattr(row, f.attname) for f in type(row)._meta.concrete_fields} for row in (created, orm_row)
    )
    differ = {name for name in mine if mine[name] != theirs[name]}
    assert differ == {"id", "provider_rent_id", "history_id", "history_date", "created_at"}


def test_a_rent_writes_once_before_the_call_and_once_after(simulator, account, catalog):
    """The money rule's least: the attempt committed before getRentNumber, the outcome after; a rent is
    two transactions (on PostgreSQL the second is one statement), whatever the ORM would add."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rent_number(account, catalog, webhook=True)  # the first rent of a process builds its statements
    with CaptureQueriesContext(connection) as queries:
        assert rent_number(account, catalog, webhook=True).ok
    sql = [query["sql"] for query in queries if query["sql"] not in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT")]
    statements = [text.split()[0].upper() for text in sql]  # BEGIN and COMMIT left out: SQLite shows them
    if connection.vendor == "postgresql":
        # The account read under its lock with the attempt's INSERT; the rental, its history and the outcome.
        assert statements == ["WITH", "WITH"] and 'INSERT INTO "rentals_rentattempt"' in sql[0]
    else:
        assert statements == ["SELECT", "INSERT", "INSERT", "INSERT", "UPDATE"]
        assert sql[1].startswith('INSERT INTO "rentals_rentattempt"')


def test_a_number_just_rented_is_found_by_the_inventorys_search(simulator, account, catalog, django_user_model):
    """The rent writes its rental by a statement of its own: the search keys must be in it from the start."""
    from rentals.selectors import rentals_search

    olena = django_user_model.objects.create_user("olena", is_staff=True)
    rental = rented_by(olena, account, catalog, label="Bank login Київ")
    for term in (rental.number, rental.number[-6:], f"+{rental.number[:3]} {rental.number[3:]}", "bank", "київ"):
        assert list(rentals_search(Rental.objects.all(), term=term)) == [rental], term
