from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.management.base import BaseCommand, CommandError

from rentals.simulator.server import SimulatorServer


class Command(BaseCommand):
    help = "Serve the SMS.online simulator (handler_api.php and its control plane) over HTTP."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--timezone", default="UTC", help="The zone the simulated provider writes dates in.")

    def handle(self, *args, host: str, port: int, timezone: str, **options):
        if not 0 <= port <= 65535:
            raise CommandError("--port must be between 0 and 65535.")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CommandError(f"--timezone {timezone!r} is not an IANA timezone such as Europe/Kyiv.") from None
        try:
            server = SimulatorServer((host, port), provider_tz=ZoneInfo(timezone))
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        self.stdout.write(f"SMS.online simulator at {server.api_url} (control plane: {server.base_url}/_control/)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
