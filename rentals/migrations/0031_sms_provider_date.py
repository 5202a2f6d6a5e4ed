from datetime import timedelta

from django.db import migrations, models
from django.db.models import F

# services/sms.py's FUTURE_DATE_TOLERANCE as it was when this ran.
TOLERANCE = timedelta(minutes=5)


def order_future_sms_by_arrival(apps, schema_editor):
    """SMS already stored with a date far past their arrival move to it, and a rental whose last SMS
    is one of them shows its newest real one again."""
    SmsMessage = apps.get_model("rentals", "SmsMessage")
    Rental = apps.get_model("rentals", "Rental")
    future = SmsMessage.objects.filter(received_at__gt=F("created_at") + TOLERANCE)
    rental_ids = set(future.values_list("rental_id", flat=True))
    future.update(provider_date=F("received_at"), received_at=F("created_at"))
    for rental in Rental.objects.filter(pk__in=rental_ids):
        newest = SmsMessage.objects.filter(rental_id=rental.pk).order_by("-received_at", "-pk").first()
        rental.last_sms_at, rental.last_sms_text, rental.last_sms_code = newest.received_at, newest.text[:500], newest.code
        rental.save(update_fields=["last_sms_at", "last_sms_text", "last_sms_code"])


class Migration(migrations.Migration):
    dependencies = [("rentals", "0030_assignee_active_staff")]

    operations = [
        migrations.AddField(
            model_name="smsmessage",
            name="provider_date",
            field=models.DateTimeField(
                blank=True,
                help_text="The date SMS.online gave this SMS, when it lay in the future: it is ordered by when it arrived.",
                null=True,
                verbose_name="provider's date",
            ),
        ),
        migrations.RunPython(order_future_sms_by_arrival, migrations.RunPython.noop),
    ]
