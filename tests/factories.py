import factory

from rentals.models import Country, Operator, ProviderAccount, Service


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
