"""Run the whole suite: lint (ruff, and the layers' contracts with lint-imports) and the documentation's
strict build, then pytest on SQLite and, when one is given, on PostgreSQL, side by side, then the production
stack (nginx, gunicorn, PostgreSQL, Redis, both workers, beat) where the machine has it.

TEST_POSTGRES_URL (a postgres:// URL whose user may create databases) turns on the PostgreSQL run
and the stack; .ci/run starts a server and sets it. Whatever is skipped is said at the end, with
the reason.
"""

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from urllib.parse import urlsplit, urlunsplit

VENV_BIN = os.path.join(".venv", "bin")
PROJECT_VENV_BIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), VENV_BIN)
# The production stack boots once, in its own stage, not in each database's run.
PYTEST = [os.path.join(VENV_BIN, "pytest"), "-p", "no:cacheprovider"]


def run(title: str, command: list[str], env: dict[str, str] | None = None) -> bool:
    print(f"\n=== {title} ===", flush=True)
    return subprocess.run(command, env={**os.environ, **(env or {})}).returncode == 0


def run_side_by_side(runs: list[tuple[str, list[str], dict[str, str]]]) -> list[bool]:
    """pytest runs at once (the two databases' suites: most of their time is spent waiting on servers,
    and this keeps CI's time down as the suite grows), each printed whole when it is done, each with
    a temporary directory of its own."""
    with contextlib.ExitStack() as scratch:
        started = []
        for title, command, env in runs:
            output = scratch.enter_context(tempfile.TemporaryFile())
            basetemp = os.path.join(scratch.enter_context(tempfile.TemporaryDirectory(prefix="rentdesk-")), "pytest")
            process = subprocess.Popen([*command, "--basetemp", basetemp], env={**os.environ, **env},
                                       stdout=output, stderr=subprocess.STDOUT)  # fmt: skip
            started.append((title, process, output))
        results = []
        for title, process, output in started:
            results.append(process.wait() == 0)
            print(f"\n=== {title} ===", flush=True)
            output.seek(0)
            sys.stdout.buffer.write(output.read())
            sys.stdout.flush()
    return results


def own_redis_database(env: dict[str, str], number: int) -> dict[str, str]:
    """``env`` with TEST_REDIS_URL moved to database ``number`` of the same server, when one is given:
    each suite empties its Redis database as it starts, and its workers must not take the other's tasks."""
    given = os.environ.get("TEST_REDIS_URL")
    if not given:
        return env  # each suite starts a Redis server of its own
    return {**env, "TEST_REDIS_URL": urlunsplit(urlsplit(given)._replace(path=f"/{number}"))}


def documentation_build(site_dir: str) -> list[str]:
    """docs/ built as the mkdocs.yml in the current directory says, strictly: a broken link or anchor,
    or a page left out of the navigation, fails it (not --quiet: it would hide the warnings that fail)."""
    return [os.path.join(PROJECT_VENV_BIN, "mkdocs"), "build", "--strict", "--site-dir", site_dir]


# mkdocs-material's notice of its successor, printed on every build, is not a finding.
DOCUMENTATION_ENV = {"NO_MKDOCS_2_WARNING": "1"}


def documentation_built() -> bool:
    """The documentation's strict build; the site goes to a temporary directory, never into the repository."""
    with tempfile.TemporaryDirectory(prefix="rentdesk-site-") as site:
        return run("documentation: mkdocs build --strict", documentation_build(site), env=DOCUMENTATION_ENV)


def layers_held() -> bool:
    """The layers' contracts (pyproject.toml, [tool.importlinter]) on the code in the current directory: an
    import across a layer fails the suite (docs/architecture.md, "The layers")."""
    return run("layers: lint-imports", [os.path.join(PROJECT_VENV_BIN, "lint-imports")])


# harness/stack.py says what the stack needs; asked here only to say why it is skipped.
MISSING_STACK_PARTS = (
    "import django; django.setup(); from harness.stack import missing_parts; print('; '.join(missing_parts()))"
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
    return run("production stack: nginx, gunicorn, PostgreSQL, Redis, both workers, beat", [*PYTEST, "-m", "stack"])


def main() -> int:
    skipped: list[str] = []
    results = [
        run("ruff", [os.path.join(VENV_BIN, "ruff"), "check", "."]),
        run("ruff format", [os.path.join(VENV_BIN, "ruff"), "format", "--check", "."]),
        layers_held(),
        documentation_built(),
    ]
    suites = [("pytest on SQLite", {"DATABASE_URL": "sqlite:///.local/db.sqlite3"})]
    postgres_url = os.environ.get("TEST_POSTGRES_URL")
    if postgres_url:
        suites.append(("pytest on PostgreSQL", {"DATABASE_URL": postgres_url}))
    else:
        skipped.append("the PostgreSQL run: TEST_POSTGRES_URL is not set (.ci/run starts a server and sets it)")
    # The slowest tests of each run are listed at its end: where CI's time goes (.ci/run aims at 30 minutes).
    runs = [(title, [*PYTEST, "-m", "not stack", "--durations=15"], own_redis_database(env, n))
            for n, (title, env) in enumerate(suites)]  # fmt: skip
    results += run_side_by_side(runs)
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
