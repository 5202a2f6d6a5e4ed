"""Local development: everything works with no environment variables set."""

from .base import *  # noqa: F403
