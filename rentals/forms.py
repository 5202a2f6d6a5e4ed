from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Case, QuerySet, Value, When
from django.utils.translation import gettext_lazy as _

from .models import (
    ANY_OPERATOR,
    RENT_HOUR_CHOICES,
    RENT_HOURS,
    AccountState,
    Country,
    Operator,
    ProviderAccount,
    Rental,
    Service,
    auto_renew_window_problem,
)
from .wording.attention import attention_words
from .wording.formats import money

DEFAULT_HOURS = 24


class MoneyField(forms.DecimalField):
    """An amount of USD as its currency writes it, in the reader's language: "100,00" in Ukrainian, "100.00"
    in English, more places only where the amount has them ("0,455"), never the column's four ("100,0000").
    Typed with the language's decimal separator (a comma in Ukrainian) or a dot; the places the field keeps
    are unchanged."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("localize", True)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return money(value) if isinstance(value, Decimal) else value


class CountryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Country) -> str:
        # The name people know, in their language; SMS.online's id is for the CLI and the API, which take it.
        return obj.display_name


class AccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ProviderAccount) -> str:
        return obj.name if obj.state == AccountState.OK else f"{obj.name} ({obj.state_summary.lower()})"


def accounts_ok_first() -> QuerySet[ProviderAccount]:
    """Accounts that can rent come first, so the default choice is one that works."""
    not_ok = Case(When(state=AccountState.OK, then=Value(0)), default=Value(1))
    return ProviderAccount.objects.order_by(not_ok, "name")


class RentForm(forms.Form):
    """One rent request, whoever makes it: the admin's form, ``rent_number`` and the API check it alike.

    The admin's selects send ids. The CLI and the API name things as people do (``by_name=True``): the
    account by its name, the service by its code, the country by SMS.online's id, the operator by its
    code within the country.
    """

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
        choices=RENT_HOUR_CHOICES,
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

    def __init__(self, *args: Any, by_name: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if by_name:
            for name, key, problem in _NAMED_BY:
                self.fields[name].to_field_name = key
                self.fields[name].error_messages["invalid_choice"] = problem
            # Operator codes repeat from country to country: clean() reads the code within the country.
            self.fields["operator"] = forms.CharField(required=False, max_length=32)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        operator, country = cleaned.get("operator"), cleaned.get("country")
        if isinstance(operator, str):
            operator = cleaned["operator"] = self._operator_named(operator, country)
        if operator and country and operator.country_id != country.pk:
            problem = _("%(operator)s is not an operator in %(country)s.")
            self.add_error("operator", problem % {"operator": operator.name, "country": country.name})
        return cleaned

    def _operator_named(self, code: str, country: Country | None) -> Operator | None:
        code = code.strip().lower()
        if code in ("", ANY_OPERATOR) or country is None:
            return None
        operator = Operator.objects.filter(country=country, code=code, is_active=True).first()
        if operator is None:
            problem = _("There is no active operator %(code)s in %(country)s.")
            self.add_error("operator", problem % {"code": code, "country": country.name})
        return operator

    def rent_arguments(self) -> dict[str, Any]:
        """The keyword arguments of ``services.rental_rent``, but the nonce and who asked."""
        data = self.cleaned_data
        return {
            "account": data["account"],
            "service": data["service"],
            "country": data["country"],
            "operator": data["operator"].code if data["operator"] else ANY_OPERATOR,
            "hours": data["hours"],
            "webhook": data["webhook"],
            "label": data["label"].strip(),
        }


_NAMED_BY = [
    ("account", "name", _("There is no account named %(value)s.")),
    ("service", "code", _("There is no active service with code %(value)s in the catalog.")),
    ("country", "provider_id", _("There is no active country with id %(value)s in the catalog.")),
]


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.get_username()


# What a person chose last time on the rent form, to offer again (kept per person: LastRentChoice).
REMEMBERED_CHOICE = ("account", "service", "country", "operator", "hours")


class RentNumberForm(RentForm):
    """The admin's "Rent number" form: a rent request and the nonce that makes it rent at most once."""

    # Only active staff take care of numbers (as on the rental's page); the person renting by default.
    assignee = PersonChoiceField(
        label=_("Assignee"), required=False, empty_label=_("Nobody in particular"),
        queryset=get_user_model().objects.filter(is_active=True, is_staff=True).order_by("username"),
        help_text=_("Who takes care of the number: its SMS and reminders go to them."),
    )  # fmt: skip
    nonce = forms.UUIDField(widget=forms.HiddenInput)

    def rent_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {**super().rent_arguments(), "nonce": data["nonce"], "assignee": data["assignee"]}

    def choice_to_remember(self) -> dict[str, Any]:
        """The account, service, country, operator and rent time chosen (``services.rent_choice_remember``)."""
        return {name: self.cleaned_data[name] for name in REMEMBERED_CHOICE}

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


class ExtendForm(forms.Form):
    """One extension request: the admin's confirmation page and the API check it alike. The nonce makes
    it extend at most once; the price is the one shown to the person who confirmed, if any."""

    hours = forms.TypedChoiceField(label=_("Extend by"), choices=RENT_HOUR_CHOICES, coerce=int, initial=DEFAULT_HOURS)
    nonce = forms.UUIDField(widget=forms.HiddenInput)
    price = forms.DecimalField(required=False, min_value=0, max_digits=14, decimal_places=4, widget=forms.HiddenInput)
    # The end date the person saw: a page left open while a colleague (or auto-renew) extended the
    # rental would otherwise pay for a second extension nobody asked for on the new end date.
    end_date = forms.DateTimeField(required=False, widget=forms.HiddenInput)

    def extend_arguments(self) -> dict[str, Any]:
        """The keyword arguments of ``services.rental_extend``, but the rental and who asked."""
        data = self.cleaned_data
        return {"hours": data["hours"], "nonce": data["nonce"], "price_quoted": data["price"],
                "expect_end_date": data.get("end_date")}  # fmt: skip

    @classmethod
    def hours_or_default(cls, data: Any) -> int:
        """The hours asked for, or the default when they are missing or not a rent time (to show a price)."""
        try:
            return cls.base_fields["hours"].clean(data.get("hours"))
        except forms.ValidationError:
            return DEFAULT_HOURS


class AutoRenewForm(forms.Form):
    """Auto-renew for several rentals at once (the inventory's action): a ceiling is required, since a
    renewal without one is refused anyway."""

    hours = forms.TypedChoiceField(
        label=_("Renew for (hours)"), choices=RENT_HOUR_CHOICES, coerce=int, initial=DEFAULT_HOURS
    )
    before_hours = forms.IntegerField(
        label=_("Renew this many hours before the end"), min_value=1, max_value=max(RENT_HOURS), initial=24
    )
    max_price = MoneyField(
        label=_("Renew only up to this price (USD)"), min_value=Decimal("0.01"), max_digits=14, decimal_places=4,
        help_text=_("The most one renewal of one rental may cost."),
    )  # fmt: skip

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        hours, before_hours = data.get("hours"), data.get("before_hours")
        if hours and before_hours and (problem := auto_renew_window_problem(hours, before_hours)):
            self.add_error("before_hours", problem)
        return data


class RentalAdminForm(forms.ModelForm):
    """The rental's page: its attention note worded for the reader (rentals/wording/attention.py). A note
    left as shown stays the note Rentdesk wrote, so the next reader sees it in their own language; a note a
    person writes or changes is theirs, kept as typed."""

    class Meta:
        model = Rental
        fields = ["attention"]  # and the rest the admin names in its ``fields``
        # A note is a sentence or two: read whole, not cut at a text box's width.
        widgets = {"attention": forms.Textarea(attrs={"rows": 2, "cols": 80})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "attention" in self.fields and self.instance.attention:
            self.initial["attention"] = attention_words(self.instance.attention)

    def clean_attention(self) -> str:
        typed = self.cleaned_data["attention"]
        return self.instance.attention if typed == self.initial.get("attention") else typed
