"""The suggested groups, declared once here and installed after every migrate.

Installing creates missing groups and adds missing permissions; it never removes a permission an
admin gave a group, so the groups can be tuned in the admin.
"""

from __future__ import annotations

from .permissions import Permission

VIEW_INVENTORY = [
    Permission.VIEW_RENTAL, Permission.VIEW_RENT_ATTEMPT, Permission.VIEW_RENTAL_EXTENSION,
    Permission.VIEW_RENTAL_REMINDER, Permission.VIEW_ACCOUNT, Permission.VIEW_ACCOUNT_EVENT,
    Permission.VIEW_ERROR_EVENT, Permission.VIEW_SERVICE, Permission.VIEW_COUNTRY, Permission.VIEW_OPERATOR,
    Permission.VIEW_OFFER,
]  # fmt: skip
WORK_WITH_NUMBERS = [
    Permission.CHANGE_RENTAL,  # label, notes, assignee (claim and release)
    Permission.READ_SMS,  # reading SMS text is its own permission
    Permission.POLL_RENTAL,  # "Check for SMS now" calls the provider
    Permission.RENT,
    Permission.EXTEND,
    Permission.END,
]
MANAGE_ACCOUNTS = [
    Permission.ADD_ACCOUNT, Permission.CHANGE_ACCOUNT, Permission.ADD_SERVICE, Permission.CHANGE_SERVICE,
    Permission.ADD_COUNTRY, Permission.CHANGE_COUNTRY, Permission.ADD_OPERATOR, Permission.CHANGE_OPERATOR,
    Permission.VIEW_SCHEDULE, Permission.CHANGE_SCHEDULE,
    Permission.VIEW_LOCKOUTS, Permission.LIFT_LOCKOUT,  # see login lockouts, and lift one
    Permission.VIEW_BUDGET, Permission.ADD_BUDGET, Permission.CHANGE_BUDGET, Permission.DELETE_BUDGET,
    Permission.VIEW_API_TOKEN, Permission.CHANGE_API_TOKEN,
]  # fmt: skip

ROLES: dict[str, list[Permission]] = {
    # Sees the inventory and the accounts' health; no SMS text, no spending.
    "Viewer": VIEW_INVENTORY,
    # Works with numbers day to day: rents, extends, finishes, reads SMS, claims and labels.
    "Operator": VIEW_INVENTORY + WORK_WITH_NUMBERS,
    # Also manages provider accounts and their keys, the catalog, the schedule and login lockouts.
    "Manager": VIEW_INVENTORY + WORK_WITH_NUMBERS + MANAGE_ACCOUNTS,
}


def is_active_staff(person: object) -> bool:
    """Whether ``person`` works in the admin: only they take care of numbers, receive their SMS in their
    own chat, spend through auto-renew or use API tokens."""
    return person is not None and bool(getattr(person, "is_active", False) and getattr(person, "is_staff", False))


def roles_install(*, apps: object = None, using: str = "default", **kwargs: object) -> None:
    """Create the groups that are missing, with their permissions. A group that exists is left as it
    is: admins may have tuned it, and a deploy must not undo that."""
    from django.apps import apps as installed

    models = apps or installed
    group_model = models.get_model("auth", "Group")
    permission_model = models.get_model("auth", "Permission")
    for name, codes in ROLES.items():
        if group_model.objects.using(using).filter(name=name).exists():
            continue
        permissions = []
        for code in codes:
            found = permission_model.objects.using(using).filter(
                content_type__app_label=code.app_label, codename=code.codename
            )
            permissions += list(found)
        if len(permissions) < len(codes):
            # Django creates permissions after the migrations that create their models; until
            # then (a partial migrate), the group waits for the next migrate.
            continue
        group_model.objects.using(using).create(name=name).permissions.set(permissions)
