"""The suggested groups, declared once here and installed after every migrate.

Installing creates missing groups and adds missing permissions; it never removes a permission an
admin gave a group, so the groups can be tuned in the admin.
"""

from __future__ import annotations

VIEW_INVENTORY = [
    "rentals.view_rental", "rentals.view_rentattempt", "rentals.view_rentalextension", "rentals.view_provideraccount",
    "rentals.view_errorevent", "rentals.view_service", "rentals.view_country", "rentals.view_operator",
    "rentals.view_offer",
]  # fmt: skip
WORK_WITH_NUMBERS = [
    "rentals.change_rental",  # label, notes, assignee (claim and release)
    "rentals.view_smsmessage",  # reading SMS text is its own permission
    "rentals.rent_number",
    "rentals.extend_rental",
    "rentals.end_rental",
]
MANAGE_ACCOUNTS = [
    "rentals.add_provideraccount", "rentals.change_provideraccount", "rentals.add_service",
    "rentals.change_service", "rentals.add_country", "rentals.change_country", "rentals.add_operator",
    "rentals.change_operator", "django_celery_beat.view_periodictask", "django_celery_beat.change_periodictask",
]  # fmt: skip

ROLES: dict[str, list[str]] = {
    # Sees the inventory and the accounts' health; no SMS text, no spending.
    "Viewer": VIEW_INVENTORY,
    # Works with numbers day to day: rents, extends, finishes, reads SMS, claims and labels.
    "Operator": VIEW_INVENTORY + WORK_WITH_NUMBERS,
    # Also manages provider accounts and their keys, the catalog and the schedule.
    "Manager": VIEW_INVENTORY + WORK_WITH_NUMBERS + MANAGE_ACCOUNTS,
}


def roles_install(**kwargs: object) -> None:
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    for app_config in apps.get_app_configs():  # permissions may not exist yet on a fresh database
        create_permissions(app_config, verbosity=0)
    for name, codes in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        for code in codes:
            app_label, codename = code.split(".")
            permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is None:
                raise LookupError(f"role {name}: no permission {code}")
            group.permissions.add(permission)
