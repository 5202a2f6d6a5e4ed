"""Remove what the retention settings no longer keep, as the nightly task does, and print the counts."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from rentals import services


class Command(BaseCommand):
    help = (
        "Remove webhook deliveries, provider errors and SMS texts older than the RENTDESK_KEEP_* settings, "
        "in batches, until none is left (--dry-run: count them and change nothing)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count what would be removed; remove nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = options["dry_run"]
        # By hand there is no worker to hold: no time budget, the same batches and pauses.
        purged = services.records_purge(now=timezone.now(), budget_seconds=None, dry_run=dry_run)
        if not purged.counts:
            self.stdout.write("Nothing to purge: every RENTDESK_KEEP_* setting keeps records forever.")
        for kind, count in purged.counts.items():
            self.stdout.write(f"{kind}: {count} {'to remove' if dry_run else 'removed'}")
