"""The inventory: rentals, the rent form, and what can be done to a rental."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import get_format
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export.admin import ExportMixin
from rangefilter.filters import DateRangeFilterBuilder
from simple_history.admin import SimpleHistoryAdmin

from .. import selectors, services
from ..forms import AutoRenewForm, RentalAdminForm, RentNumberForm
from ..models import AttemptState, Rental, RentalExtension, RentalReminder, RentalStatus
from ..outcomes import State
from ..permissions import Permission
from ..wording.formats import money
from ..wording.pages import describe, outcome_line, provider_busy
from .common import (
    MONEY_FORM_FIELDS,
    CompactColumnsMixin,
    OfferedFiltersOnlyMixin,
    ReadOnlyInline,
    attempt_what_happened,
    can_rent,
    money_column,
    operator_words,
    row_id,
)
from .costs import CostsMixin
from .history import ReadableHistoryMixin
from .inventory import (
    CountedUpToPaginator,
    ExpiringFilter,
    FormulaSafeCSV,
    FormulaSafeXLSX,
    MineFilter,
    RentalResource,
    grouped_number,
    urgency,
)
from .live import LiveSmsMixin, moment
from .rental_actions import RentalActionsMixin


class RentalExtensionInline(ReadOnlyInline):
    model = RentalExtension
    fk_name = "rental"
    fields = ["created_at", "hours", "state", "what_happened", "price_quoted_usd", "old_rent_id", "new_rent_id",
              "new_end_date", "requested_by", "automatic", "what_now"]  # fmt: skip
    readonly_fields = fields
    verbose_name_plural = _("Extensions")
    price_quoted_usd = money_column("price_quoted", _("price quoted"))

    @admin.display(description=_("What happened"))
    def what_happened(self, obj: RentalExtension) -> str:
        return attempt_what_happened(obj)

    @admin.display(description="")
    def what_now(self, obj: RentalExtension) -> str:
        """An unknown extension keeps the rental from being extended until it is settled: say where."""
        if obj.state != AttemptState.UNKNOWN:
            return ""
        url = reverse("admin:rentals_rentalextension_changelist") + f"?state__exact=unknown&rental={obj.rental_id}"
        return format_html(
            '<a class="unknown-extension" href="{}">{}</a>', url, _("Outcome unknown: check SMS.online, then settle it")
        )


class RentalReminderInline(ReadOnlyInline):
    model = RentalReminder
    fields = ["threshold_hours", "claimed_at", "sent_at", "recipients"]
    readonly_fields = fields
    verbose_name_plural = _("Expiry reminders sent")


@admin.register(Rental)
class RentalAdmin(
    RentalActionsMixin,
    LiveSmsMixin,
    CostsMixin,
    CompactColumnsMixin,
    ReadableHistoryMixin,
    OfferedFiltersOnlyMixin,
    ExportMixin,
    SimpleHistoryAdmin,
):
    # What a 1400-pixel screen shows at once; "All columns" adds operator, status, end date, cost, account.
    compact_list_display = [
        "phone_number", "label", "service", "country", "time_left", "last_sms", "code_to_copy", "assignee",
    ]  # fmt: skip
    list_display = [
        "phone_number", "label", "service", "country", "operator_name", "status", "end_date", "time_left", "last_sms",
        "code_to_copy", "assignee", "paid", "account",
    ]  # fmt: skip
    list_filter = [
        "status", ExpiringFilter, MineFilter, ("end_date", DateRangeFilterBuilder(title=_("end date between"))),
        "service", "country", "account", "assignee",
    ]  # fmt: skip
    list_select_related = list(selectors.INVENTORY_RELATED)
    # What the search reads is selectors.rentals_inventory (the API's too); this only shows the box.
    search_fields = ["number"]
    search_help_text = _(
        "A number in any spelling (+44 7700 900123, 7700-900-123, or its last digits such as 900123) finds the"
        " numbers that start or end with it, or that rent id. Words find the rentals whose label or notes hold"
        " them all, and the rentals with an SMS that holds them, for those who may read SMS."
    )
    ordering = list(selectors.INVENTORY_ORDER)  # active rentals first, the soonest to end at the top
    # No second, unfiltered count on every filtered page, and the list's own counted up to 10,000:
    # either would otherwise read the whole table on every page.
    show_full_result_count = False
    paginator = CountedUpToPaginator
    list_per_page = 50
    actions = ["claim", "release", "follow", "unfollow", "set_auto_renew", "stop_auto_renew"]
    resource_classes = [RentalResource]
    formats = [FormulaSafeCSV, FormulaSafeXLSX]
    form = RentalAdminForm
    formfield_overrides = MONEY_FORM_FIELDS
    # One template of our own (rent and export buttons), not import-export's layered ones.
    change_list_template = "admin/rentals/rental/change_list.html"
    import_export_change_list_template = None
    fields = [
        "phone_number", "label", "notes", "assignee", "followed_by", "reminders_enabled", "sms_chat_urls", "auto_renew",
        "auto_renew_hours", "auto_renew_before_hours", "auto_renew_max_price", "auto_renew_by", "provider_rent_id",
        "account", "service", "country", "operator_name", "hours", "end_date", "status", "attention", "expired_at",
        "ended_at", "paid", "rented_by", "created_at", "attempt_link",
    ]  # fmt: skip
    readonly_fields = [
        "phone_number", "provider_rent_id", "account", "service", "country", "operator_name", "hours", "end_date",
        "status", "expired_at", "ended_at", "paid", "rented_by", "created_at", "attempt_link", "auto_renew_by",
        "followed_by",
    ]  # fmt: skip
    # Its SMS are the live list at the top of the page (change_form.html), not an inline.
    inlines = [RentalExtensionInline, RentalReminderInline]

    @admin.display(description=_("Operator"), ordering="operator")
    def operator_name(self, obj: Rental) -> str:
        return operator_words(obj.operator)

    @admin.display(description=_("Followed by"))
    def followed_by(self, obj: Rental) -> str:
        """Who gets its SMS in Telegram besides the assignee and the renter (the list's Follow action)."""
        names = sorted(person.get_full_name() or person.get_username() for person in obj.followers.all())
        return ", ".join(names) or self.get_empty_value_display()

    def get_urls(self) -> list[Any]:
        rent = path("rent/", self.admin_site.admin_view(self.rent_view), name="rentals_rental_rent")
        own = [rent, *self.action_urls(), *self.live_urls(), *self.costs_urls(), *self.columns_urls()]
        return [*own, *super().get_urls()]

    def history_form_view(self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None):
        # History is a record to read: its form would otherwise save an old version over the rental.
        if request.method == "POST":
            raise PermissionDenied
        if row_id(object_id) is None or row_id(version_id) is None:  # the library's view raises on "abc"
            raise Http404
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_readonly_fields(self, request: HttpRequest, obj: Rental | None = None) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.has_perm(Permission.EXTEND):  # auto-renew spends money
            readonly += services.AUTO_RENEW_SETTINGS
        if obj is not None and obj.status != RentalStatus.ACTIVE:  # ended: nothing left to remind or renew
            readonly += ["reminders_enabled", *services.AUTO_RENEW_SETTINGS]
        return list(dict.fromkeys(readonly))

    def save_model(self, request: HttpRequest, obj: Rental, form: Any, change: bool) -> None:
        services.auto_renew_settings_changed(rental=obj, changed=form.changed_data, by=request.user)
        super().save_model(request, obj, form, change)

    def get_fields(self, request: HttpRequest, obj: Rental | None = None) -> list[str]:
        shown = list(super().get_fields(request, obj))
        if not request.user.has_perm(Permission.READ_SMS):  # where SMS go is for those who may read them
            shown.remove("sms_chat_urls")
        return shown

    def get_list_display(self, request: HttpRequest) -> list[str]:
        shown = list(super().get_list_display(request))
        if not request.user.has_perm(Permission.READ_SMS):  # SMS text has its own permission
            shown = [name for name in shown if name not in ("last_sms", "code_to_copy")]
        return shown

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None):
        pk = row_id(object_id)
        rental = Rental.objects.filter(pk=pk).first() if pk is not None else None
        tools = self.rental_tools(request, rental) if rental else {}
        live_sms = self.live_sms_context(request, rental) if rental else None
        context = {**(extra_context or {}), "tools": tools, "live_sms": live_sms}
        return super().change_view(request, object_id, form_url, context)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Rental]:
        return super().get_queryset(request).with_paid()

    @admin.display(description=_("Cost (USD)"), ordering="paid")
    def paid(self, obj: Rental) -> str:
        """The rent and its paid extensions; nothing once SMS.online refunded them."""
        return "-" if obj.paid is None else money(obj.paid)

    @admin.display(description=_("Time left"), ordering="end_date")
    def time_left(self, obj: Rental) -> str:
        return format_html('<span title="{}">{}</span>', moment(obj.end_date), urgency(obj))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Rental], search_term: str
    ) -> tuple[QuerySet[Rental], bool]:
        narrowed = selectors.InventoryFilter(terms=(search_term,))
        reads_sms = request.user.has_perm(Permission.READ_SMS)
        return selectors.rentals_inventory(queryset, narrowed=narrowed, person=request.user, reads_sms=reads_sms), False

    @admin.action(description=_("Claim: I take care of the selected rentals"), permissions=["change"])
    def claim(self, request: HttpRequest, queryset: QuerySet[Rental]) -> None:
        changed = services.rentals_claim(rentals=queryset, user=request.user)
        self.message_user(request, _("You now take care of %(count)s more rental(s).") % {"count": changed})

    @admin.action(description=_("Release: nobody in particular takes care of them"), permissions=["change"])
    def release(self, request: HttpRequest, queryset: QuerySet[Rental]) -> None:
        changed = services.rentals_release(rentals=queryset, user=request.user)
        self.message_user(request, _("Released %(count)s rental(s).") % {"count": changed})

    @admin.action(description=_("Follow: send me their SMS in Telegram too"), permissions=["view"])
    def follow(self, request: HttpRequest, queryset: QuerySet[Rental]) -> None:
        changed = services.rentals_follow(rentals=queryset, user=request.user)
        self.message_user(request, _("You now follow %(count)s more rental(s).") % {"count": changed})

    @admin.action(description=_("Stop following the selected rentals"), permissions=["view"])
    def unfollow(self, request: HttpRequest, queryset: QuerySet[Rental]) -> None:
        changed = services.rentals_unfollow(rentals=queryset, user=request.user)
        self.message_user(request, _("You no longer follow %(count)s rental(s).") % {"count": changed})

    def has_auto_renew_permission(self, request: HttpRequest) -> bool:
        # Auto-renew spends money: the rental's page lets only those who may extend change it, too.
        return self.has_change_permission(request) and request.user.has_perm(Permission.EXTEND)

    @admin.action(description=_("Auto-renew the selected rentals…"), permissions=["auto_renew"])
    def set_auto_renew(self, request: HttpRequest, queryset: QuerySet[Rental]) -> TemplateResponse | None:
        form = AutoRenewForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
                       "rentals": queryset, "title": _("Auto-renew the selected rentals")}  # fmt: skip
            return TemplateResponse(request, "admin/rentals/rental/auto_renew_action.html", context)
        changed = services.rentals_set_auto_renew(rentals=queryset, by=request.user, **form.cleaned_data)
        self.message_user(request, _("%(count)s rental(s) now renew themselves.") % {"count": changed})
        return None

    @admin.action(description=_("Stop auto-renew for the selected rentals"), permissions=["auto_renew"])
    def stop_auto_renew(self, request: HttpRequest, queryset: QuerySet[Rental]) -> None:
        changed = services.rentals_set_auto_renew(rentals=queryset, by=request.user, hours=None)
        self.message_user(request, _("%(count)s rental(s) no longer renew themselves.") % {"count": changed})

    @admin.display(description=_("Last SMS"), ordering="last_sms_at")
    def last_sms(self, obj: Rental) -> str:
        if not obj.last_sms_text:
            return ""
        received = moment(obj.last_sms_at)
        text = Truncator(obj.last_sms_text).chars(60)
        return format_html(
            '<span class="live-last-sms" data-received="{}" title="{}">{}</span>', received, received, text
        )

    # Not named last_sms_code: a column named as a model field shows the field's bare value, not this.
    @admin.display(description=_("Code"), ordering="last_sms_code")
    def code_to_copy(self, obj: Rental) -> str:
        if not obj.last_sms_code:
            return ""
        title = gettext("Copy the code")
        return format_html(
            '<button type="button" class="copy-code" data-code="{}" title="{}">{}</button>', obj.last_sms_code, title,
            obj.last_sms_code,
        )  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rentals come from the provider only: "Rent number"

    def has_delete_permission(self, request: HttpRequest, obj: Rental | None = None) -> bool:
        return False  # the inventory is the team's record of what was paid for

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = {**(extra_context or {}), "can_rent": can_rent(request), "can_read_sms": self.may_read_sms(request)}
        return super().changelist_view(request, context)

    @admin.display(description=_("Number"), ordering="number")
    def phone_number(self, obj: Rental) -> str:
        # The row's rental, for the script that brings new SMS into the list.
        return format_html('<span data-rental-id="{}">{}</span>', obj.pk, grouped_number(obj.number))

    @admin.display(description=_("Rent attempt"))
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
            return self._render_rent_form(request, self._fresh_rent_form(request))
        form = RentNumberForm(request.POST)
        if not form.is_valid():
            return self._render_rent_form(request, form.with_fresh_nonce_if_invalid())
        services.rent_choice_remember(person=request.user, **form.choice_to_remember())  # offered again next time
        try:
            outcome = services.rental_rent(**form.rent_arguments(), requested_by=request.user, via="admin", web=True)
        except services.ProviderBusy as busy:
            # Nothing was recorded under the form's nonce: the same form, filled in, to send again.
            self.message_user(request, provider_busy(busy.seconds, account_paced=busy.account_paced), messages.WARNING)
            return self._render_rent_form(request, form)
        if outcome.ok:
            self.message_user(request, describe(outcome), messages.SUCCESS)
            return HttpResponseRedirect(self._after_rent_url(request, outcome.rental))
        if outcome.state is State.PENDING:
            # The first submission is still at the provider: a new ready form would invite a second rent.
            self.message_user(request, describe(outcome), messages.WARNING)
            return HttpResponseRedirect(reverse("admin:rentals_rentattempt_changelist"))
        if outcome.state is State.UNKNOWN:
            # Maybe charged, and reconciliation will say within minutes: the attempt's own page, where
            # that shows, rather than a ready form that rents a second number with one click.
            self.message_user(request, outcome_line(outcome), messages.WARNING)
            return HttpResponseRedirect(reverse("admin:rentals_rentattempt_change", args=[outcome.attempt.pk]))
        self.message_user(request, outcome_line(outcome), messages.ERROR)
        retry = RentNumberForm.fresh(**{k: v for k, v in form.cleaned_data.items() if k != "nonce"})
        return self._render_rent_form(request, retry)

    def _fresh_rent_form(self, request: HttpRequest) -> RentNumberForm:
        """Prefilled with the person's last choice (on any device), themselves as the assignee, and the
        account the accounts' action named, if it did."""
        remembered = selectors.last_rent_choice(user_id=request.user.pk)
        if request.GET.get("account"):
            remembered["account"] = request.GET["account"]
        return RentNumberForm.fresh(**remembered, assignee=request.user.pk)

    def _after_rent_url(self, request: HttpRequest, rental: Rental) -> str:
        if self.has_view_or_change_permission(request, rental):
            return reverse("admin:rentals_rental_change", args=[rental.pk])
        return reverse("admin:rentals_rental_rent")

    def _render_rent_form(self, request: HttpRequest, form: RentNumberForm) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Rent number"),
            "form": form,
            "opts": self.opts,
            "attempts": selectors.rent_attempts_recent(user_id=request.user.pk),
            "can_view_attempts": request.user.has_perm(Permission.VIEW_RENT_ATTEMPT),
            "offers": selectors.offers_for_rent_form(),
            "offer_words": {
                "unknown": gettext("Price and stock not known yet (the catalog sync has not seen this choice)."),
                "no_price": gettext("price unknown"),
                "no_stock": gettext("stock unknown"),
                "available": gettext("%s numbers available"),
                "as_of": gettext("as of %s"),
                # Prices are written as the rest of the page writes them: "6,60 USD" in Ukrainian.
                "decimal_separator": get_format("DECIMAL_SEPARATOR"),
            },
        }
        return TemplateResponse(request, "admin/rentals/rental/rent_number.html", context)
