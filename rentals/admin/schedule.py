"""django-celery-beat's periodic tasks, with its own actions behind the right to change them.

Its admin offers "run", "enable", "disable" and "toggle" to anyone who may view the tasks; running a
job calls the provider and changing the schedule changes what the whole deployment does. Running a
job queues it in Redis: while Redis is away, the page says so instead of failing.

Its four schedule tables (clocked, crontab, interval, solar) are the parts of a job's timing: they are
left off the front page and the app list, and reached from the periodic tasks' page (or a job's own
schedule fields) by those who may change them.
"""

from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule
from kombu.exceptions import OperationalError

from .common import OfferedFiltersOnlyMixin, needs_permission

logger = logging.getLogger(__name__)

Library = beat_admin.PeriodicTaskAdmin


SCHEDULE_TABLES = [CrontabSchedule, IntervalSchedule, SolarSchedule, ClockedSchedule]


class PeriodicTaskAdmin(OfferedFiltersOnlyMixin, Library):
    change_list_template = "admin/django_celery_beat/periodictask/change_list.html"
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

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        tables = [
            (model._meta.verbose_name_plural, reverse(f"admin:django_celery_beat_{model._meta.model_name}_changelist"))
            for model in SCHEDULE_TABLES
            if request.user.has_perm(f"django_celery_beat.change_{model._meta.model_name}")
        ]
        return super().changelist_view(request, {**(extra_context or {}), "schedule_tables": tables})


class ScheduleTableOutOfTheWay:
    """Not on the front page nor in the app list: its own pages still answer whoever may see them."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return False


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, PeriodicTaskAdmin)
for table in SCHEDULE_TABLES:
    shown_by = type(admin.site._registry[table])
    admin.site.unregister(table)
    admin.site.register(table, type(shown_by.__name__, (ScheduleTableOutOfTheWay, shown_by), {}))
