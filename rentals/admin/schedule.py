"""django-celery-beat's periodic tasks, with its own actions behind the right to change them.

Its admin offers "run", "enable", "disable" and "toggle" to anyone who may view the tasks; running a
job calls the provider and changing the schedule changes what the whole deployment does.
"""

from __future__ import annotations

from django.contrib import admin
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import PeriodicTask

from .common import needs_permission

Library = beat_admin.PeriodicTaskAdmin


class PeriodicTaskAdmin(Library):
    enable_tasks = needs_permission("change", Library.enable_tasks)
    disable_tasks = needs_permission("change", Library.disable_tasks)
    toggle_tasks = needs_permission("change", Library.toggle_tasks)
    run_tasks = needs_permission("change", Library.run_tasks)


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, PeriodicTaskAdmin)
