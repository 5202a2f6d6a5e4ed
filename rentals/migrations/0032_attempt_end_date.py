# A rent attempt keeps the end date its rent was made with: the rental's moves on with each extension.
# Attempts recorded before are given the end date their rental was first recorded with (its history's
# first row), which is the one the rent returned.

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def end_dates_from_history(apps, schema_editor):
    attempt_model = apps.get_model("rentals", "RentAttempt")
    history_model = apps.get_model("rentals", "HistoricalRental")
    first_recorded = history_model.objects.filter(id=OuterRef("rental_id")).order_by("history_date", "history_id")
    attempt_model.objects.filter(rental__isnull=False, end_date__isnull=True).update(
        end_date=Subquery(first_recorded.values("end_date")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("rentals", "0031_sms_provider_date"),
    ]

    operations = [
        migrations.AddField(
            model_name="rentattempt",
            name="end_date",
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name="end date"),
        ),
        migrations.RunPython(end_dates_from_history, migrations.RunPython.noop),
    ]
