"""Rows made for tests (factory_boy), and a number rented the way the app rents one."""

import uuid
from datetime import timedelta
from typing import Any

import factory
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from rentals import services
from rentals.models import Country, Operator, ProviderAccount, Rental, Service


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"s{n}")
    name = factory.LazyAttribute(lambda o: o.code.upper())


class CountryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Country
        django_get_or_create = ("provider_id",)

    provider_id = factory.Sequence(lambda n: 1000 + n)
    name = factory.LazyAttribute(lambda o: f"Country {o.provider_id}")


class OperatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Operator
        django_get_or_create = ("country", "code")

    country = factory.SubFactory(CountryFactory)
    code = factory.Sequence(lambda n: f"op{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProviderAccount
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Account {n}")
    api_url = "http://127.0.0.1:9/stubs/handler_api.php"

    @factory.post_generation
    def api_key(obj, create, extracted, **kwargs):
        obj.set_api_key(extracted or "factory-key-0123456789")
        if create:
            obj.save()


class RentalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rental
        skip_postgeneration_save = True

    account = factory.SubFactory(AccountFactory)
    provider_rent_id = factory.Sequence(lambda n: str(500_000 + n))
    number = factory.Sequence(lambda n: f"380{500000000 + n}")
    service = factory.SubFactory(ServiceFactory, code="tg", name="Telegram")
    country = factory.SubFactory(CountryFactory, provider_id=1, name="Ukraine")
    hours = 24
    end_date = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=24))

    @factory.post_generation
    def rented_at(obj, create, extracted, **kwargs):
        """When it was rented (``created_at`` ignores a value given at creation): by default its rent
        time before its end date, as a real rental, or now for one that ends later than that."""
        if create:
            moment = extracted or min(timezone.now(), obj.end_date - timedelta(hours=obj.hours))
            Rental.objects.filter(pk=obj.pk).update(created_at=moment)
            obj.created_at = moment


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.test")


def staff_member(username: str, *codenames: str) -> User:
    """A staff user holding exactly these permissions of the rentals app (none of a role's)."""
    user = User.objects.create_user(username, password="pw", is_staff=True)
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label="rentals"))
    return user


def rent_number(
    account: ProviderAccount,
    catalog: dict[str, Any],
    *,
    webhook: bool = False,
    requested_by: User | None = None,
    via: str = "cli",
    hours: int = 24,
    operator: str = "any",
    nonce: uuid.UUID | None = None,
    **extra: Any,
) -> Any:
    """A Ukrainian Telegram number rented through the rent service, from the command line unless ``via``
    says otherwise (a fresh nonce unless one is given); its outcome. ``catalog``: the conftest fixture."""
    return services.rental_rent(
        account=account, service=catalog["telegram"], country=catalog["ukraine"], operator=operator, hours=hours,
        webhook=webhook, nonce=nonce or uuid.uuid4(), requested_by=requested_by, via=via, **extra,
    )  # fmt: skip
