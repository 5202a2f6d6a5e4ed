from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate, pre_delete
from django.utils.translation import gettext_lazy as _


class RentalsConfig(AppConfig):
    name = "rentals"
    verbose_name = _("Rentals")

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the deployment checks)
        from .roles import roles_install
        from .schedule import schedule_install

        # After every migrate (and every test flush), so jobs and groups exist wherever the tables do.
        post_migrate.connect(schedule_install, sender=self, dispatch_uid="rentals.schedule_install")
        post_migrate.connect(roles_install, sender=self, dispatch_uid="rentals.roles_install")
        pre_delete.connect(_person_deleted, sender=settings.AUTH_USER_MODEL, dispatch_uid="rentals.person_deleted")


def _person_deleted(sender: object, instance: object, **kwargs: object) -> None:
    from .services import auto_renew_owner_leaving

    auto_renew_owner_leaving(instance)
