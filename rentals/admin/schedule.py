"""django-celery-beat's periodic tasks, with its own actions behind the right to change them.

Its admin offers "run", "enable", "disable" and "toggle" to anyone who may view the tasks; running a
job calls the provider and changing the schedule changes what the whole deployment does. Running a
job queues it in Redis: while Redis is away, the page says so instead of failing.
"""

from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import PeriodicTask
from kombu.exceptions import OperationalError

from .common import OfferedFiltersOnlyMixin, needs_permission

logger = logging.getLogger(__name__)

Library = beat_admin.PeriodicTaskAdmin


class PeriodicTaskAdmin(OfferedFiltersOnlyMixin, Library):
    enable_tasks = needs_permission("change", Library.enable_tasks)
    disable_tasks = needs_permission("change", Library.disable_tasks)
    toggle_tasks = needs_permission("change", Library.toggle_tasks)

    @admin.action(description=Library.run_tasks.short_description, permissions=["change"])
    def run_tasks(self, request: HttpRequest, queryset: QuerySet[PeriodicTask]) -> None:
        try:
            Library.run_tasks(self, request, queryset)
        except OperationalError as error:  # kombu's word for a broker it cannot reach
            logger.warning("periodic tasks not queued: the broker cannot be reached (%s)", type(error).__name__)
            self.message_user(request, _(
                "The selected jobs could not be queued: Redis cannot be reached. Each runs at its next scheduled "
                "time once Redis is back."
            ), messages.ERROR)  # fmt: skip


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, PeriodicTaskAdmin)
