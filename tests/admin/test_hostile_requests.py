"""Requests no person would make, but anyone can: each gets a clear 4xx, never a server error.

A NUL character fails any query on PostgreSQL (it refuses NUL in text); a number past 64 bits fails
SQLite's; "²" passes ``str.isdigit`` but not ``int``. Run on both databases, as the whole suite is.
"""

import io
import json

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from ..api.test_api import Script, fresh_counts  # noqa: F401 - each test starts with no API requests counted
from ..conftest import manage
from ..factories import RentalFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/admin/rentals/rental/?status__exact=%00",
        "/admin/rentals/rentattempt/?state__exact=%00",
        "/admin/rentals/rentattempt/?error_token__exact=%00",
        "/admin/rentals/rental/?q=%00",
        "/admin/rentals/rental/%00/change/",
    ],
)
def test_a_nul_character_in_an_admin_address_is_a_bad_request(boss, path):
    response = boss.get(path)
    assert response.status_code == 400 and "NUL" in response.content.decode()


def test_a_nul_character_in_a_form_is_a_bad_request(boss):
    rental = RentalFactory()
    changelist = reverse("admin:rentals_rental_changelist")
    response = boss.post(changelist, {"action": "claim", "_selected_action": ["\x00"], "index": "0"})
    assert response.status_code == 400
    boss.post(changelist, {"action": "claim", "_selected_action": [str(rental.pk)], "index": "0"})
    rental.refresh_from_db()
    assert rental.assignee is not None  # the same form without it works


@pytest.mark.parametrize(
    "query",
    [
        "created_at__year=9999&created_at__month=12&created_at__day=31",  # the drill-down's next day overflows
        "created_at__year=99999999999999999999",
    ],
)
@pytest.mark.parametrize("model", ["rentattempt", "rentalextension", "errorevent"])
def test_a_date_drill_down_past_the_calendar_is_a_bad_request(boss, model, query):
    response = boss.get(f"/admin/rentals/{model}/?{query}")
    assert response.status_code == 400 and "out of range" in response.content.decode()


def test_ids_in_odd_digits_or_past_64_bits_find_nothing(boss):
    rental = RentalFactory(last_sms_code="4242")
    live = reverse("admin:rentals_rental_live_list")
    response = boss.get(live, {"ids": f"{rental.pk},\u00b9,99999999999999999999,-1"})
    assert response.status_code == 200 and list(response.json()["rentals"]) == [str(rental.pk)]
    assert boss.get("/admin/rentals/rental/%C2%B9/change/").status_code == 302  # "does not exist"
    assert boss.get("/admin/rentals/rental/99999999999999999999/change/").status_code == 302
    for version in ("abc", "1.5", "\u00b9"):
        assert boss.get(f"/admin/rentals/rental/{rental.pk}/history/{version}/").status_code == 404
    assert boss.get(f"/admin/rentals/rental/abc/history/{rental.pk}/").status_code == 404


def test_the_api_refuses_a_nul_a_huge_offset_and_a_huge_body_in_json(client):
    script = Script(client, User.objects.create_superuser("script-owner", password="pw"))
    assert script.get("rentals", account="\x00").status_code == 400
    refused = script.get("rentals", offset=str(2**63))
    assert refused.status_code == 400 and refused.json()["error"] == "BAD_ARGUMENTS"
    assert script.get("rentals", offset="1000000000").status_code == 200
    too_big = script.post("rentals", {"notes": "x" * 3_000_000})
    assert too_big.status_code == 413 and too_big.json()["error"] == "BODY_TOO_LARGE"


def test_send_test_sms_names_a_rental_in_odd_digits_as_not_found(capsys):
    status, _, err = manage("send_test_sms", "\u00b2", capsys=capsys)
    assert status == 2 and "No rental with id or number" in err


NOT_TEXT = ["rot13", "zlib", "base64", "hex", "bz2", "uu", "quopri", "idna", "utf-7"]


@pytest.mark.parametrize("charset", NOT_TEXT)
def test_a_webhook_in_a_charset_that_is_not_text_is_refused_not_a_server_error(client, charset):
    rental = RentalFactory()
    body = f'{{"rentId": "{rental.provider_rent_id}", "sms": {{"text": "Code 1234"}}}}'.encode()
    for token in (rental.webhook_token, "no-such-token"):
        content_type = f"application/json; charset={charset}"
        response = client.generic("POST", f"/hooks/sms/{token}/", body, content_type=content_type)
        assert response.status_code == 415 and "UTF-8" in response.json()["detail"]
    assert not rental.messages.exists()


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded; charset=rot13",
        "application/x-www-form-urlencoded; charset=utf-8; charset=zlib",  # Django believes the last
        "application/x-www-form-urlencoded; charset=zlib; charset=utf-8",  # a plain reading the first
        "application/x-www-form-urlencoded; charset*=utf-8''rot13",  # RFC 2231, as Django decodes it
    ],
)
def test_a_login_and_an_api_read_in_a_charset_that_is_not_text_are_refused(client, content_type):
    User.objects.create_superuser("boss", password="pw")
    login = client.generic("POST", "/admin/login/", b"username=boss&password=pw", content_type=content_type)
    assert login.status_code == 415 and "UTF-8" in login.content.decode()
    # Django's request failed as it was built, with a query string: before the test client's handler
    # or any middleware could answer. gunicorn and runserver serve config.wsgi's application.
    status, _, body = served("GET", "/api/rentals", query="status=active", content_type=content_type)
    assert status.startswith("415") and "UTF-8" in json.loads(body)["detail"]
    status, _, body = served("POST", "/admin/login/", query="next=/admin/", content_type=content_type)
    assert status.startswith("415") and b"UTF-8" in body


def served(method: str, path: str, *, query: str, content_type: str, body: bytes = b"") -> tuple[str, list, bytes]:
    """A request through the application gunicorn serves, as gunicorn hands it over."""
    from wsgiref.util import setup_testing_defaults

    from config.wsgi import application

    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "CONTENT_TYPE": content_type,
               "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}  # fmt: skip
    setup_testing_defaults(environ)
    started = []
    chunks = application(environ, lambda status, headers: started.append((status, headers)))
    return started[0][0], started[0][1], b"".join(chunks)


def test_text_charsets_and_unknown_names_are_read_as_before(client):
    """Django reads forms in UTF-8 only; the webhook reads windows-1251 and the like (test_sms.py)."""
    User.objects.create_superuser("boss", password="pw")
    for charset in ("utf-8", "UTF-8", "no-such-charset"):
        content_type = f"application/x-www-form-urlencoded; charset={charset}"
        login = client.generic("POST", "/admin/login/", b"username=boss&password=pw", content_type=content_type)
        assert login.status_code == 302, charset
        client.logout()


def test_a_kept_webhook_declaring_a_charset_that_is_not_text_is_read_as_utf8():
    """Deliveries kept in Redis while the database was away are read later, past the middleware."""
    from datetime import UTC

    from rentals.provider.parsing import parse_webhook

    body = b'{"rentId": "7", "sms": {"text": "Code 1234"}}'
    read = parse_webhook(body, content_type="application/json; charset=rot13", provider_tz=UTC)
    assert read.sms.text == "Code 1234"


def test_the_refusal_is_in_the_readers_language(client):
    client.cookies["django_language"] = "uk"
    content_type = "application/x-www-form-urlencoded; charset=hex"
    response = client.generic("POST", "/admin/login/", b"a=b", content_type=content_type)
    assert response.status_code == 415 and "UTF-8" in response.content.decode()
    assert "кодуванні" in response.content.decode()


def every_list():
    from django.contrib import admin

    return [(model, model_admin) for model, model_admin in admin.site._registry.items()]


def test_a_list_or_an_export_with_a_parameter_it_does_not_know_is_a_bad_request(client):
    """As a Viewer, the inventory's export with ?foo=1 was a server error; every list redirected to a
    page blaming the database."""
    from django.contrib.auth.models import Group

    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.groups.add(Group.objects.get(name="Viewer"))
    client.force_login(viewer)
    export = client.get(reverse("admin:rentals_rental_export"), {"foo": "1"})
    assert export.status_code == 400 and "parameter" in export.content.decode()
    assert client.get(reverse("admin:rentals_rental_export"), {"status__exact": "active"}).status_code == 200
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    for model, _ in every_list():
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        refused = client.get(changelist, {"foo": "1"})
        assert refused.status_code == 400 and "parameter" in refused.content.decode(), changelist
        assert client.get(changelist, {"foo": "1", "e": "1"}).status_code == 400, changelist


def test_an_action_on_ids_that_are_not_ids_is_a_bad_request_in_every_list(boss):
    rental = RentalFactory()
    for model, model_admin in every_list():
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        actions = model_admin.get_actions(boss.get(changelist).wsgi_request)
        for action in actions:
            for chosen, index in ((["abc"], "0"), (["1.5"], "0"), (["1"], "x")):
                form = {"action": action, "_selected_action": chosen, "index": index}
                refused = boss.post(changelist, form)
                assert refused.status_code == 400 and "action" in refused.content.decode(), (changelist, action)
    signed_out = Client().post(reverse("admin:rentals_rental_changelist"),
                               {"action": "claim", "_selected_action": ["abc"], "index": "0"})  # fmt: skip
    assert signed_out.status_code == 302 and "/login/" in signed_out["Location"]  # asked to sign in first
    claimed = boss.post(reverse("admin:rentals_rental_changelist"),
                        {"action": "claim", "_selected_action": [str(rental.pk)], "index": "0"})  # fmt: skip
    assert claimed.status_code == 302
    rental.refresh_from_db()
    assert rental.assignee is not None
