"""Who asked: the person a rental's history names for a change, and whether a request sent again is
the same person's."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from ..models import Rental


def recorded_as(rental: Rental, person: AbstractBaseUser | None) -> None:
    """The rental's next history row names ``person`` (None: Rentdesk itself): the one who asked, also
    where no request is being answered (a worker, a command) or the answer comes in another's."""
    rental._history_user = person  # read by django-simple-history before its request's user


def requested_by_same(first_person_id: int | None, person: AbstractBaseUser | None) -> bool:
    """Whether a request sent again (its nonce seen before) comes from the person who sent it first. A
    form's nonce is its sender's: another person holding a copy of the page is not told what came of it."""
    return first_person_id == (person.pk if person is not None else None)
