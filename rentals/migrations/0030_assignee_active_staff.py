# Only active staff are offered as a rental's assignee (a choice, no change to the tables).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("rentals", "0029_webhook_delivery_stored_at"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="historicalrental",
            name="assignee",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                limit_choices_to={"is_active": True, "is_staff": True},
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="assignee",
            ),
        ),
        migrations.AlterField(
            model_name="rental",
            name="assignee",
            field=models.ForeignKey(
                blank=True,
                limit_choices_to={"is_active": True, "is_staff": True},
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="assigned_rentals",
                to=settings.AUTH_USER_MODEL,
                verbose_name="assignee",
            ),
        ),
    ]
