"""The team's Telegram bot, against the simulator's stand-in for the Bot API over real HTTP: linking a
chat in one step, codes pushed once, the bot's answers, and the token kept out of everything."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from rentals import services, tasks
from rentals.chat import post_plain, validate_chat_urls
from rentals.logging import RedactSecretsFilter
from rentals.models import (
    AttemptState,
    ForwardingPreference,
    ForwardState,
    ProviderAccount,
    Rental,
    RentAttempt,
    SmsForward,
    TelegramLink,
    TelegramPoll,
    TelegramRentOffer,
)
from rentals.phone_numbers import spaced_number
from rentals.telegram.client import TelegramClient, TelegramError, telegram_client

from ..admin.test_login_security import code_for
from ..conftest import PROJECT, manage, start_celery, wait_until
from ..factories import UserFactory
from . import test_forwarding
from .test_forwarding import inject

# A rental labelled "Shop #12 login" whose SMS reach this test's live server by webhook, tasks run as a
# worker would.
labelled_webhook_rental = test_forwarding.labelled_webhook_rental

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "7000000001:AAH-test-token-Zq8x1yW2vU3tS4rQ5pO6nM7"
CHAT, OTHER_CHAT = 5550001, 5550002


class TelegramControl:
    """The stand-in's control plane: a chat writes to the bot, taps a button; what the bot sent."""

    def __init__(self, base_url: str) -> None:
        self.control = base_url + "/_control/telegram/"

    def write(self, text: str, *, chat_id: int = CHAT, language_code: str = "en") -> None:
        reply = requests.post(self.control + "message", json={"chat_id": chat_id, "text": text,
                                                              "language_code": language_code}, timeout=5)  # fmt: skip
        reply.raise_for_status()

    def sent(self, chat_id: int = CHAT) -> list[dict[str, Any]]:
        return requests.get(self.control + "sent", params={"chat_id": chat_id}, timeout=5).json()

    def last(self, chat_id: int = CHAT) -> str:
        return self.sent(chat_id)[-1]["text"]

    def calls(self, method: str) -> list[dict[str, Any]]:
        return requests.get(self.control + "calls", params={"method": method}, timeout=5).json()

    def force(self, **spec: Any) -> None:
        requests.post(self.control + "force", json=spec, timeout=5).raise_for_status()


@pytest.fixture
def bot(settings, simulator) -> TelegramControl:
    settings.TELEGRAM_BOT_TOKEN = TOKEN
    settings.TELEGRAM_API_URL = simulator.server.base_url
    requests.post(simulator.server.base_url + "/_control/telegram/bot", json={"token": TOKEN}, timeout=5)
    cache.clear()  # the bot's name, read once an hour
    return TelegramControl(simulator.server.base_url)


def read_updates() -> int:
    return services.telegram_updates_read(client=telegram_client(), now=timezone.now())


def staff(*permissions: str, username: str = "olena"):
    person = UserFactory(username=username, is_staff=True)
    for codename in permissions:
        person.user_permissions.add(Permission.objects.get(codename=codename))
    return person


def code_from_page(client, person) -> str:
    client.force_login(person)
    page = client.get(reverse("telegram_connect")).content.decode()
    (code,) = re.findall(r'href="https://t\.me/rentdesk_demo_bot\?start=([A-Za-z0-9_-]+)"', page)
    return code


def linked(client, bot, person, *, chat_id: int = CHAT) -> TelegramLink:
    bot.write(f"/start {code_from_page(client, person)}", chat_id=chat_id)
    read_updates()
    return TelegramLink.objects.get(user=person)


# --- linking ---------------------------------------------------------------------------------------


def test_the_connect_page_shows_the_deep_link_with_its_qr_code_and_every_page_links_to_it(client, bot):
    person = staff()
    client.force_login(person)
    index = client.get(reverse("admin:index")).content.decode()
    assert 'id="telegram-connect-link"' in index and reverse("telegram_connect") in index
    page = client.get(reverse("telegram_connect")).content.decode()
    assert "https://t.me/rentdesk_demo_bot?start=" in page and "<svg" in page
    # Its own white ground: in the dark theme a see-through code is black on near-black, unscannable.
    assert re.search(r'<svg [^>]*class="segno"><g [^>]*><path fill="#fff" d="M0 0h', page)
    assert TOKEN not in page and TOKEN.split(":")[1] not in page


def test_without_a_bot_token_nothing_offers_telegram(client, bot, settings):
    settings.TELEGRAM_BOT_TOKEN = ""
    client.force_login(staff())
    assert 'id="telegram-connect-link"' not in client.get(reverse("admin:index")).content.decode()
    assert 'id="telegram-off"' in client.get(reverse("telegram_connect")).content.decode()
    assert tasks.telegram_read_updates() == 0 and bot.calls("getUpdates") == []


def test_start_with_the_code_links_the_chat_and_the_bot_says_so(client, bot):
    person = staff()
    link = linked(client, bot, person)
    assert link.chat_id == CHAT
    assert "Connected" in bot.last() and "olena" in bot.last()
    assert 'id="telegram-linked"' in client.get(reverse("telegram_connect")).content.decode()


def test_a_code_links_once(client, bot):
    person = staff()
    code = code_from_page(client, person)
    bot.write(f"/start {code}")
    bot.write(f"/start {code}", chat_id=OTHER_CHAT)
    assert read_updates() == 2
    assert TelegramLink.objects.get(user=person).chat_id == CHAT
    assert "expired or was used" in bot.last(OTHER_CHAT)


def test_a_code_older_than_ten_minutes_links_nothing(bot):
    person = staff()
    code = services.telegram_link_code_create(user=person, language="en", now=timezone.now() - timedelta(minutes=11))
    bot.write(f"/start {code}")
    read_updates()
    assert not TelegramLink.objects.exists() and "expired or was used" in bot.last()


def test_a_wrong_code_links_nothing_and_an_unlinked_chat_is_told_where_to_connect(client, bot):
    code_from_page(client, staff())
    bot.write("/start not-the-code")
    bot.write("/numbers", chat_id=OTHER_CHAT)
    read_updates()
    assert not TelegramLink.objects.exists()
    assert "expired or was used" in bot.last()
    assert "not connected to Rentdesk" in bot.last(OTHER_CHAT) and "Connect Telegram" in bot.last(OTHER_CHAT)


def test_a_newer_code_replaces_the_one_shown_before(client, bot):
    person = staff()
    first = code_from_page(client, person)
    code_from_page(client, person)
    bot.write(f"/start {first}")
    read_updates()
    assert not TelegramLink.objects.exists()


def test_stop_in_the_chat_and_disconnect_on_the_page_unlink(client, bot):
    person = staff()
    linked(client, bot, person)
    bot.write("/stop")
    read_updates()
    assert not TelegramLink.objects.exists() and "Disconnected" in bot.last()
    linked(client, bot, person)
    client.post(reverse("telegram_connect"), {"action": "disconnect"})
    assert not TelegramLink.objects.exists()
    bot.write("/numbers")
    read_updates()
    assert "not connected" in bot.last()


def test_a_person_who_leaves_the_staff_loses_the_chat_and_coming_back_does_not_restore_it(
    client, bot, labelled_webhook_rental
):
    person = staff("view_smsmessage")
    linked(client, bot, person)
    services.rentals_follow(rentals=[labelled_webhook_rental], user=person)
    person.is_active = False
    person.save()
    assert not TelegramLink.objects.exists()
    assert not labelled_webhook_rental.followers.exists()  # nor their follows
    person.is_active = True
    person.save()
    bot.write("/numbers")
    read_updates()
    assert "not connected" in bot.last()  # connecting again is theirs to do, as any newcomer's


def test_updates_are_answered_once_and_one_reader_at_a_time(client, bot):
    person = staff()
    linked(client, bot, person)
    answers = len(bot.sent())
    assert read_updates() == 0  # the offset confirmed the /start: it is not answered again
    assert len(bot.sent()) == answers
    assert TelegramPoll.objects.get().offset > 0
    TelegramPoll.objects.update(leased_until=timezone.now() + timedelta(minutes=1))  # another reader
    bot.write("/help")
    assert read_updates() == -1 and len(bot.sent()) == answers


# --- codes pushed ----------------------------------------------------------------------------------


def test_each_sms_of_an_assigned_rental_reaches_the_linked_chat_once_with_the_code_set_apart(
    client, bot, simulator, labelled_webhook_rental
):
    person = staff("view_smsmessage")
    linked(client, bot, person)
    labelled_webhook_rental.assignee = person
    labelled_webhook_rental.save()
    before = len(bot.sent())
    assert inject(simulator, labelled_webhook_rental, "Your Telegram code 48213 <b>&") == 200
    services.rental_poll(rental=labelled_webhook_rental)  # polling meets the same SMS
    (pushed,) = bot.sent()[before:]
    assert "<code>48213</code>" in pushed["text"] and pushed["parse_mode"] == "HTML"
    assert "Your Telegram code 48213 &lt;b&gt;&amp;" in pushed["text"]  # the stranger's text, escaped
    forward = SmsForward.objects.get()
    assert forward.state == ForwardState.SENT and "Telegram: olena" in forward.destinations


def test_a_chat_telegram_refused_once_gets_the_sms_on_retry_and_the_other_chat_not_twice(
    client, bot, simulator, labelled_webhook_rental, settings, eager_tasks
):
    settings.RENTDESK_SMS_FORWARD_RETRY_SECONDS = 1
    eager_tasks.conf.task_eager_propagates = False  # a retry is not an error to raise in the caller
    assignee, follower = staff("view_smsmessage"), staff("view_smsmessage", username="taras")
    linked(client, bot, assignee)
    linked(client, bot, follower, chat_id=OTHER_CHAT)
    labelled_webhook_rental.assignee = assignee
    labelled_webhook_rental.save()
    services.rentals_follow(rentals=[labelled_webhook_rental], user=follower)
    first, other = len(bot.sent()), len(bot.sent(OTHER_CHAT))
    bot.force(method="sendMessage", error_code=429, description="Too Many Requests: retry after 1", retry_after=1)
    inject(simulator, labelled_webhook_rental, "Code 6060")
    assert [m["text"].count("<code>6060</code>") for m in bot.sent()[first:]] == [1]
    assert [m["text"].count("<code>6060</code>") for m in bot.sent(OTHER_CHAT)[other:]] == [1]
    assert (SmsForward.objects.get().state, SmsForward.objects.get().attempts) == (ForwardState.SENT, 2)


def test_a_chat_that_blocked_the_bot_is_let_go_and_the_connect_page_says_so(
    client, bot, simulator, labelled_webhook_rental, settings, eager_tasks
):
    settings.RENTDESK_SMS_FORWARD_RETRY_SECONDS = 1
    eager_tasks.conf.task_eager_propagates = False
    person = staff("view_smsmessage")
    linked(client, bot, person)
    labelled_webhook_rental.assignee = person
    labelled_webhook_rental.save()
    bot.force(method="sendMessage", error_code=403, description="Forbidden: bot was blocked by the user")
    inject(simulator, labelled_webhook_rental, "Code 7070")
    inject(simulator, labelled_webhook_rental, "Code 7171")
    # Refused once, then nothing more is sent there: not this SMS's retries, not the next SMS.
    assert len(bot.calls("sendMessage")) == 2  # the "Connected" answer, and the refused push
    assert not TelegramLink.objects.exists()
    page = client.get(reverse("telegram_connect")).content.decode()
    assert 'id="telegram-refused"' in page and "unblock the bot" in page
    assert "https://t.me/rentdesk_demo_bot?start=" in page  # a new link is right there
    linked(client, bot, person)
    assert 'id="telegram-refused"' not in client.get(reverse("telegram_connect")).content.decode()


def test_a_rental_followed_from_the_list_sends_its_sms_to_the_followers_chat_until_unfollowed(
    client, bot, simulator, labelled_webhook_rental
):
    """Someone covering a colleague's numbers for a shift: neither assignee nor renter, they follow them."""
    cover = staff("view_rental", "view_smsmessage", username="cover")
    linked(client, bot, cover)
    changelist = reverse("admin:rentals_rental_changelist")
    chosen = {"_selected_action": [str(labelled_webhook_rental.pk)], "index": "0"}
    followed = client.post(changelist, {**chosen, "action": "follow"}, follow=True)
    assert "You now follow 1 more rental(s)." in followed.content.decode()
    page = client.get(reverse("admin:rentals_rental_change", args=[labelled_webhook_rental.pk])).content.decode()
    assert "Followed by" in page and "cover" in page
    before = len(bot.sent())
    inject(simulator, labelled_webhook_rental, "Code 7117")
    assert [m["text"].count("<code>7117</code>") for m in bot.sent()[before:]] == [1]
    # Their open Rentdesk tabs learn of its codes too (the tab's title, a desktop notification).
    seen = client.get(reverse("admin:rentals_rental_live_new_codes"), {"after": "0"}).json()
    assert "7117" in [code["code"] for code in seen["codes"]]
    client.post(changelist, {**chosen, "action": "unfollow"})
    assert not labelled_webhook_rental.followers.exists()
    before = len(bot.sent())
    inject(simulator, labelled_webhook_rental, "Code 7228")
    assert bot.sent()[before:] == []
    seen = client.get(reverse("admin:rentals_rental_live_new_codes"), {"after": "0"}).json()
    assert [code["code"] for code in seen["codes"]] == []


def test_a_renter_who_handed_the_number_on_no_longer_gets_its_codes(client, bot, simulator, labelled_webhook_rental):
    """Its codes follow its assignee (and followers), not whoever rented it for them."""
    renter, colleague = staff("view_smsmessage"), staff("view_smsmessage", username="taras")
    linked(client, bot, renter)
    linked(client, bot, colleague, chat_id=OTHER_CHAT)
    labelled_webhook_rental.assignee, labelled_webhook_rental.rented_by = colleague, renter
    labelled_webhook_rental.save()
    mine, theirs = len(bot.sent()), len(bot.sent(OTHER_CHAT))
    inject(simulator, labelled_webhook_rental, "Code 5151")
    assert bot.sent()[mine:] == []
    assert [m["text"].count("<code>5151</code>") for m in bot.sent(OTHER_CHAT)[theirs:]] == [1]


def test_a_person_who_may_not_read_sms_is_told_only_that_one_came(client, bot, simulator, labelled_webhook_rental):
    person = staff()
    linked(client, bot, person)
    labelled_webhook_rental.assignee = person
    labelled_webhook_rental.save()
    before = len(bot.sent())
    inject(simulator, labelled_webhook_rental, "Your code 31337")
    (pushed,) = bot.sent()[before:]
    assert "An SMS came to" in pushed["text"] and "31337" not in pushed["text"]


def test_a_person_who_turned_telegram_codes_off_gets_none_and_can_turn_them_on_again(
    client, bot, simulator, labelled_webhook_rental
):
    person = staff()  # without the SMS permission, "my SMS forwarding" is not theirs: the page says it
    linked(client, bot, person)
    client.post(reverse("telegram_connect"), {"action": "codes-off"})
    assert ForwardingPreference.objects.get(user=person).telegram_codes is False
    labelled_webhook_rental.assignee = person
    labelled_webhook_rental.save()
    before = len(bot.sent())
    inject(simulator, labelled_webhook_rental, "Your code 5151")
    assert bot.sent()[before:] == []
    client.post(reverse("telegram_connect"), {"action": "codes-on"})
    inject(simulator, labelled_webhook_rental, "Your code 5252")
    assert len(bot.sent()[before:]) == 1


# --- the bot's answers -----------------------------------------------------------------------------


def test_numbers_lists_the_persons_active_rentals_with_the_time_left_and_codes_only_to_sms_readers(
    client, bot, simulator, labelled_webhook_rental
):
    reader, other = staff("view_smsmessage", "view_rental"), staff("view_rental", username="taras")
    linked(client, bot, reader)
    linked(client, bot, other, chat_id=OTHER_CHAT)
    labelled_webhook_rental.assignee, labelled_webhook_rental.rented_by = reader, other
    labelled_webhook_rental.save()
    inject(simulator, labelled_webhook_rental, "Your code 8080")
    bot.write("/numbers")
    bot.write("/numbers", chat_id=OTHER_CHAT)
    read_updates()
    assert f"{spaced_number(labelled_webhook_rental.number)} (Shop #12 login)" in bot.last() and " left" in bot.last()
    assert "<code>8080</code>" in bot.last() and "8080" not in bot.last(OTHER_CHAT)
    assert f"{spaced_number(labelled_webhook_rental.number)} (Shop #12 login)" in bot.last(OTHER_CHAT)


def test_code_answers_the_newest_sms_of_a_rental_by_label_or_number(client, bot, simulator, labelled_webhook_rental):
    person = staff("view_smsmessage", "view_rental")
    linked(client, bot, person)
    inject(simulator, labelled_webhook_rental, "Old code 1111")
    inject(simulator, labelled_webhook_rental, "New code 2222")
    bot.write("/code shop #12")
    bot.write(f"/code +{labelled_webhook_rental.number}")
    bot.write("/code nothing-like-it")
    read_updates()
    by_label, by_number, missing = [m["text"] for m in bot.sent()[-3:]]
    assert "<code>2222</code>" in by_label and "1111" not in by_label
    assert "<code>2222</code>" in by_number
    assert "No number you may see matches" in missing


def test_code_tells_a_person_without_the_sms_permission_only_when_one_came(
    client, bot, simulator, labelled_webhook_rental
):
    person = staff("view_rental")
    linked(client, bot, person)
    inject(simulator, labelled_webhook_rental, "Your code 4444")
    bot.write(f"/code {labelled_webhook_rental.number}")
    read_updates()
    assert "The newest SMS came to" in bot.last() and "4444" not in bot.last()


def test_help_and_the_answers_in_the_language_the_person_linked_in(client, bot):
    person = staff()
    client.force_login(person)
    client.post(reverse("set_language"), {"language": "uk"})
    linked(client, bot, person)
    assert TelegramLink.objects.get().language == "uk"
    bot.write("/help")
    read_updates()
    assert "/numbers" in bot.last() and "ваші активні номери" in bot.last() and "Бот Rentdesk" in bot.last()
    bot.write("/start an-old-link", language_code="en")  # a phone in English: the person reads Ukrainian
    read_updates()
    assert "Термін дії посилання минув" in bot.last()


def test_a_tap_on_a_button_is_acknowledged(client, bot):
    person = staff()
    linked(client, bot, person)
    message = telegram_client().send_message(chat_id=CHAT, text="Pick", buttons=[[{"text": "A", "callback_data": "a"}]])
    requests.post(bot.control + "tap", json={"chat_id": CHAT, "message_id": message["message_id"], "data": "a"},
                  timeout=5).raise_for_status()  # fmt: skip
    read_updates()
    state = requests.get(bot.control + "state", timeout=5).json()
    assert len(state["answered"]) == 1


# --- the token -------------------------------------------------------------------------------------


def test_the_token_is_in_no_log_error_or_record(client, bot, simulator, labelled_webhook_rental, caplog, settings):
    caplog.set_level(logging.DEBUG)
    person = staff("view_smsmessage")
    linked(client, bot, person)
    labelled_webhook_rental.assignee = person
    labelled_webhook_rental.save()
    bot.force(method="getUpdates", error_code=502, description=f"Bad Gateway for /bot{TOKEN}/getUpdates")
    assert read_updates() == 0
    for _ in range(3):
        bot.force(method="sendMessage", error_code=500, description=f"echo {TOKEN}")
    inject(simulator, labelled_webhook_rental, "Code 9999")
    unreachable = TelegramClient(token=TOKEN, api_url="http://127.0.0.1:9")
    with pytest.raises(TelegramError) as failure:
        unreachable.get_me()
    written = " ".join([caplog.text, str(failure.value), repr(failure.value.__context__),
                        TelegramPoll.objects.get().last_error, SmsForward.objects.get().last_error])  # fmt: skip
    assert TelegramPoll.objects.get().last_error and SmsForward.objects.get().last_error
    assert TOKEN not in written and TOKEN.split(":")[1] not in written


def test_the_bots_api_host_opens_no_door_to_the_chat_urls_people_write(client, bot, chat_server, settings):
    """The stand-in (or a local Bot API server) is on loopback: the bot reaches it, a chat URL a person
    writes naming that host does not, on save or on send."""
    settings.RENTDESK_CHAT_ALLOWED_HOSTS = []  # the team allowed nothing inside
    inside = f"json://127.0.0.1:{chat_server.server.server_address[1]}/"
    with pytest.raises(ValidationError, match=r"127\.0\.0\.1 \(loopback\)"):
        validate_chat_urls(inside)
    assert post_plain(inside, title="t", body="b") and chat_server.connections == 0
    linked(client, bot, staff())  # while the bot itself still reads and writes through its host
    assert "Connected" in bot.last()


def test_the_log_filter_scrubs_a_bot_token_from_a_url():
    record = logging.LogRecord("x", logging.WARNING, "", 0, "GET https://api.telegram.org/bot%s/getMe", (TOKEN,), None)
    RedactSecretsFilter().filter(record)
    assert TOKEN.split(":")[1] not in record.getMessage() and "/bot[REDACTED]/getMe" in record.getMessage()


# --- make run --------------------------------------------------------------------------------------


def test_telegram_chat_writes_to_the_stand_in_and_prints_the_bots_answer(client, bot, capsys):
    """What a person trying `make run` does: link from the page, then write to the bot from a shell."""
    code = code_from_page(client, staff())
    done = threading.Event()

    def bot_reading() -> None:  # the worker's beat-driven reads, while the command waits for the answer
        while not done.is_set():
            read_updates()
        connection.close()

    reader = threading.Thread(target=bot_reading)
    reader.start()
    try:
        status, out, _ = manage("telegram_chat", f"/start {code}", "--chat", str(CHAT), capsys=capsys)
    finally:
        done.set()
        reader.join()
    assert status == 0 and "bot answered:" in out and "Connected" in out
    assert TelegramLink.objects.get().chat_id == CHAT


def test_telegram_chat_finds_make_runs_stand_in_from_another_shell(bot, settings, simulator, capsys, monkeypatch):
    """`make run` gives the stand-in's token to its own processes only: a person's second shell has
    none, and the command still writes to the simulator on SIMULATOR_PORT, as docs/telegram.md says."""
    worker_client = telegram_client()  # the worker's, started by make run with the stand-in's token
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_API_URL = "", "https://api.telegram.org"
    settings.SIMULATOR_PORT = simulator.server.server_address[1]
    done = threading.Event()

    def bot_reading() -> None:
        while not done.is_set():
            services.telegram_updates_read(client=worker_client, now=timezone.now())
        connection.close()

    reader = threading.Thread(target=bot_reading)
    reader.start()
    try:
        status, out, err = manage("telegram_chat", "/numbers", "--chat", str(CHAT), "--language", "uk",
                                  capsys=capsys)  # fmt: skip
    finally:
        done.set()
        reader.join()
    # As the phone shows it: the HTML's entities read as the characters they stand for.
    assert status == 0 and "Цей чат не під'єднано до Rentdesk" in out, err


def test_telegram_chat_refuses_a_real_telegram(settings, capsys):
    settings.TELEGRAM_API_URL = "http://127.0.0.1:9"
    status, _, err = manage("telegram_chat", "/help", capsys=capsys)
    assert status == 1 and "stand-in" in err and "Traceback" not in err


# --- the webhook -----------------------------------------------------------------------------------


@pytest.fixture
def webhook(bot, settings, live_server, eager_tasks, capsys):
    settings.PUBLIC_BASE_URL = live_server.url
    status, out, _ = manage("telegram_webhook", "set", capsys=capsys)
    assert status == 0 and "/hooks/telegram/…/" in out
    return requests.get(bot.control + "state", timeout=5).json()["webhook"]


def test_with_the_webhook_set_updates_come_by_it_and_are_answered_once(client, bot, webhook):
    person = staff()
    code = code_from_page(client, person)
    bot.write(f"/start {code}")  # the stand-in POSTs it to the webhook, with the secret header
    assert TelegramLink.objects.get(user=person).chat_id == CHAT and "Connected" in bot.last()
    update = {"update_id": TelegramPoll.objects.get().offset - 1, "message": {
        "message_id": 1, "chat": {"id": CHAT, "type": "private"}, "text": "/help"}}  # fmt: skip
    again = requests.post(webhook["url"], json=update, timeout=5,
                          headers={"X-Telegram-Bot-Api-Secret-Token": webhook["secret_token"]})  # fmt: skip
    assert again.status_code == 200 and "Connected" in bot.last()  # delivered again: not answered twice
    assert read_updates() == 0  # getUpdates is refused while a webhook is set; nothing is lost


def test_the_webhook_refuses_a_wrong_secret_and_a_body_that_is_no_update(bot, webhook):
    headers = {"X-Telegram-Bot-Api-Secret-Token": webhook["secret_token"]}
    wrong_path = webhook["url"].replace("/hooks/telegram/", "/hooks/telegram/x")
    assert requests.post(wrong_path, json={"update_id": 1}, headers=headers, timeout=5).status_code == 404
    wrong_header = {"X-Telegram-Bot-Api-Secret-Token": "guess"}
    assert requests.post(webhook["url"], json={"update_id": 1}, headers=wrong_header, timeout=5).status_code == 404
    assert requests.post(webhook["url"], data=b"\xff{", headers=headers, timeout=5).status_code == 400
    assert requests.post(webhook["url"], data=b"[" * 60_000, headers=headers, timeout=5).status_code == 400
    assert bot.sent() == []


def test_deleting_the_webhook_brings_back_polling(client, bot, webhook, capsys):
    assert read_updates() == 0 and read_updates() == -1  # refused while the webhook is set: paused, not
    assert len(bot.calls("getUpdates")) == 1  # asked again every 5 s
    assert manage("telegram_webhook", "delete", capsys=capsys)[0] == 0
    bot.write("/help")
    assert read_updates() == 1 and "not connected" in bot.last()


# --- renting from the bot --------------------------------------------------------------------------


@pytest.fixture
def renter(client, bot, settings, account, catalog):
    """A person whose role may rent, linked; renting from the bot turned on by the team."""
    settings.RENTDESK_TELEGRAM_RENT = True
    person = staff("rent_number", "view_rental", "view_smsmessage")
    linked(client, bot, person)
    return person


def tap(bot, message: dict[str, Any], button: int) -> None:
    data = message["reply_markup"]["inline_keyboard"][0][button]["callback_data"]
    requests.post(bot.control + "tap", json={"chat_id": CHAT, "message_id": message["message_id"], "data": data},
                  timeout=5).raise_for_status()  # fmt: skip
    read_updates()


def offered(bot, text: str) -> dict[str, Any]:
    bot.write(text)
    read_updates()
    return bot.sent()[-1]


def test_renting_from_the_bot_is_off_unless_the_team_turns_it_on(client, bot, account, catalog):
    linked(client, bot, staff("rent_number"))
    assert "off for this team" in offered(bot, "/rent tg 1")["text"]
    assert not RentAttempt.objects.exists()


def test_a_rent_confirmed_with_the_button_is_made_once_in_the_persons_name(renter, bot, simulator):
    offer = offered(bot, "/rent tg 1 24 Shop #12 login")
    assert "Rent a Telegram number in Ukraine for 24 h with account Sandbox?" in offer["text"]
    tap(bot, offer, 0)
    tap(bot, offer, 0)  # a second tap rents nothing more
    attempt = RentAttempt.objects.get()
    assert (attempt.via, attempt.requested_by, attempt.label) == ("telegram", renter, "Shop #12 login")
    rental = Rental.objects.get()
    assert rental.rented_by == renter and len(simulator.requests("getRentNumber")) == 1
    first, second = [m["text"] for m in bot.sent()[-2:]]
    assert f"Rented {spaced_number(rental.number)}" in first and "expired or was answered" in second


def test_cancel_rents_nothing_and_a_person_who_may_not_rent_is_told_so(renter, client, bot, simulator):
    tap(bot, offered(bot, "/rent tg 1"), 1)
    assert "Not rented." in bot.last() and not RentAttempt.objects.exists()
    renter.user_permissions.remove(Permission.objects.get(codename="rent_number"))
    renter = type(renter).objects.get(pk=renter.pk)  # permissions are cached on the instance
    assert "may not rent" in offered(bot, "/rent tg 1")["text"] and simulator.requests("getRentNumber") == []


def test_a_rent_the_form_refuses_says_why(renter, bot):
    assert "no active country with id 99" in offered(bot, "/rent tg 99")["text"]
    assert not RentAttempt.objects.exists()


def test_the_budgets_apply_to_a_rent_from_the_bot(renter, bot, simulator, account):
    ProviderAccount.objects.filter(pk=account.pk).update(monthly_budget=Decimal("100"))  # price unknown: refused
    tap(bot, offered(bot, "/rent tg 1"), 0)
    attempt = RentAttempt.objects.get()
    assert (attempt.state, attempt.error_token, attempt.via) == (AttemptState.FAILED, "PRICE_UNKNOWN", "telegram")
    assert "Not sent" in bot.last() and simulator.requests("getRentNumber") == []


def test_where_two_factors_are_required_the_authenticators_code_confirms_a_rent(renter, bot, settings, simulator):
    settings.RENTDESK_REQUIRE_2FA = True
    assert "set up your authenticator app" in offered(bot, "/rent tg 1")["text"]
    device = TOTPDevice.objects.create(user=renter, name="app", confirmed=True)
    offer = offered(bot, "/rent tg 1")
    assert offer["reply_markup"] is None and "/confirm" in offer["text"]
    offer_id = TelegramRentOffer.objects.latest("pk").pk
    bot.write(f"/confirm {offer_id} 000000" if code_for(device) != "000000" else f"/confirm {offer_id} 111111")
    read_updates()
    assert "not right" in bot.last() and not RentAttempt.objects.exists()
    TOTPDevice.objects.get(pk=device.pk).throttle_reset()  # django-otp's wait after a wrong code, over
    offered(bot, "/rent tg 1")
    bot.write(f"/confirm {TelegramRentOffer.objects.latest('pk').pk} {code_for(device)}")
    read_updates()
    assert "Rented +" in bot.last() and RentAttempt.objects.get().requested_by == renter


# --- a real worker ---------------------------------------------------------------------------------


def test_a_worker_with_beat_reads_the_bots_updates_and_answers(bot, simulator, redis_url, tmp_path, monkeypatch):
    """The path `make run` and production take: beat schedules the read, a worker long-polls and answers."""
    person = staff()
    code = services.telegram_link_code_create(user=person, language="en", now=timezone.now())
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_API_URL", simulator.server.base_url)
    log = tmp_path / "worker.log"
    worker = start_celery(["worker", "--beat", "--concurrency", "2"], redis_url=redis_url, outbox=tmp_path, log=log)
    try:
        bot.write(f"/start {code}")
        wait_until(lambda: TelegramLink.objects.filter(user=person).exists() or worker.poll() is not None, seconds=60)
        bot.write("/numbers")
        wait_until(lambda: len(bot.sent()) >= 2 or worker.poll() is not None, seconds=60)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert TelegramLink.objects.get(user=person).chat_id == CHAT, log.read_text()[-3000:]
    connected, numbers = [message["text"] for message in bot.sent()]
    assert connected.startswith("Connected") and numbers.startswith("You have no active numbers")
    assert TOKEN.split(":")[1] not in log.read_text()


def test_production_refuses_a_plain_http_bot_api_url(tmp_path):
    """The token travels in the Bot API's URL: in production only over https."""
    from ..operations.test_deploy_files import write_production_env

    env_file = tmp_path / "rentdesk.env"
    assert write_production_env(env_file, "rentdesk.example.com").returncode == 0
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SMSONLINE_", "DATABASE_", "REDIS_"))}
    env = {**clean, "DJANGO_SETTINGS_MODULE": "config.settings.production", "RENTDESK_ENV_FILE": str(env_file),
           "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": "http://telegram-gateway.example"}  # fmt: skip
    check = [sys.executable, "manage.py", "check"]
    refused = subprocess.run(check, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "TELEGRAM_API_URL must be an https:// URL" in refused.stderr
    assert TOKEN not in refused.stderr
    env["TELEGRAM_API_URL"] = "https://api.telegram.org"
    assert subprocess.run(check, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120).returncode == 0


def test_my_sms_forwarding_offers_the_telegram_switch_only_while_there_is_a_bot(client, bot, settings):
    client.force_login(staff("view_smsmessage", "add_forwardingpreference"))
    add = reverse("admin:rentals_forwardingpreference_add")
    assert 'name="telegram_codes"' in client.get(add).content.decode()
    settings.TELEGRAM_BOT_TOKEN = ""
    assert 'name="telegram_codes"' not in client.get(add).content.decode()


def test_the_front_page_says_whether_the_bot_is_reading_its_updates(client, bot, settings):
    """A revoked token or a stopped worker shows where ops look, not only in a log."""
    boss = staff("view_rental", username="boss")
    client.force_login(boss)

    def health() -> str:
        page = client.get("/admin/").content.decode()
        return re.search(r'<div class="module" id="rentdesk-health">.*?</div>', page, re.S).group(0)

    assert "Telegram bot" in health() and "No update read yet" in health()
    read_updates()
    assert "OK: updates last read" in health()
    bot.force(method="getUpdates", error_code=401, description="Unauthorized")
    read_updates()
    assert "Telegram refuses to give its updates: getUpdates: Unauthorized" in health()
    assert TOKEN not in client.get("/admin/").content.decode()
    settings.TELEGRAM_BOT_TOKEN = ""
    assert "Telegram bot" not in health()
