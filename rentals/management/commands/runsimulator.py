from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.management.base import BaseCommand, CommandError

from rentals.simulator.server import SimulatorServer
from rentals.simulator.state import COUNTRIES, PROVIDER_SIZED_COUNTRIES


class Command(BaseCommand):
    help = "Serve the SMS.online simulator (handler_api.php and its control plane) over HTTP."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--timezone", default="UTC", help="The zone the simulated provider writes dates in.")
        parser.add_argument(
            "--countries", type=int, default=len(COUNTRIES),
            help=f"How many countries it offers: the contract's {len(COUNTRIES)} named ones (the default), or up "
            f"to 1000, generated after them ({PROVIDER_SIZED_COUNTRIES} is about SMS.online's catalog).",
        )  # fmt: skip

    def handle(self, *args, host: str, port: int, timezone: str, countries: int, **options):
        if not 0 <= port <= 65535:
            raise CommandError("--port must be between 0 and 65535.")
        if not len(COUNTRIES) <= countries <= 1000:
            raise CommandError(f"--countries must be between {len(COUNTRIES)} and 1000.")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CommandError(f"--timezone {timezone!r} is not an IANA timezone such as Europe/Kyiv.") from None
        try:
            server = SimulatorServer((host, port), provider_tz=ZoneInfo(timezone), countries=countries)
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        self.stdout.write(f"SMS.online simulator at {server.api_url} (control plane: {server.base_url}/_control/)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
