"""The JSON API as a script uses it: tokens from the admin, the admin's permissions, money rules, codes."""

import json
import threading
import time
import uuid
from decimal import Decimal

import pytest
import requests
from django.contrib.auth.models import Group, User
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from harness.servers import free_port
from rentals import services
from rentals.api import api
from rentals.models import ApiToken, Offer, ProviderAccount, Rental, RentAttempt, SmsMessage
from rentals.services.api_tokens import TokenRefused, api_token_create

from ..admin.test_login_security import PASSWORD, code_for, log_in
from ..conftest import run_concurrently
from ..factories import RentalFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_counts():
    caches["api"].clear()  # each test starts with no requests counted


def person(role: str | None, name: str | None = None) -> User:
    user = User.objects.create_user(name or f"{(role or 'nobody').lower()}-user", password="pw", is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


class Script:
    """A script with a token, talking to the API through Django's test client."""

    def __init__(self, client, user: User) -> None:
        self.client, self.user = client, user
        self.token = api_token_create(user=user, name="test script")[1]

    def _auth(self, headers: dict) -> dict:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}", **headers}

    def get(self, path: str, **params):
        return self.client.get(f"/api/{path}", params, **self._auth({}))

    def post(self, path: str, body: dict | None = None, *, key: str | None = None):
        headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        return self.client.post(f"/api/{path}", json.dumps(body or {}), content_type="application/json",
                                **self._auth(headers))  # fmt: skip


RENT = {"account": "Sandbox", "service": "tg", "country": 1, "hours": 24, "label": "Shop #12"}


@pytest.fixture
def rental_with_a_code(rental):
    """The rental, with an SMS (code 8080) already read."""
    SmsMessage.objects.create(rental=rental, sender="Bank", text="Secret code 8080", code="8080",
                              received_at=timezone.now(), dedupe_key="k", source="poll")  # fmt: skip
    Rental.objects.filter(pk=rental.pk).update(last_sms_text="Secret code 8080", last_sms_code="8080")
    return rental


def test_a_token_is_made_in_the_admin_shown_once_and_kept_only_as_a_hash(client, simulator, account):
    user = person("Operator")
    client.force_login(user)
    page = client.post(reverse("admin:rentals_apitoken_add"), {"name": "CI deploy"})
    token = page.context["token"]
    assert token.startswith("rdk_") and page.content.decode().count(token) == 2  # the field and the curl line
    assert "no-store" in page["Cache-Control"]
    row = ApiToken.objects.get()
    stored = " ".join(str(value) for value in ApiToken.objects.values().get().values())
    assert row.user == user and token not in stored and token[:12] == row.prefix
    listing = client.get(reverse("admin:rentals_apitoken_changelist")).content.decode()
    assert "CI deploy" in listing and token not in listing
    assert client.get(reverse("admin:rentals_apitoken_change", args=[row.pk])).content.decode().count(token) == 0

    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get("/api/rentals", **auth).status_code == 200
    assert ApiToken.objects.get().last_used_at is not None
    client.post(reverse("admin:rentals_apitoken_changelist"), {"action": "revoke", "_selected_action": [row.pk]})
    refused = client.get("/api/rentals", **auth)
    assert refused.status_code == 401 and refused.json()["error"] == "NOT_AUTHENTICATED"


def test_people_see_and_revoke_only_their_own_tokens_and_managers_everyones(client, db):
    olena, taras, boss = person("Operator", "olena"), person("Viewer", "taras"), person("Manager", "boss")
    api_token_create(user=olena, name="olena's")
    theirs, _ = api_token_create(user=taras, name="taras's")
    client.force_login(olena)
    listing = client.get(reverse("admin:rentals_apitoken_changelist")).content.decode()
    assert "olena&#x27;s" in listing and "taras&#x27;s" not in listing
    client.post(reverse("admin:rentals_apitoken_changelist"), {"action": "revoke", "_selected_action": [theirs.pk]})
    assert ApiToken.objects.get(pk=theirs.pk).revoked_at is None
    client.force_login(boss)
    client.post(reverse("admin:rentals_apitoken_changelist"), {"action": "revoke", "_selected_action": [theirs.pk]})
    assert ApiToken.objects.get(pk=theirs.pk).revoked_at is not None
    revoked = client.get(reverse("admin:rentals_apitoken_changelist"), {"state": "revoked"}).content.decode()
    in_use = client.get(reverse("admin:rentals_apitoken_changelist"), {"state": "in_use"}).content.decode()
    assert "taras&#x27;s" in revoked and "olena&#x27;s" not in revoked
    assert "olena&#x27;s" in in_use and "taras&#x27;s" not in in_use


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer rdk_not-a-token", "Token abc", "Bearer " + "x" * 5000])
def test_a_request_without_a_valid_token_is_refused_in_json(client, db, header):
    response = client.get("/api/rentals", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401 and response.json()["error"] == "NOT_AUTHENTICATED"
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_token_stops_working_when_its_person_leaves_the_admin(client, db):
    script = Script(client, person("Operator"))
    User.objects.filter(pk=script.user.pk).update(is_staff=False)
    assert script.get("rentals").status_code == 401
    User.objects.filter(pk=script.user.pk).update(is_staff=True, is_active=False)
    assert script.get("rentals").status_code == 401


def test_a_token_works_only_while_its_person_has_the_second_factor_their_role_needs(client, simulator, account,
                                                                                   catalog, settings):  # fmt: skip
    settings.RENTDESK_REQUIRE_2FA = True
    viewer = person("Viewer")
    script = Script(client, viewer)  # a Viewer needs no second factor: the token is made
    assert script.get("rentals").status_code == 200
    viewer.groups.set([Group.objects.get(name="Operator")])  # now they could spend
    refused = script.post("rentals", RENT, key="k1")
    assert refused.status_code == 403 and refused.json()["error"] == "TWO_FACTOR_REQUIRED"
    assert "authenticator app" in refused.json()["message"]
    assert script.get("rentals").status_code == 403  # reading too: the token is theirs, not a Viewer's
    assert not simulator.requests("getRentNumber") and not RentAttempt.objects.exists()
    TOTPDevice.objects.create(user=viewer, name="Authenticator app", confirmed=False)
    assert script.post("rentals", RENT, key="k1").status_code == 403  # scanned, never confirmed by a code
    TOTPDevice.objects.filter(user=viewer).update(confirmed=True)
    assert script.post("rentals", RENT, key="k1").status_code == 201


def test_a_token_is_made_only_from_a_session_that_entered_the_second_factor(client, settings):
    settings.RENTDESK_REQUIRE_2FA = True
    olena = User.objects.create_user("olena", password=PASSWORD, is_staff=True)
    olena.groups.add(Group.objects.get(name="Operator"))
    device = TOTPDevice.objects.create(user=olena, name="Authenticator app", confirmed=True)
    with pytest.raises(TokenRefused, match="authenticator app"):
        api_token_create(user=olena, name="no code entered")
    client.force_login(olena)  # signed in with a password alone
    assert client.post(reverse("admin:rentals_apitoken_add"), {"name": "ci"}).status_code == 302  # to the code
    assert not ApiToken.objects.exists()
    client.logout()
    assert log_in(client, "olena", code=code_for(device)).status_code == 302
    made = client.post(reverse("admin:rentals_apitoken_add"), {"name": "ci"})
    assert made.status_code == 200 and made.context["token"].startswith("rdk_")


ROLES = [None, "Viewer", "Operator", "Manager"]
#                     nobody Viewer Operator Manager
ALLOWED = {
    "list": (False, True, True, True),
    "read": (False, True, True, True),
    "sms": (False, False, True, True),
    "wait": (False, False, True, True),
    "rent": (False, False, True, True),
    "extend": (False, False, True, True),
    "finish": (False, False, True, True),
}


@pytest.mark.parametrize("role", ROLES)
def test_the_permission_matrix_is_the_admins(client, simulator, rental_with_a_code, role):
    script = Script(client, person(role))
    allowed = {action: flags[ROLES.index(role)] for action, flags in ALLOWED.items()}
    listing, detail = script.get("rentals"), script.get(f"rentals/{rental_with_a_code.pk}")
    assert (listing.status_code == 200) is allowed["list"] and (detail.status_code == 200) is allowed["read"]
    if allowed["read"]:
        body = detail.json()
        assert (body["messages"] is not None) is allowed["sms"]
        assert (body["last_sms_code"] == "8080") is allowed["sms"]
        assert ("Secret code" in listing.content.decode()) is allowed["sms"]
    else:
        assert detail.json()["error"] == "PERMISSION_DENIED" and "8080" not in detail.content.decode()
    wait = script.get(f"rentals/{rental_with_a_code.pk}/sms/next", after=0, timeout=0)
    assert ((wait.status_code == 200) is allowed["wait"] and "8080" not in wait.content.decode()) or allowed["wait"]
    rented = script.post("rentals", RENT, key="k1")
    assert (rented.status_code == 201) is allowed["rent"]
    assert len(simulator.requests("getRentNumber")) == 1 + allowed["rent"]  # the fixture's, and this one
    extended = script.post(f"rentals/{rental_with_a_code.pk}/extend", {"hours": 24}, key="k2")
    assert (extended.status_code == 200) is allowed["extend"]
    finished = script.post(f"rentals/{rental_with_a_code.pk}/finish")
    assert (finished.status_code == 200) is allowed["finish"]
    assert bool(simulator.requests("setRentStatus")) is allowed["finish"]
    for response in (listing, detail, wait, rented, extended, finished):
        assert response["Content-Type"] == "application/json; charset=utf-8"
        if response.status_code == 403:
            assert response.json()["error"] == "PERMISSION_DENIED"


def test_rent_finish_and_cancel_answer_the_outcome(client, simulator, account, catalog):
    script = Script(client, person("Operator"))
    rented = script.post("rentals", {**RENT, "operator": "kyivstar"}, key="first")
    body = rented.json()
    assert rented.status_code == 201 and body["ok"] and body["state"] == "succeeded" and not body["replayed"]
    assert body["rental"]["number"] and body["rental"]["operator"] == "kyivstar" and "Rented +" in body["message"]
    rental_id = body["rental"]["id"]
    cancelled = script.post(f"rentals/{rental_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["rental"]["status"] == "cancelled"
    again = script.post(f"rentals/{rental_id}/finish")
    assert again.status_code == 422 and again.json()["error"] == "RENTAL_ENDED"
    assert len(simulator.requests("setRentStatus")) == 1


def test_the_same_key_rents_once_even_when_requests_race(simulator, account, catalog, live_server):
    script = Script(None, person("Operator"))
    simulator.force(delay=1.0, action="getRentNumber")  # the first is still at SMS.online when the others come

    headers = {"Authorization": f"Bearer {script.token}", "Idempotency-Key": "race"}

    def post():
        return requests.post(f"{live_server.url}/api/rentals", json=RENT, headers=headers, timeout=30)

    responses = run_concurrently(post, times=4)
    bodies = [response.json() for response in responses]
    assert [response.status_code for response in responses] == [201] * 4
    assert len({body["rental"]["id"] for body in bodies}) == 1 and sorted(b["replayed"] for b in bodies) == [
        False, True, True, True,
    ]  # fmt: skip
    assert len(simulator.requests("getRentNumber")) == 1 and RentAttempt.objects.count() == 1
    reused = requests.post(f"{live_server.url}/api/rentals", json={**RENT, "hours": 72}, headers=headers, timeout=30)
    assert reused.status_code == 422 and reused.json()["error"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(simulator.requests("getRentNumber")) == 1


def test_a_failure_is_answered_the_same_to_the_same_key(client, simulator, account, catalog):
    script = Script(client, person("Operator"))
    simulator.force(token="NO_NUMBERS", action="getRentNumber")
    first = script.post("rentals", RENT, key="k")
    again = script.post("rentals", RENT, key="k")
    assert (first.status_code, first.json()["error"], first.json()["state"]) == (422, "NO_NUMBERS", "failed")
    assert (again.status_code, again.json()["error"], again.json()["replayed"]) == (422, "NO_NUMBERS", True)
    assert len(simulator.requests("getRentNumber")) == 1
    assert script.post("rentals", RENT, key="new key").status_code == 201  # a new key is a new request


def test_an_unknown_outcome_says_it_may_have_charged(client, simulator, account, catalog, short_timeouts):
    script = Script(client, person("Operator"))
    simulator.force(delay=2.0, action="getRentNumber")
    response = script.post("rentals", RENT, key="k")
    body = response.json()
    assert (response.status_code, body["state"], body["error"]) == (502, "unknown", "UNKNOWN_OUTCOME")
    assert "may have charged" in body["message"] and body["attempt"] == RentAttempt.objects.get().pk


def test_a_rent_over_budget_is_refused_with_its_numbers_and_no_provider_call(client, simulator, account, catalog):
    Offer.objects.create(service=catalog["telegram"], country=catalog["ukraine"], hours=24, cost=Decimal("0.90"),
                         checked_at=timezone.now())  # fmt: skip
    ProviderAccount.objects.filter(pk=account.pk).update(monthly_budget=Decimal("0.50"))
    response = Script(client, person("Operator")).post("rentals", RENT, key="k")
    body = response.json()
    assert (response.status_code, body["error"]) == (422, "BUDGET_EXCEEDED")
    assert body["facts"] == {"budget": "account", "budget_of": "Sandbox", "cap": "0.50", "spent": "0.00",
                             "month": timezone.localtime().strftime("%Y-%m"), "price": "0.90"}  # fmt: skip
    assert simulator.requests() == []


@pytest.mark.parametrize(
    ("body", "key", "field"),
    [
        ({**RENT, "service": "zz"}, "k", "service"),
        ({**RENT, "country": "one"}, "k", "country"),
        ({**RENT, "hours": 5}, "k", "hours"),
        ({**RENT, "operator": "mts"}, "k", "operator"),
        ({**RENT, "account": "Nobody"}, "k", "account"),
        ({**RENT, "label": "x" * 201}, "k", "label"),
        ({"service": "tg"}, "k", "account"),
        (RENT, None, "Idempotency-Key"),
        (RENT, "x" * 300, "Idempotency-Key"),
    ],
)
def test_bad_input_is_a_json_error_naming_the_field(client, simulator, account, catalog, body, key, field):
    response = Script(client, person("Operator")).post("rentals", body, key=key)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "BAD_ARGUMENTS" and field in response.json()["fields"]
    assert simulator.requests() == [] and RentAttempt.objects.count() == 0


def test_malformed_requests_get_json_errors_never_a_page(client, simulator, rental_with_a_code):
    script = Script(client, person("Operator"))
    auth = {"HTTP_AUTHORIZATION": f"Bearer {script.token}", "HTTP_IDEMPOTENCY_KEY": "k"}
    cases = [
        client.post("/api/rentals", "{not json", content_type="application/json", **auth),
        client.post("/api/rentals", "[]", content_type="application/json", **auth),
        client.get("/api/rentals/999999", **auth),
        client.get("/api/rentals", {"limit": "lots"}, **auth),
        client.get("/api/rentals", {"status": "sold"}, **auth),
        client.get(f"/api/rentals/{rental_with_a_code.pk}/sms/next", {"timeout": 61}, **auth),
        client.post(
            f"/api/rentals/{rental_with_a_code.pk}/extend",
            json.dumps({"hours": "many"}),
            content_type="application/json",
            **auth,
        ),
    ]
    assert [response.status_code for response in cases] == [400, 400, 404, 400, 400, 400, 400]
    for response in cases:
        assert response.json()["error"] in ("BAD_ARGUMENTS", "NOT_FOUND") and response.json()["message"]
    assert simulator.requests("continueRentNumber") == []


def test_the_list_filters_as_the_inventory_does(client, simulator, rental_with_a_code, account):
    script = Script(client, person("Viewer"))
    RentalFactory(account=account, number="380509998877", label="Other", status="finished")
    assert script.get("rentals").json()["count"] == 2
    assert [r["id"] for r in script.get("rentals", status="active").json()["results"]] == [rental_with_a_code.pk]
    assert script.get("rentals", number="+380 50 999-88").json()["results"][0]["label"] == "Other"
    assert script.get("rentals", service="tg", country=1, account="Sandbox").json()["count"] == 2
    assert script.get("rentals", ending_within_hours=48).json()["count"] == 1
    assert script.get("rentals", mine="assigned").json()["count"] == 0
    assert len(script.get("rentals", limit=1).json()["results"]) == 1


def test_q_is_the_inventory_search_and_sms_text_only_for_who_may_read_it(
    client, simulator, rental_with_a_code, account
):
    other = RentalFactory(account=account, number="447700900123", label="Parcel desk")
    SmsMessage.objects.create(
        rental=rental_with_a_code,
        sender="Bank",
        text="Your login code 9911",
        received_at=timezone.now(),
        dedupe_key="q-search",
        source="poll",
    )
    viewer, operator = Script(client, person("Viewer")), Script(client, person("Operator", "olena"))

    def found(script: Script, term: str) -> list[int]:
        return [r["id"] for r in script.get("rentals", q=term).json()["results"]]

    assert found(viewer, "7700-900-123") == found(viewer, "900123") == [other.pk]
    assert found(viewer, "PARCEL") == [other.pk]
    assert found(viewer, "login code") == []
    assert found(operator, "login code") == [rental_with_a_code.pk]


def test_requests_are_limited_per_person_whatever_token_they_use(client, db, settings):
    settings.RENTDESK_API_REQUESTS_PER_MINUTE = 3
    olena = person("Viewer")
    busy, second_token = Script(client, olena), Script(client, olena)
    other = Script(client, person("Operator"))
    statuses = [busy.get("rentals").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = second_token.get("rentals")  # a new token is not a new allowance
    assert refused.status_code == 429 and refused.json()["error"] == "TOO_MANY_REQUESTS"
    assert int(refused["Retry-After"]) > 0 and "all your tokens" in refused.json()["message"]
    assert busy.get("rentals").status_code == 429
    assert other.get("rentals").status_code == 200


def test_a_person_holds_at_most_the_set_number_of_tokens_in_use(client, db, settings):
    settings.RENTDESK_API_TOKENS_PER_PERSON = 2
    olena = person("Operator", "olena")
    client.force_login(olena)
    add = reverse("admin:rentals_apitoken_add")
    first, second = (client.post(add, {"name": f"script {n}"}) for n in (1, 2))
    assert first.status_code == second.status_code == 200 and first.context["token"] != second.context["token"]
    third = client.post(add, {"name": "script 3"})
    assert third.status_code == 200 and "token" not in third.context
    assert "already have 2 tokens in use" in third.content.decode()
    assert ApiToken.objects.filter(user=olena).count() == 2
    with pytest.raises(TokenRefused):
        api_token_create(user=olena, name="from elsewhere")
    client.post(reverse("admin:rentals_apitoken_changelist"),
                {"action": "revoke", "_selected_action": [ApiToken.objects.first().pk]})  # fmt: skip
    assert client.post(add, {"name": "script 3"}).context["token"].startswith("rdk_")  # a revoked one frees a place
    api_token_create(user=person("Viewer", "taras"), name="another person's")  # counted per person


def test_an_address_sending_invalid_tokens_is_answered_429_for_the_rest_of_the_minute(client, db, settings):
    settings.RENTDESK_API_INVALID_TOKENS_PER_MINUTE = 3
    script = Script(client, person("Viewer"))
    guesser = {"REMOTE_ADDR": "203.0.113.9"}
    wrong = [client.get("/api/rentals", HTTP_AUTHORIZATION=f"Bearer rdk_guess{n}", **guesser) for n in range(3)]
    assert [response.status_code for response in wrong] == [401, 401, 401]
    refused = client.get("/api/rentals", HTTP_AUTHORIZATION="Bearer rdk_guess4", **guesser)
    assert refused.status_code == 429 and refused.json()["error"] == "TOO_MANY_INVALID_TOKENS"
    assert 0 < int(refused["Retry-After"]) <= 60
    # Even a right token is refused from there meanwhile: no answer tells a right guess from a wrong one.
    right = client.get("/api/rentals", HTTP_AUTHORIZATION=f"Bearer {script.token}", **guesser)
    assert right.status_code == 429
    assert client.get("/api/rentals", HTTP_AUTHORIZATION=f"Bearer {script.token}").status_code == 200  # elsewhere


def test_while_redis_is_away_each_process_still_limits_requests_per_token(client, db, settings, caplog):
    unreachable = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there: connection refused
    settings.CACHES = {**settings.CACHES, "api": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                                  "LOCATION": unreachable}}  # fmt: skip
    settings.RENTDESK_API_REQUESTS_PER_MINUTE = 3
    caches["api-process"].clear()
    busy, other = Script(client, person("Viewer")), Script(client, person("Operator"))
    statuses = [busy.get("rentals").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert int(busy.get("rentals")["Retry-After"]) > 0
    assert other.get("rentals").status_code == 200
    assert "counted by this process alone" in caplog.text


class PausingCache(LocMemCache):
    """A cache whose read of ``pause_key`` waits until ``go`` is set: one request's count held half
    done while another thread of the same server process counts its own, as gthread threads can."""

    pause_key: str | None = None
    paused = threading.Event()
    go = threading.Event()

    def get(self, key, default=None, version=None):
        if key == PausingCache.pause_key:
            PausingCache.paused.set()
            assert PausingCache.go.wait(10)
        return super().get(key, default, version)


def test_two_people_counted_at_once_in_one_process_each_keep_their_own_count(db, settings):
    settings.CACHES = {**settings.CACHES, "api": {"BACKEND": "tests.api.test_api.PausingCache", "LOCATION": "pausing"}}
    settings.RENTDESK_API_REQUESTS_PER_MINUTE = 1
    (throttle,) = api.throttle  # the one object django-ninja asks for every request, in every thread
    first, second = HttpRequest(), HttpRequest()
    first.auth = api_token_create(user=person("Viewer"), name="first")[0]
    second.auth = api_token_create(user=person("Operator"), name="second")[0]
    PausingCache.pause_key = f"rentdesk-api-person-{first.auth.user_id}"
    PausingCache.paused.clear()
    PausingCache.go.clear()
    answers = {}
    counting = threading.Thread(target=lambda: answers.update(first=throttle.allow_request(first)))
    counting.start()
    assert PausingCache.paused.wait(10)  # the first request is reading its count
    answers["second"] = throttle.allow_request(second)
    PausingCache.go.set()
    counting.join(10)
    PausingCache.pause_key = None
    assert answers == {"first": True, "second": True}
    # Each person has had their one request: both are refused now, with a wait to tell.
    assert throttle.allow_request(first) is False and throttle.wait() > 0
    assert throttle.allow_request(second) is False


def test_the_openapi_schema_and_its_page_are_served(client, db):
    schema = client.get("/api/openapi.json").json()
    assert {"/api/rentals", "/api/rentals/{rental_id}", "/api/rentals/{rental_id}/sms/next",
            "/api/rentals/{rental_id}/extend", "/api/rentals/{rental_id}/extension-price"} <= set(
        schema["paths"]
    )  # fmt: skip
    assert "Idempotency-Key" in json.dumps(schema["paths"]["/api/rentals"]["post"])
    page = client.get("/api/docs").content.decode()
    assert "swagger" in page.lower() and "cdn.jsdelivr" not in page


@pytest.fixture
def live(simulator, account, catalog, settings, live_server, eager_tasks, redis_url):
    """A rental whose webhooks reach this test's live server, where the API is served too."""
    settings.PUBLIC_BASE_URL = live_server.url
    settings.REDIS_URL = redis_url  # waiting requests hear of new SMS through Redis
    rental = services.rental_rent(
        account=account, service=catalog["telegram"], country=catalog["ukraine"], operator="any", hours=24,
        webhook=True, nonce=uuid.uuid4(), requested_by=None, via="cli",
    ).rental  # fmt: skip
    return rental, Script(None, person("Operator")), live_server.url


def wait_for_code(base_url: str, script: Script, rental: Rental, **params) -> requests.Response:
    return requests.get(f"{base_url}/api/rentals/{rental.pk}/sms/next", params=params, timeout=90,
                        headers={"Authorization": f"Bearer {script.token}"})  # fmt: skip


def later(seconds: float, action) -> threading.Thread:
    def run():
        time.sleep(seconds)
        action()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("redis", ["redis", "no redis"])
def test_a_script_waits_for_the_code_injected_in_the_simulator(live, simulator, settings, redis):
    rental, script, base_url = live
    if redis == "no redis":
        settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nobody listens: the wait reads the database instead
    sms = {"rent_id": int(rental.provider_rent_id), "text": "Your code 531902", "sender": "Telegram"}
    injecting = later(1.5, lambda: simulator._post_json("sms", sms))
    started = time.monotonic()
    response = wait_for_code(base_url, script, rental, timeout=30)
    injecting.join()
    body = response.json()
    assert response.status_code == 200 and body["sms"]["code"] == "531902", body
    assert 1.0 < time.monotonic() - started < 10  # woken by the SMS, not by the timeout
    assert body["after"] == SmsMessage.objects.get().pk
    nothing = wait_for_code(base_url, script, rental, after=body["after"], timeout=1)
    assert nothing.status_code == 200 and nothing.json() == {"sms": None, "after": body["after"]}


def test_an_sms_that_came_before_the_wait_is_returned_at_once(live, simulator):
    rental, script, base_url = live
    simulator._post_json("sms", {"rent_id": int(rental.provider_rent_id), "text": "Code 4242", "sender": "X"})
    started = time.monotonic()
    body = wait_for_code(base_url, script, rental, after=0, timeout=30).json()
    assert body["sms"]["code"] == "4242" and time.monotonic() - started < 5


def test_waiting_requests_beyond_the_slots_are_turned_away_at_once(live, settings):
    rental, script, base_url = live
    settings.RENTDESK_API_WAIT_SLOTS = 1
    holding = threading.Thread(target=lambda: wait_for_code(base_url, script, rental, timeout=3))
    holding.start()
    time.sleep(1)
    busy = wait_for_code(base_url, script, rental, timeout=3)
    holding.join()
    assert (busy.status_code, busy.json()["error"], busy.headers["Retry-After"]) == (503, "WAIT_SLOTS_BUSY", "1")


def test_a_script_asks_the_extension_price_then_extends_at_it(client, simulator, rental_with_a_code):
    script = Script(client, person("Operator"))
    quoted = script.get(f"rentals/{rental_with_a_code.pk}/extension-price", hours=72)
    assert quoted.status_code == 200, quoted.content
    price = Decimal(quoted.json()["price"])
    assert quoted.json()["hours"] == 72 and price > 0
    asked = simulator.requests("continueRentInfo")
    assert [(r["id"], r["hours"]) for r in asked] == [(rental_with_a_code.provider_rent_id, "72")]
    assert not simulator.requests("continueRentNumber")  # a price spends nothing
    extended = script.post(
        f"rentals/{rental_with_a_code.pk}/extend", {"hours": 72, "price": str(price)}, key="at-that-price"
    )
    assert extended.status_code == 200 and extended.json()["ok"]
    assert rental_with_a_code.extensions.get().price_quoted == price


def test_no_extension_price_says_why_and_whether_to_ask_again(client, simulator, rental_with_a_code):
    script = Script(client, person("Operator"))
    simulator.force(action="continueRentInfo", token="MAX_HOURS_EXCEED", wire="json_message")
    refused = script.get(f"rentals/{rental_with_a_code.pk}/extension-price", hours=2160)
    assert refused.status_code == 422 and refused.json()["error"] == "MAX_HOURS_EXCEED"
    simulator.force(action="continueRentInfo", body="<html>Bad gateway</html>", status=502, content_type="text/html")
    unavailable = script.get(f"rentals/{rental_with_a_code.pk}/extension-price", hours=24)
    assert unavailable.status_code == 502 and "safe to try again" in unavailable.json()["message"]
    bad = script.get(f"rentals/{rental_with_a_code.pk}/extension-price", hours=5)
    assert bad.status_code == 400 and list(bad.json()["fields"]) == ["hours"]
    viewer = Script(client, person("Viewer"))
    assert viewer.get(f"rentals/{rental_with_a_code.pk}/extension-price").json()["error"] == "PERMISSION_DENIED"
    assert len(simulator.requests("continueRentInfo")) == 2  # neither the bad hours nor the viewer asked


def test_a_rentals_cost_is_what_was_paid_for_it(client, simulator, rental_with_a_code):
    script = Script(client, person("Operator"))
    assert script.post(f"rentals/{rental_with_a_code.pk}/extend", {"hours": 72}, key="extend-once").status_code == 200
    assert (
        script.get(f"rentals/{rental_with_a_code.pk}").json()["cost"] == "3.1000"
    )  # the rent (0.90) and its extension (2.20)
    assert script.get("rentals").json()["results"][0]["cost"] == "3.1000"
