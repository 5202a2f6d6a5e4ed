"""The production storage of static files: WhiteNoise's compressed, hashed copies, forgiving of a file
the running release does not know yet.

During an upgrade, from `git pull` until `make reload` has replaced gunicorn's workers, a running
worker can read a new template that names a static file its manifest (loaded when it started) lacks.
Django's manifest storage raises for it, and the page is a 500. Here the page is served, naming the
file by its plain URL (/static/<name>, which WhiteNoise serves once collectstatic has run), and the
miss is logged; the next worker knows the hashed name.
"""

import logging

from whitenoise.storage import CompressedManifestStaticFilesStorage

logger = logging.getLogger(__name__)


class ReleaseTolerantStaticFilesStorage(CompressedManifestStaticFilesStorage):
    manifest_strict = False  # a name missing from the manifest is hashed from the file, when collected

    def stored_name(self, name: str) -> str:
        try:
            return super().stored_name(name)
        except ValueError:  # not collected yet, or no such file
            logger.warning("static file %s is not in this process's manifest: served by its plain name", name)
            return name
