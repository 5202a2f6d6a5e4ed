"""Whoever manages the provider accounts also sees login lockouts and may lift one (django-axes)."""

from django.db import migrations

GRANTED = {"view_accessattempt": "Can view access attempt", "delete_accessattempt": "Can delete access attempt"}


def grant_to_account_managers(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    attempt_type, _ = ContentType.objects.get_or_create(app_label="axes", model="accessattempt")
    granted = [
        Permission.objects.get_or_create(content_type=attempt_type, codename=codename, defaults={"name": name})[0]
        for codename, name in GRANTED.items()
    ]
    for group in Group.objects.filter(
        permissions__content_type__app_label="rentals", permissions__codename="change_provideraccount"
    ):
        group.permissions.add(*granted)


class Migration(migrations.Migration):
    dependencies = [("rentals", "0018_poll_rental_permission"), ("axes", "0010_accessattemptexpiration")]

    operations = [migrations.RunPython(grant_to_account_managers, migrations.RunPython.noop)]
