"""django-celery-beat's periodic tasks, with its own actions behind the right to change them.

Its admin offers "run", "enable", "disable" and "toggle" to anyone who may view the tasks; running a
job calls the provider and changing the schedule changes what the whole deployment does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import PeriodicTask


def needs_change_permission(action: Callable[..., Any]) -> Callable[..., Any]:
    """The same action, offered and run only for users who may change the objects."""

    @functools.wraps(action)  # keeps its description
    def guarded(*args: Any, **kwargs: Any) -> Any:
        return action(*args, **kwargs)

    guarded.allowed_permissions = ("change",)  # type: ignore[attr-defined]
    return guarded


class PeriodicTaskAdmin(beat_admin.PeriodicTaskAdmin):
    enable_tasks = needs_change_permission(beat_admin.PeriodicTaskAdmin.enable_tasks)
    disable_tasks = needs_change_permission(beat_admin.PeriodicTaskAdmin.disable_tasks)
    toggle_tasks = needs_change_permission(beat_admin.PeriodicTaskAdmin.toggle_tasks)
    run_tasks = needs_change_permission(beat_admin.PeriodicTaskAdmin.run_tasks)


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, PeriodicTaskAdmin)
