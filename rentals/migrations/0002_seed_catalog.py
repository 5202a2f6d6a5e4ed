"""Seed the catalog with the services, countries and operators of the provider contract.

The rows are frozen here on purpose: the catalog is edited in the admin afterwards, and a later
change to the seed belongs in a new migration.
"""

from django.db import migrations

SERVICES = [
    ("tg", "Telegram"),
    ("wa", "WhatsApp"),
    ("vk", "VKontakte"),
    ("go", "Google"),
    ("full", "Any sender"),
    ("ot", "Other"),
]
COUNTRIES = [
    (0, "Russia"),
    (1, "Ukraine"),
    (2, "Kazakhstan"),
    (6, "Indonesia"),
    (16, "United Kingdom"),
    (22, "India"),
    (43, "Germany"),
    (187, "USA"),
]
OPERATORS = {
    1: [("kyivstar", "Kyivstar"), ("life", "lifecell"), ("vodafone", "Vodafone Ukraine")],
    0: [("mts", "MTS"), ("tele2", "Tele2")],
}


def seed(apps, schema_editor):
    Service = apps.get_model("rentals", "Service")
    Country = apps.get_model("rentals", "Country")
    Operator = apps.get_model("rentals", "Operator")
    for code, name in SERVICES:
        Service.objects.get_or_create(code=code, defaults={"name": name})
    for provider_id, name in COUNTRIES:
        Country.objects.get_or_create(provider_id=provider_id, defaults={"name": name})
    for provider_id, operators in OPERATORS.items():
        country = Country.objects.get(provider_id=provider_id)
        for code, name in operators:
            Operator.objects.get_or_create(country=country, code=code, defaults={"name": name})


class Migration(migrations.Migration):
    dependencies = [("rentals", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
