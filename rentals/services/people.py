"""People who leave the team: deleted, made inactive, or no longer staff.

Either way they no longer work in the admin, so nothing of the team's may keep going through them: their
numbers go back to nobody in particular (and their SMS to the team's chat), auto-renew set in their name
stops (with an alarm, so someone extends by hand), their API tokens are revoked and their Telegram chat
is let go. A person made staff again starts with none of it: claiming numbers, setting auto-renew,
making tokens and connecting Telegram are done anew.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext as _

from ..models import ApiToken, Rental
from ..reasons import reason
from ..roles import is_active_staff
from .api_tokens import api_tokens_revoke
from .renewing import auto_renew_owner_leaving
from .telegram_links import telegram_unlink


def person_leave(*, person: AbstractBaseUser, deleted: bool, now: datetime) -> None:
    """``person`` is being deleted, or has just stopped being active staff (``deleted=False``)."""
    _assignments_clear(person, deleted=deleted)
    auto_renew_owner_leaving(person, deleted=deleted)
    api_tokens_revoke(tokens=ApiToken.objects.filter(user=person), now=now)
    telegram_unlink(user=person)
    Rental.followers.through.objects.filter(user_id=person.pk).delete()


def _assignments_clear(person: AbstractBaseUser, *, deleted: bool) -> int:
    why = reason("released_deleted" if deleted else "released_inactive", person=person)
    released = 0
    for rental in Rental.objects.filter(assignee=person):
        rental.assignee, rental._change_reason = None, why
        rental.save(update_fields=["assignee"])  # saved one by one: each rental's history says why
        released += 1
    return released


class PersonRefused(Exception):
    """The person named to act (on a command line) does not exist or may not do it; the message says which."""


def person_allowed(*, username: str, permission: str) -> AbstractBaseUser:
    """The person named to act where no one is signed in (a command line): active staff whose role
    allows ``permission``, as the admin and the API would ask of them. Raises ``PersonRefused``."""
    person = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
    if person is None:
        raise PersonRefused(_("Nobody is named %(username)s.") % {"username": username})
    if not is_active_staff(person):
        raise PersonRefused(
            _("%(person)s is not active staff: only active staff rent, extend or end numbers.") % {"person": person}
        )
    if not person.has_perm(permission):
        refused = _("%(person)s may not do this: their role does not give the permission %(permission)s.")
        raise PersonRefused(refused % {"person": person, "permission": permission})
    return person


def person_was_active_staff(person: AbstractBaseUser) -> bool:
    """Before ``person`` is saved: whether the stored row is active staff (False for a new person)."""
    if person.pk is None:
        return False
    stored = type(person).objects.filter(pk=person.pk).values("is_active", "is_staff").first()
    return bool(stored and stored["is_active"] and stored["is_staff"])
