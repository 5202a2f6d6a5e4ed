"""The production settings, plus what only the benchmarks use: the floor view's URL (bench.urls),
the floor's empty task, and a result backend so the benchmark hears back from the worker.

Never a deployment's settings: the app's public URLs are in config.urls, without the floor.
"""

from config.settings.production import *  # noqa: F403
from config.settings.production import CELERY_BROKER_URL

ROOT_URLCONF = "bench.urls"
CELERY_IMPORTS = ["bench.floor"]
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
