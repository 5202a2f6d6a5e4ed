"""Each API key is bound to the scheme, host and port it was entered for; existing keys to their URL's."""

from django.db import migrations, models

from rentals.provider.destinations import url_origin


def bind_keys_to_their_urls(apps, schema_editor):
    ProviderAccount = apps.get_model("rentals", "ProviderAccount")
    for account in ProviderAccount.objects.only("pk", "api_url"):
        ProviderAccount.objects.filter(pk=account.pk).update(api_key_origin=url_origin(account.api_url))


class Migration(migrations.Migration):
    dependencies = [("rentals", "0016_webhook_body_bytes")]

    operations = [
        migrations.AddField(
            model_name="provideraccount",
            name="api_key_origin",
            field=models.CharField(blank=True, editable=False, max_length=300, verbose_name="api key origin"),
        ),
        migrations.RunPython(bind_keys_to_their_urls, migrations.RunPython.noop),
    ]
