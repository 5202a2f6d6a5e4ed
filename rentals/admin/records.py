"""Read-only records (attempts, errors, SMS) and the catalog."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .. import services
from ..models import (
    AttemptState,
    Country,
    ErrorEvent,
    Operator,
    RentalExtension,
    RentAttempt,
    Service,
    SmsMessage,
)
from ..permissions import Permission
from ..wording.pages import describe, token_html
from .common import (
    CompactColumnsMixin,
    OfferedFiltersOnlyMixin,
    OutcomeFilter,
    RecordAdmin,
    attempt_what_happened,
    can_rent,
    money_column,
    operator_words,
)
from .forwarding import forwarding_summary


@admin.register(RentAttempt)
class RentAttemptAdmin(CompactColumnsMixin, OfferedFiltersOnlyMixin, admin.ModelAdmin):
    # What a 1400-pixel screen shows at once; "All columns" adds operator, hours, duration, via.
    compact_list_display = ["created_at", "account", "service", "country", "state", "what_happened",
                            "requested_by", "rental"]  # fmt: skip
    list_display = [
        "created_at",
        "account",
        "service",
        "country",
        "operator_name",
        "hours",
        "state",
        "what_happened",
        "duration_ms",
        "requested_by",
        "via",
        "rental",
    ]
    list_filter = ["state", ("error_token", OutcomeFilter), "account", "via"]
    list_select_related = ["account", "service", "country", "requested_by", "rental"]
    date_hierarchy = "created_at"
    # The end date this rent was made with: the rental's own moves on with each extension.
    readonly_fields = ["end_date", "explanation", "operator_name"]
    actions = ["mark_not_charged"]

    def get_urls(self) -> list[Any]:
        return [*self.columns_urls(), *super().get_urls()]

    def get_fields(self, request: HttpRequest, obj: RentAttempt | None = None) -> list[str]:
        """The operator in the reader's words ("any operator"), where the stored code would stand."""
        fields = [name for name in super().get_fields(request, obj) if name != "operator_name"]
        return ["operator_name" if name == "operator" else name for name in fields]

    @admin.display(description=_("Operator"), ordering="operator")
    def operator_name(self, obj: RentAttempt) -> str:
        return operator_words(obj.operator)

    @admin.display(description=_("What happened"), ordering="error_token")
    def what_happened(self, obj: RentAttempt) -> str:
        return attempt_what_happened(obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: RentAttempt | None = None) -> bool:
        return False  # a record of what was sent: read-only

    def has_rent_permission(self, request: HttpRequest) -> bool:
        return can_rent(request)

    @admin.action(
        description=_("Unknown, but checked on SMS.online: no rent was made (not charged)"), permissions=["rent"]
    )
    def mark_not_charged(self, request: HttpRequest, queryset: QuerySet[RentAttempt]) -> None:
        resolved = services.attempts_mark_not_charged(attempts=queryset, user=request.user)
        self.message_user(request, _("%(count)s unknown attempt(s) marked as not charged.") % {"count": resolved})

    def has_delete_permission(self, request: HttpRequest, obj: RentAttempt | None = None) -> bool:
        return False

    @admin.display(description=_("What it means"))
    def explanation(self, obj: RentAttempt) -> str:
        return describe(services.rent_outcome_for(obj)) if obj.state != AttemptState.PENDING else _("Pending")


@admin.register(RentalExtension)
class RentalExtensionAdmin(CompactColumnsMixin, RecordAdmin):
    """Every extension request, as attempts are for rents: an unknown one is settled here by hand when
    SMS.online shows it did not happen (reconciliation settles only those that did)."""

    # What a 1400-pixel screen shows at once; "All columns" adds the price quoted and the new end date.
    compact_list_display = ["created_at", "rental", "hours", "state", "what_happened", "cost_usd", "requested_by",
                            "automatic"]  # fmt: skip
    list_display = ["created_at", "rental", "hours", "state", "what_happened", "price_quoted_usd", "cost_usd",
                    "new_end_date", "requested_by", "automatic"]  # fmt: skip
    list_filter = ["state", ("error_token", OutcomeFilter), "automatic", "rental__account"]
    list_select_related = ["rental", "requested_by"]
    date_hierarchy = "created_at"
    search_fields = ["rental__number", "rental__label"]
    # Amounts as USD is written ("0,45"), not as the columns keep them ("0,4500").
    exclude = ["price_quoted", "cost"]
    readonly_fields = ["explanation", "price_quoted_usd", "cost_usd"]
    price_quoted_usd = money_column("price_quoted", _("price quoted"))
    cost_usd = money_column("cost", _("cost"))
    actions = ["mark_not_charged"]

    def get_urls(self) -> list[Any]:
        return [*self.columns_urls(), *super().get_urls()]

    @admin.display(description=_("What happened"), ordering="error_token")
    def what_happened(self, obj: RentalExtension) -> str:
        return attempt_what_happened(obj)

    def has_extend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(Permission.EXTEND)

    @admin.action(
        description=_("Unknown, but checked on SMS.online: not extended (not charged)"), permissions=["extend"]
    )
    def mark_not_charged(self, request: HttpRequest, queryset: QuerySet[RentalExtension]) -> None:
        resolved = services.extensions_mark_not_charged(extensions=queryset, user=request.user)
        self.message_user(request, _("%(count)s unknown extension(s) marked as not charged.") % {"count": resolved})

    @admin.display(description=_("What it means"))
    def explanation(self, obj: RentalExtension) -> str:
        return describe(services.extension_outcome_for(obj)) if obj.state != AttemptState.PENDING else _("Pending")


@admin.register(ErrorEvent)
class ErrorEventAdmin(RecordAdmin):
    list_display = ["created_at", "account", "operation", "what_happened", "sent", "detail"]
    list_filter = [("token", OutcomeFilter), "account", "operation", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["account"]
    date_hierarchy = "created_at"
    search_fields = ["token", "detail"]

    @admin.display(description=_("What happened"), ordering="token")
    def what_happened(self, obj: ErrorEvent) -> str:
        return token_html(obj.token)


@admin.register(SmsMessage)
class SmsMessageAdmin(RecordAdmin):
    """Every SMS, with how each came and where it was forwarded; a rental's page links to its own."""

    list_display = ["received_at", "rental", "sender", "text", "code", "source", "forwarding"]
    list_filter = ["source"]
    list_select_related = ["rental", "forward"]
    search_fields = ["text", "sender", "rental__number"]
    # No second, unfiltered count on every page: it would read every SMS.
    show_full_result_count = False

    @admin.display(description=_("Forwarded"))
    def forwarding(self, obj: SmsMessage) -> str:
        return forwarding_summary(getattr(obj, "forward", None))


class OperatorInline(admin.TabularInline):
    model = Operator
    extra = 0


@admin.register(Service)
class ServiceAdmin(OfferedFiltersOnlyMixin, admin.ModelAdmin):
    list_display = ["code", "name", "is_active"]
    list_editable = ["is_active"]
    search_fields = ["code", "name"]


@admin.register(Country)
class CountryAdmin(OfferedFiltersOnlyMixin, admin.ModelAdmin):
    list_display = ["provider_id", "name", "is_active"]
    list_editable = ["is_active"]
    search_fields = ["name"]
    inlines = [OperatorInline]


@admin.register(Operator)
class OperatorAdmin(OfferedFiltersOnlyMixin, admin.ModelAdmin):
    list_display = ["code", "name", "country", "is_active"]
    list_filter = ["country"]
    list_select_related = ["country"]
    search_fields = ["code", "name"]
