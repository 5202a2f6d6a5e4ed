"""Who looks after a rental: the person who takes care of it (claim, release), and those who follow
its SMS in Telegram."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser

from ..models import Rental
from ..reasons import reason


def rentals_claim(*, rentals: Iterable[Rental], user: AbstractBaseUser) -> int:
    """``user`` takes care of these rentals from now on."""
    return _assign(rentals, user, why=reason("claimed"))


def rentals_release(*, rentals: Iterable[Rental], user: AbstractBaseUser) -> int:
    """Nobody in particular takes care of these rentals any more."""
    return _assign(rentals, None, why=reason("released_by", person=user))


def rentals_follow(*, rentals: Iterable[Rental], user: AbstractBaseUser) -> int:
    """Send this person each SMS of these rentals in Telegram too; how many they did not follow yet."""
    chosen = [rental.pk for rental in rentals]
    already = set(Rental.followers.through.objects.filter(user_id=user.pk, rental_id__in=chosen).values_list(
        "rental_id", flat=True))  # fmt: skip
    added = [Rental.followers.through(rental_id=pk, user_id=user.pk) for pk in chosen if pk not in already]
    Rental.followers.through.objects.bulk_create(added, ignore_conflicts=True)
    return len(added)


def rentals_unfollow(*, rentals: Iterable[Rental], user: AbstractBaseUser) -> int:
    """No more SMS of these rentals for this person, unless they are its assignee or renter."""
    chosen = [rental.pk for rental in rentals]
    removed, _ = Rental.followers.through.objects.filter(user_id=user.pk, rental_id__in=chosen).delete()
    return removed


def _assign(rentals: Iterable[Rental], assignee: AbstractBaseUser | None, *, why: str) -> int:
    changed = 0
    for rental in rentals:
        if rental.assignee_id != (assignee.pk if assignee else None):
            rental.assignee = assignee
            rental._change_reason = why
            rental.save(update_fields=["assignee"])
            changed += 1
    return changed
