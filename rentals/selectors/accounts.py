"""The provider accounts the periodic health check walks."""

from __future__ import annotations

from ..models import ProviderAccount


def account_ids_for_health_check() -> list[int]:
    return list(ProviderAccount.objects.order_by("pk").values_list("pk", flat=True))
