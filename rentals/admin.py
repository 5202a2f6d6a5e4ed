"""Admin pages. Thin: every action calls one service and reports what it said."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from . import services
from .crypto import ApiKeyUnreadable
from .explanations import explain
from .forms import RentNumberForm
from .models import (
    AccountEvent,
    AttemptState,
    Country,
    ErrorEvent,
    Operator,
    ProviderAccount,
    Rental,
    RentalReminder,
    RentAttempt,
    Service,
    api_key_problem,
)
from .provider.errors import ProviderError

RENT_PERMISSION = "rentals.rent_number"


def can_rent(request: HttpRequest) -> bool:
    return request.user.has_perm(RENT_PERMISSION)


class ProviderAccountForm(forms.ModelForm):
    api_url = forms.URLField(
        label="API URL",
        max_length=500,
        assume_scheme="https",
        help_text=ProviderAccount._meta.get_field("api_url").help_text,
    )
    api_key = forms.CharField(
        label="API key",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="From the SMS.online profile, API settings. Stored encrypted; never shown again. "
        "Leave empty to keep the current key.",
    )

    class Meta:
        model = ProviderAccount
        fields = ["name", "api_url", "low_balance_threshold"]

    def clean_api_key(self) -> str:
        key = self.cleaned_data["api_key"]
        if not self.instance.pk and not key:
            raise forms.ValidationError("A new account needs its API key.")
        if key and (problem := api_key_problem(key)):
            raise forms.ValidationError(problem)
        return key

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        new_url, key = cleaned.get("api_url"), cleaned.get("api_key")
        if self.instance.pk and new_url and not key and _host(new_url) != _host(self.instance.api_url):
            # The key goes wherever the URL points: moving it to another host takes the key itself.
            self.add_error("api_key", "Enter the API key again to send it to a different host.")
        return cleaned


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class AccountEventInline(ReadOnlyInline):
    model = AccountEvent
    fields = ["created_at", "kind", "old_state", "new_state", "cause"]
    readonly_fields = fields
    verbose_name_plural = "Health history"

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccountEvent]:
        return super().get_queryset(request).order_by("-created_at")


class RentalReminderInline(ReadOnlyInline):
    model = RentalReminder
    fields = ["threshold_hours", "claimed_at", "sent_at", "recipients"]
    readonly_fields = fields
    verbose_name_plural = "Expiry reminders sent"


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    form = ProviderAccountForm
    list_display = ["name", "state_display", "balance", "balance_checked_at", "last_error_token", "last_error_at"]
    list_filter = ["state"]
    search_fields = ["name"]
    readonly_fields = [
        "masked_api_key",
        "state",
        "banned_until",
        "state_changed_at",
        "last_error_token",
        "last_error_detail",
        "last_error_at",
        "balance",
        "balance_checked_at",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "api_url", "masked_api_key", "api_key"]}),
        (
            "Health",
            {
                "fields": [
                    "state",
                    "banned_until",
                    "state_changed_at",
                    "balance",
                    "balance_checked_at",
                    "low_balance_threshold",
                ]
            },
        ),
        ("Last error", {"fields": ["last_error_token", "last_error_detail", "last_error_at"]}),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]
    actions = ["rent_with_account", "check_balance", "reset_state"]
    inlines = [AccountEventInline]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        from django.conf import settings

        return {"api_url": settings.SMSONLINE_API_URL, **super().get_changeform_initial_data(request)}

    @admin.display(description="API key")
    def masked_api_key(self, obj: ProviderAccount) -> str:
        return obj.masked_api_key

    @admin.display(description="State", ordering="state")
    def state_display(self, obj: ProviderAccount) -> str:
        return obj.state_summary

    @method_decorator(sensitive_post_parameters("api_key"))
    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return super().changeform_view(request, *args, **kwargs)

    @method_decorator(sensitive_variables("form"))
    def save_model(self, request: HttpRequest, obj: ProviderAccount, form: ProviderAccountForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if form.cleaned_data.get("api_key"):
            services.account_set_api_key(account=obj, api_key=form.cleaned_data["api_key"])

    def has_rent_permission(self, request: HttpRequest) -> bool:
        return can_rent(request)

    @admin.action(description="Rent a number with the selected account", permissions=["rent"])
    def rent_with_account(self, request: HttpRequest, queryset: QuerySet[ProviderAccount]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one account to rent with.", messages.WARNING)
            return None
        url = reverse("admin:rentals_rental_rent")
        return HttpResponseRedirect(f"{url}?account={queryset.get().pk}")

    @admin.action(description="Check balance with SMS.online", permissions=["change"])
    def check_balance(self, request: HttpRequest, queryset: QuerySet[ProviderAccount]) -> None:
        for account in queryset:
            try:
                balance = services.account_check_balance(account=account)
            except ProviderError as error:
                self.message_user(request, f"{account.name}: {error.token}. {explain(error.token)}", messages.ERROR)
            except ApiKeyUnreadable:
                self.message_user(request, f"{account.name}: {explain('API_KEY_UNREADABLE')}", messages.ERROR)
            else:
                self.message_user(request, f"{account.name}: balance {balance} ({account.state_summary}).")

    @admin.action(description="Reset state to OK (after a top-up, a key fix or a lifted ban)", permissions=["change"])
    def reset_state(self, request: HttpRequest, queryset: QuerySet[ProviderAccount]) -> None:
        for account in queryset:
            services.account_reset_state(account=account)
        self.message_user(request, f"{len(queryset)} account(s) set to OK.")


@admin.register(Rental)
class RentalAdmin(admin.ModelAdmin):
    list_display = [
        "phone_number", "label", "service", "country", "operator", "end_date", "status", "account", "assignee",
        "rented_by",
    ]  # fmt: skip
    list_filter = ["status", "account", "service", "country"]
    list_select_related = ["service", "country", "account", "rented_by", "assignee"]
    search_fields = ["number", "provider_rent_id", "label"]
    date_hierarchy = "end_date"
    fields = [
        "phone_number", "label", "assignee", "reminders_enabled", "provider_rent_id", "account", "service",
        "country", "operator", "hours", "end_date", "status", "expired_at", "cost", "rented_by", "created_at",
        "attempt_link",
    ]  # fmt: skip
    readonly_fields = [
        "phone_number", "provider_rent_id", "account", "service", "country", "operator", "hours", "end_date",
        "status", "expired_at", "cost", "rented_by", "created_at", "attempt_link",
    ]  # fmt: skip
    inlines = [RentalReminderInline]

    def get_urls(self) -> list[Any]:
        rent = path("rent/", self.admin_site.admin_view(self.rent_view), name="rentals_rental_rent")
        return [rent, *super().get_urls()]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rentals come from the provider only: "Rent number"

    def has_delete_permission(self, request: HttpRequest, obj: Rental | None = None) -> bool:
        return False  # the inventory is the team's record of what was paid for

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().changelist_view(request, {**(extra_context or {}), "can_rent": can_rent(request)})

    @admin.display(description="Number", ordering="number")
    def phone_number(self, obj: Rental) -> str:
        return f"+{obj.number}"

    @admin.display(description="Rent attempt")
    def attempt_link(self, obj: Rental) -> str:
        attempt = getattr(obj, "attempt", None)
        if attempt is None:
            return "-"
        url = reverse("admin:rentals_rentattempt_change", args=[attempt.pk])
        return format_html('<a href="{}">{}</a>', url, attempt)

    def rent_view(self, request: HttpRequest) -> HttpResponse:
        if not can_rent(request):
            raise PermissionDenied
        if request.method != "POST":
            return self._render_rent_form(request, RentNumberForm.fresh(account=request.GET.get("account")))
        form = RentNumberForm(request.POST)
        if not form.is_valid():
            return self._render_rent_form(request, form.with_fresh_nonce_if_invalid())
        outcome = services.rental_rent(**form.rent_arguments(), requested_by=request.user, via="admin")
        if outcome.ok:
            self.message_user(request, outcome.message, messages.SUCCESS)
            return HttpResponseRedirect(self._after_rent_url(request, outcome.rental))
        if outcome.attempt.state == AttemptState.PENDING:
            # The first submission is still at the provider: a new ready form would invite a second rent.
            self.message_user(request, outcome.message, messages.WARNING)
            return HttpResponseRedirect(reverse("admin:rentals_rentattempt_changelist"))
        level = messages.WARNING if outcome.attempt.state == AttemptState.UNKNOWN else messages.ERROR
        self.message_user(request, f"{outcome.token}: {outcome.message}", level)
        retry = RentNumberForm.fresh(**{k: v for k, v in form.cleaned_data.items() if k != "nonce"})
        return self._render_rent_form(request, retry)

    def _after_rent_url(self, request: HttpRequest, rental: Rental) -> str:
        if self.has_view_or_change_permission(request, rental):
            return reverse("admin:rentals_rental_change", args=[rental.pk])
        return reverse("admin:rentals_rental_rent")

    def _render_rent_form(self, request: HttpRequest, form: RentNumberForm) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "Rent number",
            "form": form,
            "opts": self.opts,
            "attempts": RentAttempt.objects.filter(requested_by=request.user).select_related(
                "account", "service", "country"
            )[:5],
            "can_view_attempts": request.user.has_perm("rentals.view_rentattempt"),
        }
        return TemplateResponse(request, "admin/rentals/rental/rent_number.html", context)


@admin.register(RentAttempt)
class RentAttemptAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "account",
        "service",
        "country",
        "operator",
        "hours",
        "state",
        "error_token",
        "duration_ms",
        "requested_by",
        "via",
        "rental",
    ]
    list_filter = ["state", "error_token", "account", "via"]
    list_select_related = ["account", "service", "country", "requested_by", "rental"]
    date_hierarchy = "created_at"
    readonly_fields = ["explanation"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: RentAttempt | None = None) -> bool:
        return False  # a record of what was sent: read-only

    def has_delete_permission(self, request: HttpRequest, obj: RentAttempt | None = None) -> bool:
        return False

    @admin.display(description="What it means")
    def explanation(self, obj: RentAttempt) -> str:
        return services.rent_outcome_for(obj).message if obj.state != AttemptState.PENDING else "Pending."


@admin.register(ErrorEvent)
class ErrorEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "account", "operation", "token", "sent", "detail"]
    list_filter = ["token", "account", "operation", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["account"]
    date_hierarchy = "created_at"
    search_fields = ["token", "detail"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ErrorEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ErrorEvent | None = None) -> bool:
        return False


class OperatorInline(admin.TabularInline):
    model = Operator
    extra = 0


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "is_active"]
    list_editable = ["is_active"]
    search_fields = ["code", "name"]


@admin.register(Country)
class CountryAdmin(admin.ModelAdmin):
    list_display = ["provider_id", "name", "is_active"]
    list_editable = ["is_active"]
    search_fields = ["name"]
    inlines = [OperatorInline]


@admin.register(Operator)
class OperatorAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "country", "is_active"]
    list_filter = ["country"]
    list_select_related = ["country"]
    search_fields = ["code", "name"]
