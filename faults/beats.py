"""S5: two beats at once. One holds the beat lock and sends; the other stands by. Midway the holder
freezes (SIGSTOP: a stalled VM, a long pause) past the lock's lifetime, the standby takes over, and
the frozen one wakes up (SIGCONT) to find the lock gone. Targets: every reminder due is sent once,
polling stays within SMSONLINE_POLL_RATE per account and polls a rental once per cycle, and the
standby takes over within a minute.
"""

from __future__ import annotations

import bisect
import signal
import time
from datetime import timedelta

from rentals.health import BEAT_LOCK_KEY
from rentals.phone_numbers import spaced_number

from .renting import rentals_labelled
from .report import Figures
from .rig import Rig

REMINDER_HOURS = 2  # the nearest of RENTDESK_REMINDER_HOURS: a 4-hour rental gets this one only
TAKEOVER_TARGET = 60.0
# poll_sms runs every 15 s and polls a fresh rental once per cycle (selectors.POLL_EAGER_EVERY). Where
# two polls of an account share a cycle (the urgent one of rentals awaiting a code and the background
# one), a rent's place in the cycle moves by a few seconds from one cycle to the next. Two beats sending
# the cycle twice would poll a rent twice within a second or two.
MIN_POLL_GAP = 10.0
# The rate is measured over this window: long enough that counting requests when they arrive rather
# than when they were sent (a request's latency varies) moves the count by one or two at most.
RATE_WINDOW = 60


def two_beats(rig: Rig, *, seconds: int, reminders: int) -> Figures:
    rentals = rentals_labelled(rig, "S5 reminder", count=reminders, hours=4)
    started = time.time()
    # Each crosses its 2-hour mark at its own moment, spread over the first part of the run.
    latest = max(seconds - 75, 15)
    for n, rental in enumerate(rentals):
        crosses = started + 10 + (latest - 10) * n / max(len(rentals) - 1, 1)
        end = rig.moment(crosses + timedelta(hours=REMINDER_HOURS).total_seconds())
        rig.sql("UPDATE rentals_rental SET end_date = %s WHERE id = %s", end, rental.id)
    rig.start("beat-2")
    assert rig.wait_for_log("beat-2", "beat lock"), rig.stack.log("beat-2")[-2000:]
    time.sleep(seconds / 6)
    frozen, takeover, logged_before_waking = freeze_the_holder(rig)
    time.sleep(max(0.0, started + seconds - time.time()))
    sent_while_standby = rig.stack.log(frozen)[logged_before_waking:].count("Sending due task")
    rig.stop("beat-2")
    return beat_figures(rig, rentals, started=started, takeover=takeover, frozen=frozen,
                        sent_while_standby=sent_while_standby)  # fmt: skip


def holder(rig: Rig) -> str | None:
    """Which beat process holds the lock (its name here), from the lock's value "host:pid"."""
    value = rig.redis().get(BEAT_LOCK_KEY)
    pid = int(value.decode().rsplit(":", 1)[1]) if value else None
    return next((name for name in ("beat", "beat-2") if pid is not None and rig.pid(name) == pid), None)


def freeze_the_holder(rig: Rig, *, at_most: float = 90.0) -> tuple[str, float | None, int]:
    """SIGSTOP the holder until the other beat holds the lock; its name, the seconds until the
    takeover, and how much it had logged before it woke."""
    frozen = holder(rig) or "beat"
    rig.signal(frozen, signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        while holder(rig) in (frozen, None) and time.monotonic() - stopped < at_most:
            time.sleep(0.2)
        takeover = time.monotonic() - stopped if holder(rig) not in (frozen, None) else None
        time.sleep(5)  # woken only after the new holder has sent a few ticks
        logged = rig.log_size(frozen)
    finally:
        rig.signal(frozen, signal.SIGCONT)
    return frozen, takeover, logged


def beat_figures(
    rig: Rig, rentals: list, *, started: float, takeover: float | None, frozen: str, sent_while_standby: int
) -> Figures:
    numbers = dict(rig.sql("SELECT id, number FROM rentals_rental WHERE label LIKE %s", "S5 reminder %"))
    outbox = "".join(path.read_text() for path in (rig.stack.directory / "outbox").glob("*"))
    # The subject names the number as people read it, in its groups ("+380 67 123 4567").
    mails = {rental.id: outbox.count(f"Subject: [Rentdesk] {spaced_number(numbers[rental.id])} ends in")
             for rental in rentals}  # fmt: skip
    polls = rig.provider_requests("getRentStatus", since=started)
    rate = float(rig.stack.env.get("SMSONLINE_POLL_RATE", 2))
    busiest, closest = busiest_window(polls), closest_polls_of_one_rent(polls)
    figures = Figures(
        "S5 two beats at once", sent=len(rentals), stored=sum(1 for n in mails.values() if n),
        lost=sum(1 for n in mails.values() if not n), duplicates=sum(max(0, n - 1) for n in mails.values()),
        recovery=takeover,
    )  # fmt: skip
    figures.notes += [
        f"{time.time() - started:.0f} s with a second beat; {len(rentals)} rentals crossing their "
        f"{REMINDER_HOURS}-hour reminder meanwhile; the lock holder ({frozen}) frozen with SIGSTOP until the other "
        f"took over, then woken: it sent {sent_while_standby} tasks while the other held the lock",
        f"{len(polls)} getRentStatus: at most {busiest} in any {RATE_WINDOW} s (rate {rate:g}/s), the same rent "
        f"polled again after {closest:.0f} s at the closest",
        "recovery: from the freeze until the standby held the lock",
    ]
    figures.expect_none("lost", "duplicates")
    figures.expect("the woken beat sends nothing", sent_while_standby == 0)
    figures.expect(f"polling within {rate:g}/s", busiest <= rate * RATE_WINDOW + 2)
    figures.expect(f"a rent polled at most once per {MIN_POLL_GAP:.0f} s", closest >= MIN_POLL_GAP)
    figures.expect(f"takeover within {TAKEOVER_TARGET:.0f} s", takeover is not None and takeover < TAKEOVER_TARGET)
    return figures


def busiest_window(polls: list[dict]) -> int:
    """The most requests in any RATE_WINDOW seconds."""
    moments = sorted(poll["at"] for poll in polls)
    return max((bisect.bisect_left(moments, start + RATE_WINDOW) - i for i, start in enumerate(moments)), default=0)


def closest_polls_of_one_rent(polls: list[dict]) -> float:
    """The shortest time between two polls of the same rent (first pages only)."""
    last: dict[str, float] = {}
    closest = float("inf")
    for poll in sorted(polls, key=lambda p: p["at"]):
        if str(poll.get("page", "0")) != "0":
            continue
        if poll["id"] in last:
            closest = min(closest, poll["at"] - last[poll["id"]])
        last[poll["id"]] = poll["at"]
    return closest
