"""The costs page: spend per month by account, service, country and person, with a chart."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import selectors, services

CHART_WIDTH, CHART_HEIGHT, MONTHS = 640, 160, 12
# Room above the tallest bar for its value, and below the bars for the month.
CHART_TOP, CHART_BOTTOM = 16, 20
GROUP_LABELS = {"account": _("account"), "service": _("service"), "country": _("country"), "person": _("person")}


class CostsMixin:
    def costs_urls(self) -> list[Any]:
        return [path("costs/", self.admin_site.admin_view(self.costs_view), name="rentals_rental_costs")]

    def costs_view(self, request: HttpRequest) -> TemplateResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        now = timezone.now()
        months = _months_up_to(now, MONTHS)
        since = timezone.make_aware(datetime.strptime(months[0], "%Y-%m"))  # its first day, in the reader's timezone
        group = request.GET.get("by") if request.GET.get("by") in selectors.SPEND_GROUPS else "account"
        rows = selectors.spend_by_month(group=group, since=since)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Costs"),
            "group": group,
            "groups": [(key, GROUP_LABELS[key]) for key in selectors.SPEND_GROUPS],
            "table": _table(rows),
            "chart": _chart(rows, months),
            "committed": selectors.committed_spend(now=now),
            "budgets": services.budgets_usage(now=now),
        }
        return TemplateResponse(request, "admin/rentals/rental/costs.html", context)


def _table(rows: list[selectors.SpendRow]) -> dict[str, Any]:
    months = sorted({row.month for row in rows}, reverse=True)
    names = sorted({row.group for row in rows})
    cell = {(row.month, row.group): row.amount for row in rows}
    lines = [
        {"month": month, "amounts": [cell.get((month, name)) for name in names],
         "total": sum((cell.get((month, name), Decimal(0)) for name in names), Decimal(0))}
        for month in months
    ]  # fmt: skip
    return {"names": names, "lines": lines}


def _months_up_to(now: datetime, count: int) -> list[str]:
    """The ``count`` calendar months up to and including now's, oldest first, as "2026-11": in the reader's
    timezone, as the spend is grouped."""
    local = timezone.localtime(now)
    last = local.year * 12 + local.month - 1
    return [f"{index // 12:04d}-{index % 12 + 1:02d}" for index in range(last - count + 1, last + 1)]


def _chart(rows: list[selectors.SpendRow], months: list[str]) -> list[dict[str, Any]]:
    """A slot for each of ``months``, with a bar where something was paid, as numbers an inline SVG draws:
    no script, no outside server. Every month has its slot, so a team's first month is one narrow bar
    of twelve, not one bar across the whole chart."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[row.month] += row.amount
    highest = max(totals.values(), default=Decimal(0)) or Decimal(1)
    step = CHART_WIDTH / len(months)
    slots = []
    for index, month in enumerate(months):
        height = float(totals[month] / highest) * (CHART_HEIGHT - CHART_TOP - CHART_BOTTOM)
        top = CHART_HEIGHT - CHART_BOTTOM - height
        slots.append({"x": round(index * step + 4, 1), "width": round(step - 8, 1), "height": round(height, 1),
                      "y": round(top, 1), "value_y": round(top - 4, 1), "label": month, "amount": totals[month],
                      "label_x": round(index * step + step / 2, 1)})  # fmt: skip
    return slots
