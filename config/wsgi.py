import os

import django
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
django.setup(set_prefix=False)

from rentals.middleware import TextCharsetsRequest  # noqa: E402 - needs the settings


class Request(TextCharsetsRequest, WSGIRequest):
    pass


class Handler(WSGIHandler):
    request_class = Request


application = Handler()
