from django.apps import AppConfig
from django.db.models.signals import post_migrate
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
