"""What can be done to one rental from its page: check for SMS, finish, cancel, extend.

Each action is a view behind its own permission with a confirmation page; the work is one service
call, and the result comes back as a message on the rental's page. When SMS.online cannot be asked at
once (``services.ProviderBusy``), nothing was done: the page the person was on comes back as it was,
saying when to try again.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import services
from ..forms import ExtendForm
from ..models import RENT_HOUR_CHOICES, Rental, RentalStatus
from ..outcomes import Outcome
from ..permissions import CHECK_SMS, Permission
from ..wording.pages import describe, outcome_line, provider_busy
from ..wording.tokens import explain, what_happened


class RentalActionsMixin:
    def action_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/check-sms/", wrap(self.check_sms_view), name="rentals_rental_check_sms"),
            path("<int:pk>/finish/", wrap(self.finish_view), name="rentals_rental_finish"),
            path("<int:pk>/cancel/", wrap(self.cancel_view), name="rentals_rental_cancel"),
            path("<int:pk>/extend/", wrap(self.extend_view), name="rentals_rental_extend"),
        ]

    def rental_tools(self, request: HttpRequest, rental: Rental) -> dict[str, Any]:
        """What the rental's page offers this user now."""
        active = rental.status in (RentalStatus.ACTIVE, RentalStatus.EXPIRED)
        may_end = request.user.has_perm(Permission.END) and active
        left = services.cancel_deadline(rental) - timezone.now()
        return {
            "can_check_sms": request.user.has_perms(CHECK_SMS) and rental.status == RentalStatus.ACTIVE,
            "can_finish": may_end,
            "can_cancel": may_end and left.total_seconds() > 0,
            "cancel_minutes_left": max(int(left.total_seconds() // 60), 0),
            "can_extend": request.user.has_perm(Permission.EXTEND) and rental.status != RentalStatus.CANCELLED,
        }

    def _rental_or_404(self, request: HttpRequest, pk: int) -> Rental:
        rental = Rental.objects.select_related("account").filter(pk=pk).first()
        if rental is None or not self.has_view_permission(request, rental):
            raise Http404
        return rental

    def _back(self, rental: Rental) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:rentals_rental_change", args=[rental.pk]))

    def _confirm(self, request: HttpRequest, rental: Rental, **context: Any) -> TemplateResponse:
        page = {**self.admin_site.each_context(request), "opts": self.opts, "rental": rental, **context}
        return TemplateResponse(request, "admin/rentals/rental/confirm_action.html", page)

    def check_sms_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        rental = self._rental_or_404(request, pk)
        if not request.user.has_perms(CHECK_SMS):
            raise PermissionDenied
        if request.method != "POST":
            return self._back(rental)
        try:
            outcome = services.rental_check_sms(rental=rental)
        except services.ProviderBusy as busy:
            return self._busy(request, busy, again=self._back(rental))
        if not outcome.ok:
            self.message_user(request, str(what_happened(outcome.token)), messages.ERROR)
            return self._back(rental)
        text = _("%(count)s new SMS.") % {"count": outcome.new_messages}
        if outcome.rent_state != "active":
            text += " " + _("SMS.online says the rent is %(state)s.") % {"state": outcome.rent_state}
        self.message_user(request, text, messages.SUCCESS)
        return self._back(rental)

    def finish_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        rental = self._rental_or_404(request, pk)
        if not request.user.has_perm(Permission.END):
            raise PermissionDenied
        if request.method != "POST":
            return self._confirm(
                request,
                rental,
                title=_("Finish %(number)s") % {"number": rental},
                action="finish",
                explanation=_("The number is released now. Nothing is refunded."),
            )
        try:
            outcome = services.rental_finish(rental=rental, requested_by=request.user, web=True)
        except services.ProviderBusy as busy:
            return self._busy(request, busy, again=HttpResponseRedirect(request.path))
        return self._report(request, rental, outcome)

    def cancel_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        rental = self._rental_or_404(request, pk)
        if not request.user.has_perm(Permission.END):
            raise PermissionDenied
        if request.method != "POST":
            left = int((services.cancel_deadline(rental) - timezone.now()).total_seconds() // 60)
            if left < 0:
                self.message_user(request, explain("CANT_CANCEL"), messages.WARNING)
                return self._back(rental)
            return self._confirm(
                request,
                rental,
                title=_("Cancel %(number)s") % {"number": rental},
                action="cancel",
                explanation=_("SMS.online refunds a rent cancelled within 20 minutes: %(left)s min left.")
                % {"left": left},
            )
        try:
            outcome = services.rental_cancel(rental=rental, now=timezone.now(), requested_by=request.user, web=True)
        except services.ProviderBusy as busy:
            return self._busy(request, busy, again=HttpResponseRedirect(request.path))
        return self._report(request, rental, outcome)

    def extend_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        rental = self._rental_or_404(request, pk)
        if not request.user.has_perm(Permission.EXTEND):
            raise PermissionDenied
        if request.method == "POST" and "nonce" in request.POST:
            form = ExtendForm(request.POST)
            if not form.is_valid():
                hours = ExtendForm.hours_or_default(request.POST)
                self.message_user(
                    request, _("This form had expired. Check the price and submit it again."), messages.ERROR
                )
                return HttpResponseRedirect(f"{request.path}?hours={hours}")
            try:
                outcome = services.rental_extend(
                    rental=rental, **form.extend_arguments(), requested_by=request.user, web=True
                )
            except services.ProviderBusy as busy:
                # Nothing was recorded under this nonce: the same confirmation, to send again.
                data = form.cleaned_data
                page = self._extend_page(request, rental, data["hours"], price=data["price"], nonce=data["nonce"])
                return self._busy(request, busy, again=page)
            return self._report(request, rental, outcome)
        hours = ExtendForm.hours_or_default(request.POST if request.method == "POST" else request.GET)
        try:
            quote = services.rental_extension_quote(rental=rental, hours=hours)
        except services.ProviderBusy as busy:
            return self._busy(request, busy, again=self._extend_page(request, rental, hours, price=None))
        why_no_price = "" if quote.ok else describe(quote)
        return self._extend_page(request, rental, hours, price=quote.price, why_no_price=why_no_price)

    def _extend_page(
        self, request: HttpRequest, rental: Rental, hours: int, *, price: Decimal | None, why_no_price: str = "",
        nonce: uuid.UUID | None = None,
    ) -> TemplateResponse:  # fmt: skip
        return self._confirm(
            request,
            rental,
            title=_("Extend %(number)s") % {"number": rental},
            action="extend",
            hours=hours,
            price=price,
            why_no_price=why_no_price,
            nonce=nonce or uuid.uuid4(),
            hour_choices=RENT_HOUR_CHOICES,
            explanation=_("Extending spends money on the rental's account. Each confirmation extends at most once."),
        )

    def _busy(self, request: HttpRequest, busy: services.ProviderBusy, *, again: HttpResponse) -> HttpResponse:
        """``again``, the page the person was on as it was, saying when to try again."""
        self.message_user(request, provider_busy(busy.seconds, account_paced=busy.account_paced), messages.WARNING)
        return again

    def _report(self, request: HttpRequest, rental: Rental, outcome: Outcome) -> HttpResponse:
        self.message_user(request, outcome_line(outcome), messages.SUCCESS if outcome.ok else messages.ERROR)
        return self._back(rental)
