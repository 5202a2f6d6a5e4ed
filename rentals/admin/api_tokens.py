"""API tokens in the admin: each person makes their own, sees it once, and revokes it when done."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..models import ApiToken
from ..permissions import Permission
from ..services.api_tokens import TokenRefused, api_token_create, api_token_refusal, api_tokens_revoke
from .personal import OwnRowsAdmin


class TokenStateFilter(admin.SimpleListFilter):
    """In use or revoked: what someone looking through the tokens asks (not "revoked at: empty")."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("in_use", _("In use")), ("revoked", _("Revoked"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> QuerySet[ApiToken]:
        if self.value() in ("in_use", "revoked"):
            return queryset.filter(revoked_at__isnull=self.value() == "in_use")
        return queryset


class NewTokenForm(forms.ModelForm):
    """The form that makes a token: says at once why its person may not make one now."""

    refusal = ""  # set per request by ``ApiTokenAdmin.get_form``

    def clean(self) -> dict[str, Any]:
        if self.refusal:
            raise ValidationError(self.refusal)
        return super().clean()


def _verified(request: HttpRequest) -> bool:
    """Whether this session entered a two-factor code (django-otp's middleware tells)."""
    return bool(getattr(request.user, "is_verified", lambda: False)())


@admin.register(ApiToken)
class ApiTokenAdmin(OwnRowsAdmin):
    list_display = ["name", "user", "starts_with", "created_at", "last_used_at", "revoked_at"]
    list_filter = [TokenStateFilter]
    fields = ["name", "starts_with", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["starts_with", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def sees_everyone(self, request: HttpRequest) -> bool:
        # Managers see every token and may revoke any (someone left the team); nobody sees a token itself.
        return request.user.has_perm(Permission.CHANGE_API_TOKEN)

    def has_delete_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False  # revoked tokens stay listed: when each was used is worth keeping

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return self.may_use(request) or self.sees_everyone(request)

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:
        return ["name"] if obj is None else list(self.fields)

    @admin.display(description=_("starts with"))
    def starts_with(self, obj: ApiToken) -> str:
        return f"{obj.prefix}…"

    def get_form(self, request: HttpRequest, obj: ApiToken | None = None, **kwargs: Any) -> type[forms.ModelForm]:
        if obj is not None:
            return super().get_form(request, obj, **kwargs)
        form = super().get_form(request, obj, form=NewTokenForm, **kwargs)
        form.refusal = api_token_refusal(user=request.user, verified=_verified(request))
        return form

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        try:
            token, request.new_api_token = api_token_create(user=request.user, name=obj.name,
                                                            verified=_verified(request))  # fmt: skip
        except TokenRefused as refused:
            # Only when another form of theirs took the last place since this one was checked.
            raise PermissionDenied(str(refused)) from None
        obj.pk, obj.user = token.pk, token.user

    def response_add(self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None) -> HttpResponse:
        """The one time the token is shown: on the page answering the form, never stored or sent again."""
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "title": _("Your new API token"),
            "token": request.new_api_token, "api_token": obj, "api_url": request.build_absolute_uri("/api/"),
        }  # fmt: skip
        # The admin marks its pages no-store: a browser keeps no copy of this one.
        return TemplateResponse(request, "admin/rentals/apitoken/created.html", context)

    @admin.action(description=_("Revoke the selected tokens (they stop working at once)"), permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = api_tokens_revoke(tokens=queryset, now=timezone.now())
        self.message_user(request, _("%(count)s token(s) revoked.") % {"count": revoked})
