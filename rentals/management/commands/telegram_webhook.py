"""Have Telegram POST the bot's updates to this Rentdesk (``set``) or go back to polling (``delete``)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from rentals import services
from rentals.telegram.client import TelegramError, bot_enabled, telegram_client


class Command(BaseCommand):
    help = (
        "set: Telegram POSTs updates to PUBLIC_BASE_URL/hooks/telegram/<secret>/ (which must be reachable "
        "from the internet); delete: the rentals.tasks.telegram_read_updates task reads them again."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["set", "delete"])

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if not bot_enabled():
            raise CommandError("TELEGRAM_BOT_TOKEN is empty: there is no bot.", returncode=2)
        try:
            if action == "set":
                url = services.telegram_webhook_set(client=telegram_client())
                # The path's secret is not printed: whoever has it (and the header) can speak as Telegram.
                self.stdout.write(f"Telegram now POSTs updates to {url.rsplit('/', 2)[0]}/…/")
            else:
                services.telegram_webhook_delete(client=telegram_client())
                self.stdout.write("Webhook removed: the task reads updates again.")
        except TelegramError as error:
            raise CommandError(f"Telegram refused: {error}", returncode=1) from None
