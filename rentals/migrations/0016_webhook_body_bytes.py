"""Webhook bodies are kept as the bytes that arrived: a PostgreSQL text column refuses a NUL byte."""

from django.db import migrations, models


def copy_text_bodies(apps, schema_editor):
    # Bodies kept so far were decoded as UTF-8 on arrival; their bytes are that text encoded again.
    WebhookDelivery = apps.get_model("rentals", "WebhookDelivery")
    for delivery in WebhookDelivery.objects.only("pk", "body").iterator(chunk_size=500):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(raw_body=delivery.body.encode("utf-8"))


def copy_bytes_back(apps, schema_editor):
    WebhookDelivery = apps.get_model("rentals", "WebhookDelivery")
    for delivery in WebhookDelivery.objects.only("pk", "raw_body").iterator(chunk_size=500):
        text = bytes(delivery.raw_body).decode("utf-8", "replace").replace("\x00", "")
        WebhookDelivery.objects.filter(pk=delivery.pk).update(body=text)


class Migration(migrations.Migration):
    dependencies = [("rentals", "0015_ended_by_provider")]

    operations = [
        migrations.AddField(
            model_name="webhookdelivery", name="raw_body", field=models.BinaryField(default=b"", verbose_name="body")
        ),
        migrations.RunPython(copy_text_bodies, copy_bytes_back),
        migrations.RemoveField(model_name="webhookdelivery", name="body"),
        migrations.RenameField(model_name="webhookdelivery", old_name="raw_body", new_name="body"),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="body",
            field=models.BinaryField(verbose_name="body"),
        ),
    ]
