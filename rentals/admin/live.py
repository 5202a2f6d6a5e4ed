"""SMS as they come: small JSON views that an open rental page and the inventory list poll by themselves
(``static/rentals/live_sms.js``), so a code shows within seconds of Rentdesk storing it, without a reload.

Short polling rather than a held connection: each request is a few indexed reads and ends at once, so
a page left open for hours costs no worker and survives restarts of the server.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from .. import selectors
from ..models import Rental, RentalStatus, SmsMessage
from ..permissions import Permission
from ..phone_numbers import spaced_number
from .common import row_id
from .forwarding import forwarding_summary


def moment(value: datetime | None) -> str:
    """A time to the second, in the user's timezone, with the zone's name."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"


def sms_json(sms: SmsMessage) -> dict[str, Any]:
    return {
        "id": sms.pk, "sender": sms.sender, "text": sms.text, "code": sms.code, "received": received(sms),
        "forwarded": forwarding_summary(getattr(sms, "forward", None)),
    }  # fmt: skip


def received(sms: SmsMessage) -> str:
    if sms.provider_date is None:
        return moment(sms.received_at)
    return _("%(received)s (SMS.online dated it %(provider_date)s)") % {
        "received": moment(sms.received_at), "provider_date": moment(sms.provider_date)
    }  # fmt: skip


def _uncached(payload: dict[str, Any], status: int = 200) -> JsonResponse:
    response = JsonResponse(payload, status=status)
    response["Cache-Control"] = "no-store"
    return response


class LiveSmsMixin:
    def live_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/sms.json", wrap(self.live_sms_view), name="rentals_rental_live_sms"),
            path("last-sms.json", wrap(self.live_list_view), name="rentals_rental_live_list"),
            path("new-sms.json", wrap(self.live_new_codes_view), name="rentals_rental_live_new_codes"),
        ]

    def may_read_sms(self, request: HttpRequest) -> bool:
        return request.user.has_perm(Permission.READ_SMS)

    def live_sms_context(self, request: HttpRequest, rental: Rental) -> dict[str, Any] | None:
        """What the rental's page shows before its script takes over; None for users who may not read SMS."""
        if not self.may_read_sms(request):
            return None
        messages = [sms_json(sms) for sms in selectors.live_sms_of(rental_id=rental.pk)]
        return {"messages": messages, "active": rental.status == RentalStatus.ACTIVE}

    def live_sms_view(self, request: HttpRequest, pk: int) -> JsonResponse:
        rental = Rental.objects.filter(pk=pk).only("pk", "status").first()
        if rental is None or not self.has_view_permission(request, rental) or not self.may_read_sms(request):
            return _uncached({"error": "not found"}, status=404)
        messages = selectors.live_sms_of(rental_id=rental.pk)
        return _uncached({
            "active": rental.status == RentalStatus.ACTIVE,
            "status": rental.get_status_display(),
            "messages": [sms_json(sms) for sms in messages],
        })  # fmt: skip

    def live_list_view(self, request: HttpRequest) -> JsonResponse:
        if not self.has_view_permission(request) or not self.may_read_sms(request):
            return _uncached({"error": "forbidden"}, status=403)
        ids = [pk for part in request.GET.get("ids", "").split(",") if (pk := row_id(part)) is not None]
        rentals = selectors.live_last_sms(rental_ids=ids)
        return _uncached({
            "rentals": {
                str(rental.pk): {
                    "text": Truncator(rental.last_sms_text).chars(60), "code": rental.last_sms_code,
                    "received": moment(rental.last_sms_at),
                }
                for rental in rentals
            }
        })  # fmt: skip

    def live_new_codes_view(self, request: HttpRequest) -> JsonResponse:
        """The codes that came after ``after`` (an SMS id) for the person, asked by every open Rentdesk tab
        (static/rentals/code_finder.js); without ``after``, where to start and whether to notify."""
        if not self.has_view_permission(request) or not self.may_read_sms(request):
            return _uncached({"error": "forbidden"}, status=403)
        after = row_id(request.GET.get("after", ""))
        if after is None:
            notify = selectors.desktop_notifications_on(user_id=request.user.pk)
            return _uncached({"last": selectors.newest_sms_id(), "notify": notify, "codes": []})
        opened = [pk for part in request.GET.get("open", "").split(",") if (pk := row_id(part)) is not None]
        codes = selectors.new_codes_for(user_id=request.user.pk, after_id=after, open_rental_ids=opened)
        return _uncached({"last": max([after, *(sms.pk for sms in codes)]), "codes": [code_json(sms) for sms in codes]})


def code_json(sms: SmsMessage) -> dict[str, Any]:
    number = spaced_number(sms.rental.number)
    return {
        "id": sms.pk, "code": sms.code, "rental": sms.rental_id, "number": number, "notify": sms.notify,
        "text": _("Code for %(number)s") % {"number": number},
        "url": reverse("admin:rentals_rental_change", args=[sms.rental_id]),
    }  # fmt: skip
