"""SMS forwarded to chat: once per SMS however it arrived, plain text, to the chosen chat, through outages."""

import socket
import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from rentals import services
from rentals.models import ForwardingPreference, ForwardState, Rental, SmsForward, SmsMessage

from ..conftest import ChatServer, start_celery, wait_until
from ..factories import UserFactory, rent_number

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def team_chat(settings, chat_server):
    settings.RENTDESK_SMS_CHAT_URLS = [chat_server.apprise_url]
    return chat_server


SHOP_LABEL = "Shop #12 login"


@pytest.fixture
def labelled_webhook_rental(webhook_rental):
    """The webhook rental, used for the "Shop #12 login" (the label a chat post names)."""
    Rental.objects.filter(pk=webhook_rental.pk).update(label=SHOP_LABEL)
    webhook_rental.refresh_from_db()
    return webhook_rental


def inject(simulator, rental_or_id, text, *, webhook=True, sender="Telegram"):
    rent_id = rental_or_id.provider_rent_id if isinstance(rental_or_id, Rental) else rental_or_id
    reply = simulator._post_json("sms", {"rent_id": int(rent_id), "text": text, "sender": sender, "webhook": webhook})
    return reply["webhook_status"]


def test_a_webhook_sms_reaches_the_chat_once_with_number_label_sender_code_and_link(
    simulator, labelled_webhook_rental, team_chat
):
    assert inject(simulator, labelled_webhook_rental, "Your Telegram code 48213") == 200
    services.rental_poll(rental=labelled_webhook_rental)  # polling meets the same SMS
    (post,) = team_chat.received
    assert post["title"] == f"Code 48213 for {labelled_webhook_rental} (Shop #12 login)"
    for line in (
        f"Number: {labelled_webhook_rental}",
        "Used for: Shop #12 login",
        "From: Telegram",
        "Code: 48213",
        "Text: Your Telegram code 48213",
        f"/admin/rentals/rental/{labelled_webhook_rental.pk}/change/",
    ):
        assert line in post["message"]
    forward = SmsForward.objects.get()
    assert forward.state == ForwardState.SENT and forward.attempts == 1 and forward.sent_at is not None
    assert forward.destinations == team_chat.apprise_url  # masked form: this URL has no secret to hide


def test_a_polled_sms_is_forwarded_once(simulator, labelled_webhook_rental, team_chat):
    inject(simulator, labelled_webhook_rental, "Code 2222", webhook=False)
    assert services.rental_poll(rental=labelled_webhook_rental).new_messages == 1
    assert services.rental_poll(rental=labelled_webhook_rental).new_messages == 0
    assert [p["title"] for p in team_chat.received] == [f"Code 2222 for {labelled_webhook_rental} (Shop #12 login)"]


def test_an_sms_of_a_rent_found_by_reconciliation_is_forwarded_once(
    simulator, account, catalog, settings, live_server, eager_tasks, team_chat, short_timeouts
):
    settings.PUBLIC_BASE_URL = live_server.url
    simulator.force(delay=2.0)  # SMS.online rents, its answer is lost
    eager_tasks.conf.task_always_eager = False  # the quick reconciliation is queued, not run yet
    assert rent_number(account, catalog, webhook=True, label=SHOP_LABEL).state == "unknown"
    eager_tasks.conf.task_always_eager = True
    (sim_rent,) = simulator.rents()
    assert inject(simulator, sim_rent["id"], "Code 5151") == 404  # no rental yet: the webhook is lost too
    for _ in range(2):  # reconciliation records the rent; polling then finds its SMS
        services.account_reconcile(account_id=account.pk, now=timezone.now())
        services.rental_poll(rental=Rental.objects.get())
    assert SmsMessage.objects.count() == 1 and [p["title"][:9] for p in team_chat.received] == ["Code 5151"]


@pytest.fixture
def eager_retries(eager_tasks, settings):
    """A task's retry runs at once, as a worker would run it once its delay is over."""
    settings.RENTDESK_SMS_FORWARD_RETRY_SECONDS = 1
    eager_tasks.conf.task_eager_propagates = False  # a retry is not an error to raise in the caller


def test_a_chat_that_is_down_gets_the_sms_once_it_is_back(simulator, labelled_webhook_rental, team_chat, eager_retries):
    team_chat.refuse_next(2)
    inject(simulator, labelled_webhook_rental, "Code 6060")
    assert SmsMessage.objects.get().code == "6060"  # stored whatever the chat did
    (post,) = team_chat.received
    assert "Code: 6060" in post["message"] and team_chat.refused == 2
    forward = SmsForward.objects.get()
    assert (forward.state, forward.attempts, forward.last_error) == (ForwardState.SENT, 3, "")


def test_a_chat_down_for_good_is_given_up_on_with_the_error_kept(
    simulator, labelled_webhook_rental, team_chat, eager_retries, settings
):
    settings.RENTDESK_SMS_FORWARD_ATTEMPTS = 3
    team_chat.refuse_next(10)
    inject(simulator, labelled_webhook_rental, "Code 7070")
    forward = SmsForward.objects.get()
    assert (forward.state, forward.attempts, team_chat.received) == (ForwardState.FAILED, 3, [])
    assert "json://" in forward.last_error
    assert services.forwards_to_requeue(now=forward.created_at + services.forwarding.REQUEUE_AFTER * 5) == []


def test_a_forwarding_that_stalls_on_one_chat_is_not_posted_again_to_the_others(
    simulator, account, catalog, settings, chat_server
):
    """A worker stalls posting to the second of three chats (or dies there) and its lease runs out: the
    next one posts only where the SMS has not gone, and the stalled one, when it wakes, stops there."""
    stalled_chat, third_chat = ChatServer(), ChatServer()
    for chat in (stalled_chat, third_chat):
        threading.Thread(target=chat.server.serve_forever, daemon=True).start()
    settings.RENTDESK_SMS_CHAT_URLS = [chat_server.apprise_url, stalled_chat.apprise_url, third_chat.apprise_url]
    rental = rent_number(account, catalog, webhook=True, label=SHOP_LABEL).rental
    inject(simulator, rental, "Code 4242", webhook=False)
    services.rental_poll(rental=rental)  # stored; its forwarding task queued, not run
    forward_id = SmsForward.objects.get().pk
    stalled_chat.hold_next()
    stalled = []
    first = threading.Thread(target=lambda: stalled.append(services.sms_forward(sms_id=forward_id, now=timezone.now())))
    try:
        first.start()
        assert stalled_chat.holding.wait(timeout=10)
        after_the_lease = timezone.now() + services.forwarding.FORWARD_LEASE + timedelta(seconds=1)
        assert services.sms_forward(sms_id=forward_id, now=after_the_lease) == ForwardState.SENT
    finally:
        stalled_chat.release.set()
        first.join(timeout=30)
        for chat in (stalled_chat, third_chat):
            chat.server.shutdown()
            chat.server.server_close()
    assert stalled == ["lease lost"]
    assert (len(chat_server.received), len(third_chat.received)) == (1, 1)
    forward = SmsForward.objects.get()
    assert forward.state == ForwardState.SENT and len(forward.delivered) == 3


def test_sms_text_arrives_as_plain_text(simulator, labelled_webhook_rental, team_chat):
    inject(
        simulator,
        labelled_webhook_rental,
        "<b>Hi</b> @everyone <!channel> *bold*\x1b[31m code 1234\u202e",
        sender="@here",
    )
    message = team_chat.received[0]["message"]
    assert "Text: <b>Hi</b> @\u200beveryone <\u200b!channel> *bold*[31m code 1234\n" in message
    assert "From: @\u200bhere" in message and "\x1b" not in message and "\u202e" not in message


def test_a_rental_set_to_none_is_not_forwarded(simulator, labelled_webhook_rental, team_chat):
    Rental.objects.filter(pk=labelled_webhook_rental.pk).update(sms_chat_urls="none")
    inject(simulator, labelled_webhook_rental, "Code 1111")
    assert team_chat.received == [] and not SmsForward.objects.exists()


def test_the_assignee_chat_replaces_the_team_chat_only_if_the_assignee_may_read_sms(
    simulator, labelled_webhook_rental, team_chat
):
    team_url = team_chat.apprise_url
    own_url = team_url.replace("/hook", "/olena")
    olena = UserFactory(username="olena", is_staff=True)
    ForwardingPreference.objects.create(user=olena, sms_chat_urls=own_url)
    Rental.objects.filter(pk=labelled_webhook_rental.pk).update(assignee=olena)
    labelled_webhook_rental.refresh_from_db()
    assert services.forward_destinations(labelled_webhook_rental) == [team_url]  # olena may not read SMS
    olena.groups.add(Group.objects.get(name="Operator"))
    olena = User.objects.get(pk=olena.pk)  # permissions are cached on the instance
    labelled_webhook_rental.assignee = olena
    assert services.forward_destinations(labelled_webhook_rental) == [own_url]
    Rental.objects.filter(pk=labelled_webhook_rental.pk).update(sms_chat_urls=f"{team_url}\n{own_url}")
    labelled_webhook_rental.refresh_from_db()
    assert services.forward_destinations(labelled_webhook_rental) == [team_url, own_url]  # the rental's own choice wins


def test_an_assignee_who_left_the_team_gets_no_sms_in_their_own_chat(simulator, labelled_webhook_rental, team_chat):
    """Made non-staff without the admin's save (a directory sync writing the table, say): the SMS goes to
    the team's chat, as for a rental nobody takes care of."""
    own_chat = ChatServer()
    threading.Thread(target=own_chat.server.serve_forever, daemon=True).start()
    try:
        olena = UserFactory(username="olena", is_staff=True)
        olena.groups.add(Group.objects.get(name="Operator"))
        ForwardingPreference.objects.create(user=olena, sms_chat_urls=own_chat.apprise_url)
        Rental.objects.filter(pk=labelled_webhook_rental.pk).update(assignee=olena)
        inject(simulator, labelled_webhook_rental, "Code 4141")
        assert len(own_chat.received) == 1 and team_chat.received == []  # tasks run as the webhook is stored
        User.objects.filter(pk=olena.pk).update(is_staff=False)
        inject(simulator, labelled_webhook_rental, "Code 4242")
        (post,) = team_chat.received
        assert "4242" in post["message"] and len(own_chat.received) == 1
    finally:
        own_chat.server.shutdown()
        own_chat.server.server_close()


def login(client, role):
    user = User.objects.create_user(f"{role.lower()}-user", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


def test_only_sms_readers_see_and_set_where_a_rentals_sms_go(client, simulator, labelled_webhook_rental, team_chat):
    inject(simulator, labelled_webhook_rental, "Code 3131")
    page_url = reverse("admin:rentals_rental_change", args=[labelled_webhook_rental.pk])
    login(client, "Viewer")
    page = client.get(page_url).content.decode()
    assert "sms_chat_urls" not in page and "Code 3131" not in page
    login(client, "Operator")
    page = client.get(page_url).content.decode()
    assert 'name="sms_chat_urls"' in page and "to json://127.0.0.1:" in page  # how the SMS was forwarded
    assert (
        "Not an apprise URL"
        in client.post(page_url, rental_form(labelled_webhook_rental, "not-a-chat-url")).content.decode()
    )
    client.post(page_url, rental_form(labelled_webhook_rental, "none"))
    assert Rental.objects.get(pk=labelled_webhook_rental.pk).sms_chat_urls == "none"


def rental_form(rental, sms_chat_urls):
    """The rental's change form as an Operator sends it, with ``sms_chat_urls`` written in."""
    return {"label": rental.label, "notes": "", "assignee": "", "reminders_enabled": "on", "auto_renew_hours": "24",
            "auto_renew_before_hours": "24", "auto_renew_max_price": "",
            "sms_chat_urls": sms_chat_urls, "messages-TOTAL_FORMS": "0", "messages-INITIAL_FORMS": "0",
            "extensions-TOTAL_FORMS": "0", "extensions-INITIAL_FORMS": "0",
            "reminders-TOTAL_FORMS": "0", "reminders-INITIAL_FORMS": "0"}  # fmt: skip


def test_each_sms_reader_sets_their_own_chat_and_nobody_elses(client, db):
    changelist = reverse("admin:rentals_forwardingpreference_changelist")
    login(client, "Viewer")
    assert client.get(changelist).status_code == 403  # may not read SMS: nothing to forward to them
    operator = login(client, "Operator")
    client.post(reverse("admin:rentals_forwardingpreference_add"), {"sms_chat_urls": "json://chat.example/me"})
    mine = ForwardingPreference.objects.get()
    assert mine.user == operator
    other = ForwardingPreference.objects.create(user=UserFactory(username="taras"), sms_chat_urls="none")
    assert "taras" not in client.get(changelist).content.decode()
    response = client.get(reverse("admin:rentals_forwardingpreference_change", args=[other.pk]))
    assert response.status_code in (302, 403, 404)


def test_a_worker_forwards_a_polled_sms_through_a_chat_outage(
    simulator, account, catalog, redis_url, tmp_path, monkeypatch
):
    """make run's path end to end: beat polls SMS.online, a worker forwards, retrying while the chat is down."""
    rental = rent_number(account, catalog, webhook=True, label=SHOP_LABEL).rental
    chat = ChatServer()
    threading.Thread(target=chat.server.serve_forever, daemon=True).start()
    chat.refuse_next(2)
    inject(simulator, rental, "Your code 7305", webhook=False)
    every_second = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(name="Poll SMS").update(interval=every_second)
    monkeypatch.setenv("RENTDESK_SMS_CHAT_URLS", chat.apprise_url)
    monkeypatch.setenv("RENTDESK_CHAT_ALLOWED_HOSTS", "127.0.0.1")  # the test's chat is on loopback
    monkeypatch.setenv("RENTDESK_SMS_FORWARD_RETRY_SECONDS", "1")
    log = tmp_path / "worker.log"
    worker = start_celery(["worker", "--beat", "--concurrency", "2"], redis_url=redis_url, outbox=tmp_path, log=log)
    try:
        wait_until(lambda: chat.received or worker.poll() is not None, seconds=60)
        time.sleep(3)  # more polling cycles: none may forward it again
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        chat.server.shutdown()
        chat.server.server_close()
    assert len(chat.received) == 1 and chat.refused == 2, log.read_text()[-3000:]
    assert "Code: 7305" in chat.received[0]["message"]
    assert SmsForward.objects.get().state == ForwardState.SENT


# --- Where chat posts may go ------------------------------------------------------------------------


@pytest.fixture
def inside_chat(settings):
    """A chat server on loopback that the team did not name in RENTDESK_CHAT_ALLOWED_HOSTS: an address
    inside, as a metadata service or a database port would be."""
    settings.RENTDESK_CHAT_ALLOWED_HOSTS = []
    chat = ChatServer()
    threading.Thread(target=chat.server.serve_forever, daemon=True).start()
    yield chat
    chat.server.shutdown()
    chat.server.server_close()


@pytest.fixture
def give_up_at_once(eager_retries, settings):
    settings.RENTDESK_SMS_FORWARD_ATTEMPTS = 1


def test_a_chat_url_leading_inside_the_network_is_refused_on_save(client, labelled_webhook_rental, settings):
    page_url = reverse("admin:rentals_rental_change", args=[labelled_webhook_rental.pk])
    login(client, "Operator")
    for url, shown in (("json://127.0.0.1:5432/hook", "127.0.0.1 (loopback)"),
                       ("json://169.254.169.254/latest/meta-data", "169.254.169.254 (link-local)"),
                       ("json://10.1.2.3/hook", "10.1.2.3 (private)"),
                       ("xml://192.168.0.10/", "192.168.0.10 (private)"),
                       ("form://2130706433/", "127.0.0.1 (loopback)"), ("json://[::1]:8080/", "::1 (loopback)"),
                       ("json://localhost:6379/", "localhost (loopback)"), ("json://224.0.0.251/", "(multicast)"),
                       ("json://0.0.0.0:8000/", "(unspecified)"), ("json://240.0.0.1/", "(reserved)")):  # fmt: skip
        page = client.post(page_url, rental_form(labelled_webhook_rental, url)).content.decode()
        assert "leads inside the network" in page and shown in page, url
    assert Rental.objects.get(pk=labelled_webhook_rental.pk).sms_chat_urls == ""
    settings.RENTDESK_CHAT_ALLOWED_HOSTS = ["10.1.0.0/16", "chat.corp.example"]
    for url in ("json://10.1.2.3/hook", "json://chat.corp.example/hook"):
        assert client.post(page_url, rental_form(labelled_webhook_rental, url)).status_code == 302
        assert Rental.objects.get(pk=labelled_webhook_rental.pk).sms_chat_urls == url


def test_a_chat_url_adding_headers_or_another_method_is_refused_on_save(client, labelled_webhook_rental):
    page_url = reverse("admin:rentals_rental_change", args=[labelled_webhook_rental.pk])
    login(client, "Operator")
    url = "json://chat.example.com/hook?method=PUT&+Authorization=Bearer%20stolen&-page=2&:extra=1"
    page = client.post(page_url, rental_form(labelled_webhook_rental, url)).content.decode()
    assert "sets +Authorization, -page, :extra, method=PUT" in page
    assert page.count("stolen") == 1  # in the field as written; the error names no value
    assert Rental.objects.get(pk=labelled_webhook_rental.pk).sms_chat_urls == ""
    plain_url = "json://chat.example.com/hook?method=post"  # the method apprise uses anyway
    assert client.post(page_url, rental_form(labelled_webhook_rental, plain_url)).status_code == 302


def test_a_forward_inside_the_network_is_refused_and_reaches_nothing(
    simulator, labelled_webhook_rental, inside_chat, settings, give_up_at_once, caplog
):
    settings.RENTDESK_SMS_CHAT_URLS = [inside_chat.apprise_url]  # the environment's URLs are never saved by a form
    inject(simulator, labelled_webhook_rental, "Code 1212")
    assert (inside_chat.connections, inside_chat.requests) == (0, [])
    forward = SmsForward.objects.get()
    assert forward.state == ForwardState.FAILED
    assert forward.last_error == f"{inside_chat.apprise_url}: could not be delivered"
    assert "127.0.0.1 is loopback" in caplog.text  # why, for whoever runs the server


@pytest.mark.parametrize("allowed, host", [("127.0.0.1", "127.0.0.1"), ("127.0.0.0/8", "127.0.0.1"),
                                           ("localhost", "localhost")])  # fmt: skip
def test_a_chat_the_team_named_gets_the_sms(simulator, labelled_webhook_rental, inside_chat, settings, allowed, host):
    """By address, by network, or by name (resolved by the system's hosts file)."""
    settings.RENTDESK_CHAT_ALLOWED_HOSTS = [allowed]
    settings.RENTDESK_SMS_CHAT_URLS = [f"json://{host}:{inside_chat.server.server_address[1]}/hook"]
    inject(simulator, labelled_webhook_rental, "Code 5656")
    assert [post["title"][:9] for post in inside_chat.received] == ["Code 5656"]
    assert SmsForward.objects.get().state == ForwardState.SENT


def test_headers_and_methods_written_into_a_chat_url_never_reach_the_chat(
    simulator, labelled_webhook_rental, chat_server, settings, give_up_at_once
):
    settings.RENTDESK_SMS_CHAT_URLS = [
        f"{chat_server.apprise_url}?method=PUT&+Authorization=Bearer%20stolen&+X-Injected=1&:text=forged"
    ]
    inject(simulator, labelled_webhook_rental, "Code 3434")
    assert chat_server.requests == []  # no PUT, no header, no forged field: nothing at all
    forward = SmsForward.objects.get()
    assert forward.last_error == f"{chat_server.apprise_url}: could not be delivered"


def test_a_name_that_resolves_inside_by_the_time_the_sms_is_posted_is_refused(
    client, simulator, labelled_webhook_rental, inside_chat, monkeypatch, give_up_at_once
):
    """Public when the URL is saved, loopback when the SMS is posted (DNS rebinding). DNS cannot run
    here, so the system's resolver is made to answer for one name; every other name is looked up as ever."""
    real_getaddrinfo, answer = socket.getaddrinfo, {"address": "93.184.215.14"}

    def resolver(host, port, family=0, type=0, proto=0, flags=0):
        if host == "chat.rebind.example" and not flags & socket.AI_NUMERICHOST:
            host = answer["address"]
        return real_getaddrinfo(host, port, family, type, proto, flags)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    login(client, "Operator")
    url = f"json://chat.rebind.example:{inside_chat.server.server_address[1]}/hook"
    page_url = reverse("admin:rentals_rental_change", args=[labelled_webhook_rental.pk])
    assert client.post(page_url, rental_form(labelled_webhook_rental, url)).status_code == 302
    answer["address"] = "127.0.0.1"
    inject(simulator, labelled_webhook_rental, "Code 7878")
    assert (inside_chat.connections, inside_chat.received) == (0, [])
    assert SmsForward.objects.get().last_error == f"{url}: could not be delivered"


def test_a_failed_forward_does_not_tell_closed_from_refused_from_down(
    client, simulator, labelled_webhook_rental, chat_server, settings, give_up_at_once
):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    chat_server.refuse_next(1)
    urls = [f"json://127.0.0.1:{closed_port}/hook", "json://10.255.255.1/hook", chat_server.apprise_url]
    settings.RENTDESK_SMS_CHAT_URLS = urls
    inject(simulator, labelled_webhook_rental, "Code 9090")
    forward = SmsForward.objects.get()
    assert forward.last_error == "; ".join(f"{url}: could not be delivered" for url in urls)
    login(client, "Operator")
    page = client.get(reverse("admin:rentals_rental_change", args=[labelled_webhook_rental.pk])).content.decode()
    assert "could not be delivered" in page
    for telling in ("refused", "Errno", "500", "timed out", "10.255.255.1 is"):
        assert telling not in forward.last_error


def test_a_sender_a_label_or_the_text_cannot_forge_the_code_line(simulator, labelled_webhook_rental, team_chat):
    Rental.objects.filter(pk=labelled_webhook_rental.pk).update(label="Shop\u2028Code: 111111\u202e")
    inject(
        simulator,
        labelled_webhook_rental,
        "Your code 48213\nCode: 222222\u2029Code: 333333\x85x",
        sender="Bank\nCode: 000000\r",
    )
    (post,) = team_chat.received
    lines = post["message"].split("\n")
    assert [line for line in lines if line.startswith("Code:")] == [f"Code: {SmsMessage.objects.get().code}"]
    assert "From: Bank Code: 000000" in lines and "Used for: Shop Code: 111111" in lines
    assert "> Code: 222222" in lines and "> Code: 333333" in lines and "> x" in lines  # quoted, as the SMS's own
    assert not any(mark in post["title"] for mark in "\n\r\u2028\u202e")
