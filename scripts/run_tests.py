"""Run the whole suite: lint, then pytest on SQLite, then on PostgreSQL when one is given, then the
production stack (nginx, gunicorn, PostgreSQL, Redis, worker, beat) where the machine has it.

TEST_POSTGRES_URL (a postgres:// URL whose user may create databases) turns on the PostgreSQL run
and the stack; .ci/run starts a server and sets it. Whatever is skipped is said at the end, with
the reason.
"""

import os
import shutil
import subprocess
import sys

VENV_BIN = os.path.join(".venv", "bin")
# The production stack boots once, in its own stage, not in each database's run.
PYTEST = [os.path.join(VENV_BIN, "pytest"), "-p", "no:cacheprovider"]


def run(title: str, command: list[str], env: dict[str, str] | None = None) -> bool:
    print(f"\n=== {title} ===", flush=True)
    return subprocess.run(command, env={**os.environ, **(env or {})}).returncode == 0


# tests/stack.py says what the stack needs; asked here only to say why it is skipped.
MISSING_STACK_PARTS = (
    "import django; django.setup(); from tests.stack import missing_parts; print('; '.join(missing_parts()))"
)


def production_stack(skipped: list[str]) -> bool:
    """The stack stage, or the reason it cannot run on this machine."""
    missing = subprocess.run(
        [os.path.join(VENV_BIN, "python"), "-c", MISSING_STACK_PARTS],
        capture_output=True, text=True, env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
    )  # fmt: skip
    if missing.returncode != 0 or missing.stdout.strip():
        skipped.append(f"the production stack tests: {missing.stdout.strip() or missing.stderr.strip()[-300:]}")
        return missing.returncode == 0
    return run("production stack: nginx, gunicorn, PostgreSQL, Redis, worker, beat", [*PYTEST, "-m", "stack"])


def main() -> int:
    skipped: list[str] = []
    results = [
        run("ruff", [os.path.join(VENV_BIN, "ruff"), "check", "."]),
        run("ruff format", [os.path.join(VENV_BIN, "ruff"), "format", "--check", "."]),
    ]
    results.append(
        run(
            "pytest on SQLite",
            [*PYTEST, "-m", "not stack"],
            {"DATABASE_URL": "sqlite:///.local/db.sqlite3"},
        )
    )
    postgres_url = os.environ.get("TEST_POSTGRES_URL")
    if postgres_url:
        results.append(
            run(
                "pytest on PostgreSQL",
                [*PYTEST, "-m", "not stack"],
                {"DATABASE_URL": postgres_url},
            )
        )
    else:
        skipped.append("the PostgreSQL run: TEST_POSTGRES_URL is not set (.ci/run starts a server and sets it)")
    results.append(production_stack(skipped))
    if not shutil.which(os.environ.get("CHROMIUM", "chromium")):
        skipped.append("the browser tests: no chromium on PATH (Debian package 'chromium'; .ci/run installs it)")
    print()
    for reason in skipped:
        print(f"SKIPPED {reason}")
    print("make test:", "passed" if all(results) else "FAILED")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
