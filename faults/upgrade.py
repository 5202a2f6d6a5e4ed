"""An upgrade by the book while SMS arrive (S9): `make reload` on the running stack, as docs/deploy.md's
upgrade runs it, under webhooks and admin pages through nginx. SMS.online sends each webhook once: a
single 502 during the reload is an SMS left to polling.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Sequence

from harness.servers import PROJECT, child_processes

from .report import Figures
from .rig import Rig
from .storms import page_call, statuses, webhooks_and_pages_figures
from .traffic import Load, Rental, send, sms_storm

WEBHOOKS_PER_SECOND = 20
PAGES_PER_SECOND = 4


def reload_under_load(rig: Rig, rentals: Sequence[Rental], *, seconds: int) -> Figures:
    deliveries = sms_storm(rentals, count=seconds * WEBHOOKS_PER_SECOND, duplicates=0, tag="S9")
    admin = rig.stack.logged_in()
    pages = [page_call(rig, admin.cookies.get_dict()) for _ in range(seconds * PAGES_PER_SECOND)]
    # Every web's gunicorn: `make reload` reloads each pid file beside WEB_PIDFILE (web.pid, web-PORT.pid).
    masters = [int(path.read_text()) for path in sorted(rig.stack.directory.glob("web*.pid"))]
    workers_before = {master: child_processes(master) for master in masters}
    webhooks = send(rig.stack, deliveries, per_second=WEBHOOKS_PER_SECOND)
    browsing = Load(pages, per_second=PAGES_PER_SECOND).start()
    webhooks.sleep_until(seconds / 3)
    reload_started = time.monotonic()
    make = shutil.which("make") or "/usr/bin/make"
    reload = subprocess.run([make, "reload"], cwd=PROJECT, env=rig.stack.env, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    reload_seconds = time.monotonic() - reload_started
    figures, failed = webhooks_and_pages_figures("S9 upgrade by make reload", rig, deliveries, webhooks, browsing)
    replaced = bool(masters) and all(
        before and child_processes(master).isdisjoint(before) for master, before in workers_before.items()
    )
    figures.notes += [
        f"{len(deliveries)} webhooks at {WEBHOOKS_PER_SECOND}/s and {len(pages)} admin pages at {PAGES_PER_SECOND}/s "
        f"through nginx for {seconds} s; `make reload` {seconds / 3:.0f} s in, done in {reload_seconds:.0f} s "
        f"(exit {reload.returncode}): migrate, collectstatic, the workers of {len(masters)} gunicorn(s) replaced",
        f"failed requests: {len(failed)}" + (f" ({statuses(failed)})" if failed else ""),
        "recovery: from the end of the load until every SMS was stored",
    ]
    if reload.returncode != 0:
        figures.notes.append("make reload said: " + (reload.stderr or reload.stdout).strip()[-300:])
    figures.expect_none("lost", "duplicates", "server_errors", "no_answer")
    figures.expect("0 failed requests", not failed)
    figures.expect("make reload succeeded and replaced every gunicorn worker", reload.returncode == 0 and replaced)
    return figures
