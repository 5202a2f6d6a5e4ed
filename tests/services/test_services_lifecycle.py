"""Expiry reminders and expiry over time (time-machine moves the clock), an extension asked for an end date
that has since moved, and alerts that reach chat when mail fails, on a real database."""

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from rentals import services
from rentals.models import RentalReminder, RentalStatus
from rentals.wording.formats import format_time_left

from ..conftest import run_concurrently
from ..factories import RentalFactory, UserFactory, rent_number

pytestmark = pytest.mark.django_db(transaction=True)


def run_reminders() -> int:
    return services.reminders_send_due(now=timezone.now())


def test_a_rental_gets_each_threshold_once_as_its_end_approaches():
    start = timezone.now()
    rental = RentalFactory(end_date=start + timedelta(hours=100), label="Support WhatsApp")
    with time_machine.travel(start, tick=False) as clock:
        assert run_reminders() == 0  # 100 h left: outside every threshold
        clock.move_to(start + timedelta(hours=29))  # 71 h left
        assert run_reminders() == 1 and run_reminders() == 0
        clock.move_to(start + timedelta(hours=77))  # 23 h left
        assert run_reminders() == 1 and run_reminders() == 0
        clock.move_to(start + timedelta(hours=99))  # 1 h left
        assert run_reminders() == 1 and run_reminders() == 0
    assert sorted(rental.reminders.values_list("threshold_hours", flat=True)) == [2, 24, 72]
    assert len(mail.outbox) == 3


def test_a_rental_first_seen_inside_several_thresholds_gets_only_the_nearest():
    RentalFactory(end_date=timezone.now() + timedelta(minutes=90))
    assert run_reminders() == 1
    assert list(RentalReminder.objects.values_list("threshold_hours", flat=True)) == [2]
    assert "ends in 1 h 29 min" in mail.outbox[0].subject or "ends in 1 h 30 min" in mail.outbox[0].subject


def test_the_reminder_names_the_number_its_use_the_end_and_links_to_it():
    owner, assignee = UserFactory(username="olena"), UserFactory(username="taras")
    rental = RentalFactory(end_date=timezone.now() + timedelta(hours=10), hours=72, label="Ads account #4",
                           rented_by=owner, assignee=assignee)  # fmt: skip
    run_reminders()
    (message,) = mail.outbox
    assert sorted(message.to) == ["olena@example.test", "taras@example.test", "team@rentdesk.example.test"]
    assert f"{rental}" in message.subject and "ends in 9 h 59 min" in message.subject
    assert "Ads account #4" in message.body
    assert timezone.localtime(rental.end_date).strftime("%Y-%m-%d %H:%M") in message.body
    assert f"https://rentdesk.example.test/admin/rentals/rental/{rental.pk}/change/" in message.body


def test_no_reminders_for_rentals_switched_off_ended_or_far_away():
    RentalFactory(end_date=timezone.now() + timedelta(hours=5), reminders_enabled=False)
    RentalFactory(end_date=timezone.now() + timedelta(hours=5), status=RentalStatus.FINISHED)
    RentalFactory(end_date=timezone.now() - timedelta(hours=1))
    RentalFactory(end_date=timezone.now() + timedelta(hours=200))
    assert run_reminders() == 0 and mail.outbox == []


def test_a_threshold_the_rental_was_inside_when_rented_is_not_sent():
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        rental = RentalFactory(end_date=start + timedelta(hours=24), hours=24)  # rented now, for a day
        assert run_reminders() == 0 and mail.outbox == []  # no "24 h left" right after renting
        clock.move_to(start + timedelta(hours=22, minutes=30))
        assert run_reminders() == 1 and "ends in 1 h 30 min" in mail.outbox[0].subject
    assert list(rental.reminders.values_list("threshold_hours", flat=True)) == [2]


def test_an_extension_starts_the_count_again():
    from rentals.models import AttemptState, Rental, RentalExtension

    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        rental = RentalFactory(end_date=start + timedelta(hours=4), hours=4)
        clock.move_to(start + timedelta(hours=3))
        RentalExtension.objects.create(
            rental=rental, hours=72, state=AttemptState.SUCCEEDED, finished_at=timezone.now()
        )
        Rental.objects.filter(pk=rental.pk).update(end_date=start + timedelta(hours=76))
        assert run_reminders() == 0  # 73 h left, and the new term is 73 h: "72 h left" would mean something
        clock.move_to(start + timedelta(hours=5))
        assert run_reminders() == 1 and "ends in 2 d 23 h" in mail.outbox[0].subject


def test_concurrent_runs_send_one_reminder():
    RentalFactory(end_date=timezone.now() + timedelta(hours=5), hours=72)
    results = run_concurrently(run_reminders)
    assert sum(results) == 1 and len(mail.outbox) == 1


def test_a_reminder_whose_mail_failed_is_sent_again_after_the_lease(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1  # nothing listens
    rental = RentalFactory(end_date=timezone.now() + timedelta(hours=5), hours=72)
    assert run_reminders() == 0
    claim = RentalReminder.objects.get()
    assert claim.sent_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert run_reminders() == 0  # claimed a moment ago: someone may still be sending
    with time_machine.travel(timezone.now() + services.reminders.REMINDER_LEASE + timedelta(seconds=1)):
        assert run_reminders() == 1
    assert rental.reminders.get().sent_at is not None and len(mail.outbox) == 1


def test_reminders_reach_chat_channels(settings, chat_server):
    settings.RENTDESK_CHAT_URLS = [chat_server.apprise_url]
    rental = RentalFactory(end_date=timezone.now() + timedelta(hours=5), hours=72, label="Shop login")
    run_reminders()
    (post,) = chat_server.received
    assert f"{rental}" in post["title"] and "Shop login" in post["message"]


HOSTILE_LABEL = '<a href="http://evil.example/">Pay here</a> [Pay here](http://evil.example/) *urgent*'


@pytest.mark.parametrize(
    ("chat_format", "shown_as", "live_markup"),
    [
        # Telegram and other HTML services: the label's tags arrive as text, not as a link.
        ("html", "&lt;a&nbsp;href=&quot;http://evil.example/&quot;&gt;Pay&nbsp;here&lt;/a&gt;", "<a"),
        # Slack, Discord and other Markdown services: the label's markup arrives escaped.
        ("markdown", r"\[Pay here\]\(http://evil\.example/\) \*urgent\*", "[Pay here](http"),
    ],
)
def test_chat_messages_are_plain_text_whatever_a_label_says(settings, chat_server, chat_format, shown_as, live_markup):
    settings.RENTDESK_CHAT_URLS = [f"{chat_server.apprise_url}?format={chat_format}"]
    RentalFactory(end_date=timezone.now() + timedelta(hours=5), hours=72, label=HOSTILE_LABEL)
    run_reminders()
    (post,) = chat_server.received
    assert shown_as in post["message"] and live_markup not in post["message"]


def test_expiry_marks_rentals_past_their_end_once():
    ended = RentalFactory(end_date=timezone.now() - timedelta(minutes=1))
    running = RentalFactory(end_date=timezone.now() + timedelta(minutes=1))
    now = timezone.now()
    assert services.rentals_expire(now=now) == 1
    assert services.rentals_expire(now=now + timedelta(seconds=30)) == 0
    ended.refresh_from_db()
    running.refresh_from_db()
    assert (ended.status, ended.expired_at) == (RentalStatus.EXPIRED, now)
    assert running.status == RentalStatus.ACTIVE


@pytest.mark.parametrize(
    ("left", "text"),
    [(timedelta(days=2, hours=3, minutes=5), "2 d 3 h"), (timedelta(hours=5, minutes=7), "5 h 7 min"),
     (timedelta(minutes=42), "42 min"), (timedelta(seconds=-5), "0 min")],
)  # fmt: skip
def test_time_left_reads_naturally(left, text):
    assert format_time_left(left) == text


def test_an_extension_decided_for_an_end_date_that_moved_sends_nothing(simulator, account, catalog):
    rental = rent_number(account, catalog).rental
    moved = rental.end_date - timedelta(hours=1)
    outcome = services.rental_extend(
        rental=rental, hours=24, nonce=uuid.uuid4(), requested_by=None, price_quoted=None, expect_end_date=moved
    )
    assert outcome.token == "RENTAL_CHANGED" and simulator.requests("continueRentNumber") == []


def test_chat_hears_of_it_when_mail_fails(settings, chat_server):
    from rentals.notice_sending import notify
    from rentals.wording.notices import Notice

    settings.RENTDESK_CHAT_URLS = [chat_server.apprise_url]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1
    with pytest.raises(OSError):
        notify(Notice("Rental ends", "soon"), recipients=["a@example.test"])
    assert chat_server.received and chat_server.received[0]["title"] == "Rental ends"
