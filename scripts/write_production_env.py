"""Write a server's environment file from deploy/rentdesk.env.example, with fresh secrets.

    .venv/bin/python scripts/write_production_env.py /etc/rentdesk/rentdesk.env --host rentdesk.example.com

Never overwrites a file (it holds the key that decrypts every stored provider key). Any
``--set NAME=value`` replaces that variable, e.g. --set DATABASE_URL=postgres://...
"""

import argparse
import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

EXAMPLE = Path(__file__).resolve().parent.parent / "deploy" / "rentdesk.env.example"


def production_env(host: str, overrides: dict[str, str]) -> str:
    values = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "API_KEY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        **overrides,
    }
    lines = []
    for line in EXAMPLE.read_text().replace("rentdesk.example.com", host).splitlines():
        name = line.partition("=")[0]
        lines.append(f"{name}={values.pop(name)}" if not line.startswith("#") and name in values else line)
    lines += [f"{name}={value}" for name, value in values.items()]  # variables the example lacks
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", type=Path)
    parser.add_argument("--host", required=True, help="the name people and SMS.online reach Rentdesk by")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=value", dest="overrides")
    args = parser.parse_args()
    if any("=" not in item for item in args.overrides):
        parser.error("--set takes NAME=value")
    if args.target.exists():
        print(f"{args.target} exists already; nothing written.", file=sys.stderr)
        return 1
    overrides = dict(item.split("=", 1) for item in args.overrides)
    args.target.write_text(production_env(args.host, overrides))
    args.target.chmod(0o600)
    print(f"Wrote {args.target} with fresh secrets for https://{args.host}/.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
