"""Run the whole suite: lint, then pytest on SQLite, then on PostgreSQL when one is given.

TEST_POSTGRES_URL (a postgres:// URL whose user may create databases) turns on the PostgreSQL run;
.ci/run starts a server and sets it. Whatever is skipped is said at the end, with the reason.
"""

import os
import shutil
import subprocess
import sys

VENV_BIN = os.path.join(".venv", "bin")


def run(title: str, command: list[str], env: dict[str, str] | None = None) -> bool:
    print(f"\n=== {title} ===", flush=True)
    return subprocess.run(command, env={**os.environ, **(env or {})}).returncode == 0


def main() -> int:
    skipped: list[str] = []
    results = [
        run("ruff", [os.path.join(VENV_BIN, "ruff"), "check", "."]),
        run("ruff format", [os.path.join(VENV_BIN, "ruff"), "format", "--check", "."]),
    ]
    results.append(
        run(
            "pytest on SQLite",
            [os.path.join(VENV_BIN, "pytest"), "-p", "no:cacheprovider"],
            {"DATABASE_URL": "sqlite:///.local/db.sqlite3"},
        )
    )
    postgres_url = os.environ.get("TEST_POSTGRES_URL")
    if postgres_url:
        results.append(
            run(
                "pytest on PostgreSQL",
                [os.path.join(VENV_BIN, "pytest"), "-p", "no:cacheprovider"],
                {"DATABASE_URL": postgres_url},
            )
        )
    else:
        skipped.append("the PostgreSQL run: TEST_POSTGRES_URL is not set (.ci/run starts a server and sets it)")
    if not shutil.which(os.environ.get("CHROMIUM", "chromium")):
        skipped.append("the browser tests: no chromium on PATH (Debian package 'chromium'; .ci/run installs it)")
    print()
    for reason in skipped:
        print(f"SKIPPED {reason}")
    print("make test:", "passed" if all(results) else "FAILED")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
