"""A web request's turn at SMS.online: at once, or not now, never a web thread waiting for one.

gunicorn gives each web process a fixed number of threads (config/gunicorn.py), and the webhook that
brings an SMS needs one of them free. So a request from the admin or the API that asks SMS.online
(a quote, a rent, an extension, finish, cancel, "Check for SMS now") takes one of this process's
RENTDESK_WEB_PROVIDER_CALLS slots, and a status or price request a turn at the account's pace
(``AccountPacing.take_turn``), only when one is free now; else it is answered ``ProviderBusy`` at once,
before anything is recorded or sent. Celery workers and commands are not capped: their concurrency is
their own, and they wait for the account's pace as before (``AccountPacing.wait``).
"""

from __future__ import annotations

import math
import threading
from types import TracebackType

from django.conf import settings

from .pacing import account_pacing

# A web request takes the account's next free moment if it is at most this far away (it sleeps that
# long in the thread, less than SMS.online itself takes to answer); a later one is "not now".
WEB_TURN_WITHIN = 1.0
# How long a request turned away for want of a slot is told to wait: a call normally takes under one.
SLOT_RETRY_AFTER = 1


class ProviderBusy(Exception):
    """SMS.online was not asked, and nothing was recorded: ask again after ``seconds``.

    ``account_paced``: the account's requests are paced and its next free moment is further off;
    otherwise this web process has as many requests at SMS.online as it lets wait at once.
    """

    def __init__(self, retry_after: float, *, account_paced: bool) -> None:
        self.seconds = max(1, math.ceil(retry_after))
        self.account_paced = account_paced
        super().__init__(f"SMS.online not asked: busy, ask again in {self.seconds} s")


class _Slots:
    """This process's count of web threads inside an SMS.online call (the size is read each time:
    settings may change while it runs, in tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.taken = 0

    def take(self) -> bool:
        with self._lock:
            free = self.taken < settings.RENTDESK_WEB_PROVIDER_CALLS
            self.taken += free
            return free

    def give_back(self) -> None:
        with self._lock:
            self.taken -= 1


_web_calls = _Slots()


class ProviderCallSlot:
    """One request's slot among this process's RENTDESK_WEB_PROVIDER_CALLS, held from ``take`` until the
    ``with`` block ends. ``web`` False (a Celery task, a command): ``take`` does nothing.

    ``take`` is called just before the first thing that would be recorded or sent, so a request that
    only replays an earlier one's outcome never needs a slot, and one refused leaves nothing behind.
    """

    def __init__(self, *, web: bool) -> None:
        self.web, self.held = web, False

    def take(self) -> None:
        if not self.web or self.held:
            return
        if not _web_calls.take():
            raise ProviderBusy(SLOT_RETRY_AFTER, account_paced=False)
        self.held = True

    def give_back(self) -> None:
        """Give the slot back before the ``with`` block ends (a request that turned out to need none yet)."""
        if self.held:
            self.held = False
            _web_calls.give_back()

    def __enter__(self) -> ProviderCallSlot:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.give_back()


def turn_at_once(account_id: int) -> None:
    """A status or price request's turn at the account's pace now, or ProviderBusy with the seconds
    until the account is free (no moment is booked then)."""
    until_free = account_pacing(account_id).take_turn(within=WEB_TURN_WITHIN)
    if until_free:
        raise ProviderBusy(until_free, account_paced=True)
