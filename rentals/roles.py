"""The suggested groups, declared once here and installed after every migrate.

Installing creates missing groups and adds missing permissions; it never removes a permission an
admin gave a group, so the groups can be tuned in the admin.
"""

from __future__ import annotations

VIEW_INVENTORY = [
    "rentals.view_rental",
    "rentals.view_rentattempt",
    "rentals.view_rentalextension",
    "rentals.view_rentalreminder",
    "rentals.view_provideraccount",
    "rentals.view_accountevent",
    "rentals.view_errorevent",
    "rentals.view_service",
    "rentals.view_country",
    "rentals.view_operator",
    "rentals.view_offer",
]
WORK_WITH_NUMBERS = [
    "rentals.change_rental",  # label, notes, assignee (claim and release)
    "rentals.view_smsmessage",  # reading SMS text is its own permission
    "rentals.poll_rental",  # "Check for SMS now" calls the provider
    "rentals.rent_number",
    "rentals.extend_rental",
    "rentals.end_rental",
]
MANAGE_ACCOUNTS = [
    "rentals.add_provideraccount", "rentals.change_provideraccount", "rentals.add_service",
    "rentals.change_service", "rentals.add_country", "rentals.change_country", "rentals.add_operator",
    "rentals.change_operator", "django_celery_beat.view_periodictask", "django_celery_beat.change_periodictask",
    "axes.view_accessattempt", "axes.delete_accessattempt",  # see login lockouts, and lift one
    "rentals.view_personbudget", "rentals.add_personbudget", "rentals.change_personbudget",
    "rentals.delete_personbudget", "rentals.view_apitoken", "rentals.change_apitoken",
]  # fmt: skip

ROLES: dict[str, list[str]] = {
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
            app_label, codename = code.split(".")
            found = permission_model.objects.using(using).filter(content_type__app_label=app_label, codename=codename)
            permissions += list(found)
        if len(permissions) < len(codes):
            # Django creates permissions after the migrations that create their models; until
            # then (a partial migrate), the group waits for the next migrate.
            continue
        group_model.objects.using(using).create(name=name).permissions.set(permissions)
