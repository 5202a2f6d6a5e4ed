"""History pages people can read: who by name, values in words, times in the reader's timezone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import models
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext
from simple_history.models import DeletedObject
from simple_history.template_utils import HistoricalRecordContextHelper

from .inventory import person

NOTHING = "—"


class ReadableChanges(HistoricalRecordContextHelper):
    def prepare_delta_change_value(self, change: Any, value: Any) -> Any:
        field = self.model._meta.get_field(change.field)
        if value is None or value == "" or (isinstance(value, DeletedObject) and value.pk is None):
            return NOTHING
        if isinstance(value, DeletedObject):
            return gettext("a deleted %(what)s") % {"what": value.model._meta.verbose_name}
        if hasattr(value, "get_full_name"):
            return person(value)
        if getattr(field, "choices", None):
            return str(dict(field.flatchoices).get(value, value))
        if isinstance(value, bool):
            return gettext("yes") if value else gettext("no")
        if isinstance(value, datetime):
            return f"{timezone.localtime(value):%Y-%m-%d %H:%M %Z}"
        return super().prepare_delta_change_value(change, value)


class ReadableHistoryMixin:
    """For a ``SimpleHistoryAdmin``: its history list in words (see admin/rentals/history_list.html)."""

    object_history_list_template = "admin/rentals/history_list.html"
    history_list_display: list[str] = []  # the Changes column says what changed, in words

    def get_historical_record_context_helper(self, request: HttpRequest, historical_record: models.Model) -> Any:
        return ReadableChanges(self.model, historical_record)
