"""Local development only: a "Sandbox" account on the simulator and a local superuser.

Idempotent: run it as often as you like; the superuser's password is kept in .local/ and printed.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from rentals import services
from rentals.models import ProviderAccount

DEMO_ACCOUNT = "Sandbox"
DEMO_API_KEY = "sandbox-demo-key"
SUPERUSER = "admin"


class Command(BaseCommand):
    help = "Create the Sandbox account (simulator) and a local superuser, and print its credentials."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("setup_demo is for local development (DJANGO_DEBUG=true) only.")
        if not ProviderAccount.objects.filter(name=DEMO_ACCOUNT).exists():
            services.account_create(name=DEMO_ACCOUNT, api_url=settings.SMSONLINE_API_URL, api_key=DEMO_API_KEY)
            self.stdout.write(f"Created account {DEMO_ACCOUNT} on {settings.SMSONLINE_API_URL}.")
        password = self._local_password()
        user, _ = get_user_model().objects.get_or_create(
            username=SUPERUSER, defaults={"is_staff": True, "is_superuser": True, "email": "admin@localhost"}
        )
        if not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
        self.stdout.write(self.style.SUCCESS(f"Admin login: {SUPERUSER} / {password}"))

    def _local_password(self) -> str:
        path = settings.BASE_DIR / ".local" / "admin-password"
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            path.write_text(secrets.token_urlsafe(12))
            path.chmod(0o600)
        return path.read_text().strip()
