"""The Rentals list as the team's inventory: filters, urgency, search, export."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import tablib
from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources
from import_export.formats.base_formats import CSV, XLSX

from ..models import Rental, RentalStatus
from ..phone_numbers import number_groups
from ..selectors import InventoryFilter, rentals_inventory
from ..wording.formats import format_time_left, person

EXPIRING_WITHIN = {"2h": timedelta(hours=2), "24h": timedelta(hours=24), "72h": timedelta(hours=72)}


class ExpiringFilter(admin.SimpleListFilter):
    title = _("expiring")
    parameter_name = "expiring"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("2h", _("Within 2 hours")), ("24h", _("Within 24 hours")), ("72h", _("Within 72 hours")),
                ("expired", _("Past the end date"))]  # fmt: skip

    def queryset(self, request: HttpRequest, queryset: QuerySet[Rental]) -> QuerySet[Rental]:
        if self.value() in EXPIRING_WITHIN:
            narrowed = InventoryFilter(ending_within=EXPIRING_WITHIN[self.value()])
        elif self.value() == "expired":
            narrowed = InventoryFilter(lapsed=True)
        else:
            return queryset
        return rentals_inventory(queryset, narrowed=narrowed, person=request.user)


class MineFilter(admin.SimpleListFilter):
    title = _("mine")
    parameter_name = "mine"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("assigned", _("Assigned to me")), ("rented", _("Rented by me"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Rental]) -> QuerySet[Rental]:
        if self.value() not in ("assigned", "rented"):
            return queryset
        return rentals_inventory(queryset, narrowed=InventoryFilter(mine=self.value()), person=request.user)


class CountedUpToPaginator(Paginator):
    """Counts the rows a list holds up to COUNT_UP_TO and no further: an exact count reads every row the
    filters let through (the whole table for the default page: 50 ms at a million rentals, a page's
    own cost ten times), and nobody pages through more than 200 pages of 50. Past it, the list says
    "more than 10,000" and the pages stop there: filters and the search narrow it."""

    count_up_to = 10_000

    @cached_property
    def count(self) -> int:
        # The ids alone: the rows' annotations (what each rental paid) cost nothing to a count.
        return self.object_list.values("pk").order_by()[: self.count_up_to + 1].count()

    @property
    def counted_all(self) -> bool:
        return self.count <= self.count_up_to


def urgency(rental: Rental) -> str:
    """How the time left looks: the closer the end, the louder."""
    if rental.status not in (RentalStatus.ACTIVE, RentalStatus.EXPIRED):
        return rental.get_status_display()
    left = rental.end_date - timezone.now()
    if left.total_seconds() <= 0:
        return format_html('<span class="urgency urgency-over">{}</span>', gettext("ended"))
    level = (
        "now"
        if left <= EXPIRING_WITHIN["2h"]
        else "soon"
        if left <= EXPIRING_WITHIN["24h"]
        else ("week" if left <= EXPIRING_WITHIN["72h"] else "calm")
    )
    words = gettext("%(time)s left") % {"time": format_time_left(left)}
    return format_html('<span class="urgency urgency-{}">{}</span>', level, words)


def grouped_number(number: str) -> SafeString:
    """The groups as spans that CSS spaces apart: the page reads "+380 67 123 4567", and a copy of it
    gives the digits whole ("+380671234567"), as a form or a search expects them."""
    head, *rest = number_groups(number)
    groups = format_html_join("", '<span class="number-group">{}</span>', ((group,) for group in rest))
    return format_html('<span class="phone-number">{}{}</span>', head, groups)


class RentalResource(resources.ModelResource):
    """The columns of an inventory export, in order, headed in the reader's language; times carry their
    zone and money its currency, so the file reads right wherever it is opened."""

    number = fields.Field(attribute="number", column_name=_("Number"))
    used_for = fields.Field(attribute="label", column_name=_("Used for"))
    service = fields.Field(attribute="service__name", column_name=_("Service"))
    country = fields.Field(attribute="country__name", column_name=_("Country"))
    operator = fields.Field(attribute="operator", column_name=_("Operator"))
    status = fields.Field(attribute="status", column_name=_("Status"))
    end_date = fields.Field(attribute="end_date", column_name=_("End date"))
    cost = fields.Field(attribute="paid", column_name=_("Cost (USD)"))
    account = fields.Field(attribute="account__name", column_name=_("Account"))
    assignee = fields.Field(attribute="assignee", column_name=_("Assignee"))
    rented_by = fields.Field(attribute="rented_by", column_name=_("Rented by"))
    notes = fields.Field(attribute="notes", column_name=_("Notes"))

    class Meta:
        model = Rental
        fields = ("number", "used_for", "service", "country", "operator", "status", "end_date", "cost", "account",
                  "assignee", "rented_by", "notes")  # fmt: skip
        export_order = fields

    def get_export_headers(self, *args: Any, **kwargs: Any) -> list[str]:
        return [str(header) for header in super().get_export_headers(*args, **kwargs)]

    def export(self, *args: Any, **kwargs: Any) -> tablib.Dataset:
        dataset = super().export(*args, **kwargs)
        dataset.title = str(Rental._meta.verbose_name_plural).capitalize()  # the spreadsheet's tab
        return dataset

    def dehydrate_number(self, rental: Rental) -> str:
        return f"+{rental.number}"

    def dehydrate_status(self, rental: Rental) -> str:
        return str(rental.get_status_display())

    def dehydrate_end_date(self, rental: Rental) -> str:
        return f"{timezone.localtime(rental.end_date):%Y-%m-%d %H:%M %Z}"

    def dehydrate_cost(self, rental: Rental) -> str:
        paid = getattr(rental, "paid", rental.cost)
        return "" if paid is None else f"{paid:.2f}"

    def dehydrate_assignee(self, rental: Rental) -> str:
        return person(rental.assignee)

    def dehydrate_rented_by(self, rental: Rental) -> str:
        return person(rental.rented_by)


# A spreadsheet reads a cell starting with one of these as a formula (tab and CR are stripped first).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def spreadsheet_safe(value: object) -> object:
    """The value as a cell no spreadsheet runs: text that could start a formula gets a leading
    apostrophe, which spreadsheets read as "this is text". Plain numbers (``+380…``, ``-1.5``) stay."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _formula_safe(dataset: tablib.Dataset) -> tablib.Dataset:
    safe = tablib.Dataset(headers=dataset.headers, title=dataset.title)
    for row in dataset:
        safe.append([spreadsheet_safe(value) for value in row])
    return safe


# django-import-export's IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT only drops a leading "=" (changing the
# text) and writes every XLSX cell as text, empty ones as "None": one rule of our own serves both formats.
class FormulaSafeCSV(CSV):
    def export_data(self, dataset: tablib.Dataset, **kwargs: object) -> str:
        return super().export_data(_formula_safe(dataset), **kwargs)


class FormulaSafeXLSX(XLSX):
    def export_data(self, dataset: tablib.Dataset, **kwargs: object) -> bytes:
        return super().export_data(_formula_safe(dataset), **kwargs)
