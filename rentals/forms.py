from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.db.models import Case, QuerySet, Value, When
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import ANY_OPERATOR, RENT_HOURS, AccountState, Country, Operator, ProviderAccount, Service

HOURS_LABELS = {
    4: _("4 hours"),
    8: _("8 hours"),
    12: _("12 hours"),
    24: _("1 day"),
    72: _("3 days"),
    168: _("1 week"),
    360: _("15 days"),
    720: _("30 days"),
    2160: _("90 days"),
}
DEFAULT_HOURS = 24


def hour_choices() -> list[tuple[int, str]]:
    """The rent times, "1 day (24 h)", in the active language."""
    return [(hours, gettext("%(label)s (%(hours)s h)") % {"label": HOURS_LABELS[hours], "hours": hours})
            for hours in RENT_HOURS]  # fmt: skip


class CountryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Country) -> str:
        # SMS.online's own id beside the name: what its panel and its docs use.
        return gettext("%(name)s (id %(id)s)") % {"name": obj.display_name, "id": obj.provider_id}


class AccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ProviderAccount) -> str:
        return obj.name if obj.state == AccountState.OK else f"{obj.name} ({obj.state_summary.lower()})"


def accounts_ok_first() -> QuerySet[ProviderAccount]:
    """Accounts that can rent come first, so the default choice is one that works."""
    not_ok = Case(When(state=AccountState.OK, then=Value(0)), default=Value(1))
    return ProviderAccount.objects.order_by(not_ok, "name")


class RentNumberForm(forms.Form):
    account = AccountChoiceField(label=_("Account"), queryset=accounts_ok_first(), empty_label=None)
    service = forms.ModelChoiceField(label=_("Service"), queryset=Service.objects.filter(is_active=True))
    country = CountryChoiceField(label=_("Country"), queryset=Country.objects.filter(is_active=True))
    operator = forms.ModelChoiceField(
        label=_("Operator"),
        queryset=Operator.objects.filter(is_active=True).select_related("country"),
        required=False,
        empty_label=_("Any operator"),
    )
    hours = forms.TypedChoiceField(
        label=_("Rent time"),
        choices=lambda: hour_choices(),  # built when shown, in the reader's language
        coerce=int,
        initial=DEFAULT_HOURS,
    )
    label = forms.CharField(
        label=_("Used for"), max_length=200, required=False, widget=forms.TextInput(attrs={"class": "vTextField"}),
        help_text=_("Which external account or purpose will rely on this number (shown in the inventory)."),
    )  # fmt: skip
    webhook = forms.BooleanField(
        label=_("Receive SMS by webhook"),
        required=False,
        initial=True,
        help_text=_("SMS.online posts each SMS to this Rentdesk's own per-rental URL as soon as it arrives."),
    )
    nonce = forms.UUIDField(widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        operator, country = cleaned.get("operator"), cleaned.get("country")
        if operator and country and operator.country_id != country.pk:
            problem = _("%(operator)s is not an operator in %(country)s.")
            self.add_error("operator", problem % {"operator": operator.name, "country": country.name})
        return cleaned

    def rent_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "account": data["account"],
            "service": data["service"],
            "country": data["country"],
            "operator": data["operator"].code if data["operator"] else ANY_OPERATOR,
            "hours": data["hours"],
            "webhook": data["webhook"],
            "nonce": data["nonce"],
            "label": data["label"].strip(),
        }

    def with_fresh_nonce_if_invalid(self) -> RentNumberForm:
        """A missing or broken nonce would fail every resubmission: issue a new one, say why."""
        if "nonce" in self.errors:
            self.data = self.data.copy()
            self.data["nonce"] = str(uuid.uuid4())
            self.add_error(None, _("This form had expired. Check the choices and submit it again."))
        return self

    @classmethod
    def fresh(cls, **initial: Any) -> RentNumberForm:
        """An unbound form with a new nonce: each one rents at most once, however often it is posted."""
        return cls(initial={**initial, "nonce": uuid.uuid4()})
