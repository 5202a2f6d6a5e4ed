"""The JSON API for scripts (django-ninja): the same permissions, forms and services as the admin.

Served under /api/, documented at /api/docs and /api/openapi.json.
"""

from ninja import NinjaAPI

from . import inventory, operations
from .common import router
from .errors import install_error_handlers
from .security import TokenAuth, TokenRateThrottle

api = NinjaAPI(
    title="Rentdesk API",
    version="1",
    description=(
        "Rent numbers, read their SMS and wait for codes from scripts. Authenticate with a token made in the "
        "admin (API tokens): `Authorization: Bearer <token>`. It acts as its person, with the same permissions "
        'as in the admin. Errors are JSON: `{"error": TOKEN, "message": ...}`.'
    ),
    urls_namespace="api",
    auth=TokenAuth(),
    throttle=[TokenRateThrottle()],
)
install_error_handlers(api)
api.add_router("/rentals", router)  # with the endpoints of inventory and operations

__all__ = ["api", "inventory", "operations"]
