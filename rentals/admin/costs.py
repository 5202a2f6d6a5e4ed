"""The costs page: spend per month by account, service, country and person, with a chart."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
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
        since = (now - timedelta(days=31 * (MONTHS - 1))).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        group = request.GET.get("by") if request.GET.get("by") in selectors.SPEND_GROUPS else "account"
        rows = selectors.spend_by_month(group=group, since=since)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Costs"),
            "group": group,
            "groups": [(key, GROUP_LABELS[key]) for key in selectors.SPEND_GROUPS],
            "table": _table(rows),
            "chart": _chart(rows),
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


def _chart(rows: list[selectors.SpendRow]) -> list[dict[str, Any]]:
    """Bars of the monthly totals, as numbers an inline SVG draws: no script, no outside server."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[row.month] += row.amount
    months = sorted(totals)[-MONTHS:]
    highest = max(totals.values(), default=Decimal(0)) or Decimal(1)
    step = CHART_WIDTH / max(len(months), 1)
    bars = []
    for index, month in enumerate(months):
        height = float(totals[month] / highest) * (CHART_HEIGHT - CHART_TOP - CHART_BOTTOM)
        top = CHART_HEIGHT - CHART_BOTTOM - height
        bars.append({"x": round(index * step + 4, 1), "width": round(step - 8, 1), "height": round(height, 1),
                     "y": round(top, 1), "value_y": round(top - 4, 1), "label": month, "amount": totals[month],
                     "label_x": round(index * step + step / 2, 1)})  # fmt: skip
    return bars
