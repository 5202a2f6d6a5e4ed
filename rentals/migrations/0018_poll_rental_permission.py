""""Check for SMS now" calls the provider: it gets its own permission, given to the groups that read SMS.

Before, anyone who could view a rental could press it; the groups that may read SMS keep the button.
"""

from django.db import migrations


def grant_to_sms_readers(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    rental_type, _ = ContentType.objects.get_or_create(app_label="rentals", model="rental")
    poll, _ = Permission.objects.get_or_create(
        content_type=rental_type, codename="poll_rental", defaults={"name": "Can ask SMS.online for a rental's SMS now"}
    )
    for group in Group.objects.filter(
        permissions__content_type__app_label="rentals", permissions__codename="view_smsmessage"
    ):
        group.permissions.add(poll)


class Migration(migrations.Migration):
    dependencies = [
        ("rentals", "0017_api_key_origin"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="rental",
            options={
                "ordering": ["end_date"],
                "permissions": [
                    ("rent_number", "Can rent numbers from the provider (spends money)"),
                    ("extend_rental", "Can extend rentals (spends money)"),
                    ("end_rental", "Can finish or cancel rentals"),
                    ("poll_rental", "Can ask SMS.online for a rental's SMS now"),
                ],
                "verbose_name": "rental",
                "verbose_name_plural": "rentals",
            },
        ),
        migrations.RunPython(grant_to_sms_readers, migrations.RunPython.noop),
    ]
