import os

import django
from django.core.handlers.asgi import ASGIHandler, ASGIRequest

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
django.setup(set_prefix=False)

from rentals.middleware import TextCharsetsRequest  # noqa: E402 - needs the settings


class Request(TextCharsetsRequest, ASGIRequest):
    pass


class Handler(ASGIHandler):
    request_class = Request


application = Handler()
