#!/usr/bin/env python
"""Django's command-line utility for Rentdesk."""

import os
import sys
from pathlib import Path


def main() -> None:
    # A server's environment file names its settings (production): read it before choosing, as the
    # settings read it themselves, or commands there would run the local settings against the
    # server's database (DEBUG on, plain-http API URLs allowed). Variables already set win.
    import environ

    environ.Env.read_env(os.environ.get("RENTDESK_ENV_FILE", str(Path(__file__).resolve().parent / ".env")))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
