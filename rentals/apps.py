from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate, post_save, pre_delete, pre_save
from django.utils.translation import gettext_lazy as _


class RentalsConfig(AppConfig):
    name = "rentals"
    verbose_name = _("Rentals")

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the deployment checks)
        from .roles import roles_install
        from .schedule import schedule_install
        from .words_index import words_index_installed

        # After every migrate (and every test flush), so jobs and groups exist wherever the tables do.
        post_migrate.connect(schedule_install, sender=self, dispatch_uid="rentals.schedule_install")
        post_migrate.connect(roles_install, sender=self, dispatch_uid="rentals.roles_install")
        post_migrate.connect(words_index_installed, sender=self, dispatch_uid="rentals.words_index_installed")
        # Leaving the team, by deletion or by losing active staff status, lets go of the same things.
        person = settings.AUTH_USER_MODEL
        pre_delete.connect(_person_deleted, sender=person, dispatch_uid="rentals.person_deleted")
        pre_save.connect(_person_saving, sender=person, dispatch_uid="rentals.person_saving")
        post_save.connect(_person_saved, sender=person, dispatch_uid="rentals.person_saved")


# Saves that cannot change whether someone is active staff (a login's last_login) cost no query here.
_STAFF_FIELDS = {"is_active", "is_staff"}


def _person_deleted(sender: object, instance: Any, **kwargs: Any) -> None:
    from django.utils import timezone

    from .services import person_leave

    person_leave(person=instance, deleted=True, now=timezone.now())


def _person_saving(sender: object, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    from .services import person_was_active_staff

    if update_fields is None or _STAFF_FIELDS & set(update_fields):
        instance._rentdesk_was_active_staff = person_was_active_staff(instance)


def _person_saved(sender: object, instance: Any, **kwargs: Any) -> None:
    from django.utils import timezone

    from .roles import is_active_staff
    from .services import person_leave

    if getattr(instance, "_rentdesk_was_active_staff", False) and not is_active_staff(instance):
        person_leave(person=instance, deleted=False, now=timezone.now())
    instance._rentdesk_was_active_staff = is_active_staff(instance)
