"""Write a .env with fresh local secrets (used once by `make run`)."""

import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

target = Path(sys.argv[1])
if not target.exists():
    target.write_text(
        "# Local secrets written by `make run`; see .env.example for every setting.\n"
        f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}\n"
        f"API_KEY_ENCRYPTION_KEYS={Fernet.generate_key().decode()}\n"
    )
    target.chmod(0o600)
    print(f"Wrote {target} with fresh local secrets.")
