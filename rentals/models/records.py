"""Where ops look for what went wrong: provider errors met by attempts and tasks."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .accounts import ProviderAccount
from .rentals import RentAttempt


class ErrorEvent(models.Model):
    """A provider error met by an attempt or a task, where ops look for what went wrong."""

    account = models.ForeignKey(
        ProviderAccount, verbose_name=_("account"), on_delete=models.CASCADE, related_name="error_events"
    )
    operation = models.CharField(_("operation"), max_length=64, help_text=_("The provider action, e.g. getRentNumber."))
    token = models.CharField(_("token"), max_length=64)
    detail = models.TextField(_("detail"), blank=True)
    sent = models.BooleanField(
        _("sent"), default=True, help_text=_("False when Rentdesk refused before calling the provider.")
    )
    attempt = models.ForeignKey(
        RentAttempt, verbose_name=_("attempt"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("error event")
        verbose_name_plural = _("error events")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["-created_at"], name="error_created_idx"),
            models.Index(fields=["token", "-created_at"], name="error_token_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.token} on {self.operation}"
