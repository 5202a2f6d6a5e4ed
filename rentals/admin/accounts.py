"""Provider accounts: keys (write-only), health, and the actions that check or reset it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from .. import services
from ..models import (
    AccountEvent,
    ProviderAccount,
    api_key_problem,
)
from ..wording.formats import money
from ..wording.pages import token_html, url_refusal
from ..wording.tokens import what_happened
from .common import (
    MONEY_FORM_FIELDS,
    OfferedFiltersOnlyMixin,
    ReadOnlyInline,
    can_rent,
    money_column,
)


class ProviderAccountForm(forms.ModelForm):
    api_url = forms.URLField(
        label=_("API URL"),
        max_length=500,
        assume_scheme="https",
        help_text=ProviderAccount._meta.get_field("api_url").help_text,
    )
    api_key = forms.CharField(
        label=_("API key"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_(
            "From the SMS.online profile, API settings. Stored encrypted; never shown again. "
            "Leave empty to keep the current key."
        ),
    )

    class Meta:
        model = ProviderAccount
        fields = ["name", "api_url", "low_balance_threshold", "monthly_budget"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.pk:  # nothing to keep yet: the key is simply required
            self.fields["api_key"].required = True
            self.fields["api_key"].help_text = _(
                "From the SMS.online profile, API settings. Stored encrypted; never shown again."
            )

    def clean_api_key(self) -> str:
        key = self.cleaned_data["api_key"]
        if not self.instance.pk and not key:
            raise forms.ValidationError(_("A new account needs its API key."))
        if key and (problem := api_key_problem(key)):
            raise forms.ValidationError(problem)
        return key

    def clean_api_url(self) -> str:
        url = self.cleaned_data["api_url"]
        if problem := services.api_url_problem(url):
            raise forms.ValidationError(
                _("Rentdesk does not send API keys to this URL: %(problem)s."), params={"problem": url_refusal(problem)}
            )
        return url

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        new_url, key = cleaned.get("api_url"), cleaned.get("api_key")
        if self.instance.pk and new_url and not key and services.key_needed_for(self.instance, new_url):
            # The key goes wherever the URL points: another scheme, host or port takes the key itself.
            self.add_error("api_key", _("Enter the API key again to send it to another scheme, host or port."))
        return cleaned


class AccountEventInline(ReadOnlyInline):
    model = AccountEvent
    fields = ["created_at", "kind", "old_state", "new_state", "cause"]
    readonly_fields = fields
    verbose_name_plural = _("Health history")


@admin.register(ProviderAccount)
class ProviderAccountAdmin(OfferedFiltersOnlyMixin, admin.ModelAdmin):
    form = ProviderAccountForm
    list_display = ["name", "state_display", "balance_usd", "balance_checked_at", "last_error", "last_error_at"]
    formfield_overrides = MONEY_FORM_FIELDS
    list_filter = ["state"]
    search_fields = ["name"]
    readonly_fields = [
        "masked_api_key",
        "state",
        "banned_until",
        "state_changed_at",
        "last_error",
        "last_error_detail",
        "last_error_at",
        "balance_usd",
        "balance_checked_at",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "api_url", "masked_api_key", "api_key"]}),
        (
            _("Health"),
            {
                "fields": [
                    "state",
                    "banned_until",
                    "state_changed_at",
                    "balance_usd",
                    "balance_checked_at",
                    "low_balance_threshold",
                ]
            },
        ),
        (_("Budget"), {"fields": ["monthly_budget"]}),
        (_("Last error"), {"fields": ["last_error", "last_error_detail", "last_error_at"]}),
        (_("Record"), {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]
    actions = ["rent_with_account", "check_balance", "reset_state"]
    balance_usd = money_column("balance", _("balance"))
    inlines = [AccountEventInline]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        from django.conf import settings

        return {"api_url": settings.SMSONLINE_API_URL, **super().get_changeform_initial_data(request)}

    @admin.display(description=_("Current API key"))
    def masked_api_key(self, obj: ProviderAccount) -> str:
        return obj.masked_api_key

    def get_fieldsets(self, request: HttpRequest, obj: ProviderAccount | None = None) -> list[Any]:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None:
            return fieldsets
        # A new account: only what is asked for; there is no current key, health or history yet.
        return [(None, {"fields": ["name", "api_url", "api_key", "low_balance_threshold"]})]

    def get_inlines(self, request: HttpRequest, obj: ProviderAccount | None) -> list[Any]:
        return super().get_inlines(request, obj) if obj is not None else []

    @admin.display(description=_("Last error"), ordering="last_error_token")
    def last_error(self, obj: ProviderAccount) -> str:
        return token_html(obj.last_error_token)

    @admin.display(description=_("State"), ordering="state")
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

    @admin.action(description=_("Rent a number with the selected account"), permissions=["rent"])
    def rent_with_account(self, request: HttpRequest, queryset: QuerySet[ProviderAccount]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one account to rent with."), messages.WARNING)
            return None
        url = reverse("admin:rentals_rental_rent")
        return HttpResponseRedirect(f"{url}?account={queryset.get().pk}")

    @admin.action(description=_("Check balance with SMS.online"), permissions=["change"])
    def check_balance(self, request: HttpRequest, queryset: QuerySet[ProviderAccount]) -> None:
        for account in queryset:
            outcome = services.account_check_balance(account=account)
            if not outcome.ok:
                self.message_user(request, f"{account.name}: {what_happened(outcome.token)}", messages.ERROR)
                continue
            checked = _("%(account)s: balance %(balance)s (%(state)s).")
            facts = {"account": account.name, "balance": money(outcome.balance), "state": account.state_summary}
            self.message_user(request, checked % facts)

    @admin.action(
        description=_("Reset state to OK (after a top-up, a key fix or a lifted ban)"), permissions=["change"]
    )
    def reset_state(self, request: HttpRequest, queryset: QuerySet[ProviderAccount]) -> None:
        for account in queryset:
            services.account_reset_state(account=account)
        self.message_user(request, _("%(count)s account(s) set to OK.") % {"count": len(queryset)})
