"""People who leave the team: deleted, made inactive, or no longer staff.

Either way they no longer work in the admin, so nothing of the team's may keep going through them: their
numbers go back to nobody in particular (and their SMS to the team's chat), auto-renew set in their name
stops (with an alarm, so someone extends by hand), and their API tokens are revoked. A person made staff
again starts with none of it: claiming numbers, setting auto-renew and making tokens are done anew.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser

from ..models import ApiToken, Rental
from ..reasons import reason
from .api_tokens import api_tokens_revoke
from .renewing import auto_renew_owner_leaving


def person_leave(*, person: AbstractBaseUser, deleted: bool, now: datetime) -> None:
    """``person`` is being deleted, or has just stopped being active staff (``deleted=False``)."""
    _assignments_clear(person, deleted=deleted)
    auto_renew_owner_leaving(person, deleted=deleted)
    api_tokens_revoke(tokens=ApiToken.objects.filter(user=person), now=now)


def _assignments_clear(person: AbstractBaseUser, *, deleted: bool) -> int:
    why = reason("released_deleted" if deleted else "released_inactive", person=person)
    released = 0
    for rental in Rental.objects.filter(assignee=person):
        rental.assignee, rental._change_reason = None, why
        rental.save(update_fields=["assignee"])  # saved one by one: each rental's history says why
        released += 1
    return released


def person_was_active_staff(person: AbstractBaseUser) -> bool:
    """Before ``person`` is saved: whether the stored row is active staff (False for a new person)."""
    if person.pk is None:
        return False
    stored = type(person).objects.filter(pk=person.pk).values("is_active", "is_staff").first()
    return bool(stored and stored["is_active"] and stored["is_staff"])
