"""Personal monthly budgets (an account's budget is set on the account)."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import services
from ..models import PersonBudget
from ..wording.formats import money
from .common import MONEY_FORM_FIELDS, OfferedFiltersOnlyMixin


@admin.register(PersonBudget)
class PersonBudgetAdmin(OfferedFiltersOnlyMixin, admin.ModelAdmin):
    list_display = ["user", "monthly_budget", "spent_this_month"]
    formfield_overrides = MONEY_FORM_FIELDS
    list_select_related = ["user"]
    search_fields = ["user__username"]

    @admin.display(description=_("spent or committed this month (USD)"))
    def spent_this_month(self, obj: PersonBudget) -> str:
        since = services.month_start(timezone.now())
        return money(services.budget_spent(since=since, person=obj.user))
