"""Every permission Rentdesk checks or grants, each spelled once, as ``user.has_perm`` reads it.

The four of Rentdesk's own (renting, extending, ending, polling) are declared on the Rental model
(``Meta.permissions``); the rest are the view/add/change/delete permissions Django makes for each model.
The roles (roles.py) group them; the admin, the API, the CLI, Telegram, the template tags and the
services check them by these names. A member is a ``str``: ``user.has_perm(Permission.RENT)``.
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    """A permission as ``"app_label.codename"``."""

    # What people do with numbers (checked in code).
    VIEW_RENTAL = "rentals.view_rental"
    """See the inventory: the rentals, their extensions and reminders (not the text of their SMS)."""
    CHANGE_RENTAL = "rentals.change_rental"
    """A rental's label, notes and assignee (claim and release); also shows the inventory."""
    READ_SMS = "rentals.view_smsmessage"
    """Read SMS text and codes wherever they show: pages, API, Telegram, forwarding to a chat."""
    POLL_RENTAL = "rentals.poll_rental"
    """Ask SMS.online for a rental's SMS now ("Check for SMS now")."""
    RENT = "rentals.rent_number"
    """Rent numbers from SMS.online (spends money)."""
    EXTEND = "rentals.extend_rental"
    """Extend rentals, and set them to renew themselves (spends money)."""
    END = "rentals.end_rental"
    """Finish or cancel rentals."""
    VIEW_RENT_ATTEMPT = "rentals.view_rentattempt"
    """See rent attempts: what was asked of SMS.online and what came of it."""

    # What the roles grant on the records and the catalog (the admin checks them per model).
    VIEW_RENTAL_EXTENSION = "rentals.view_rentalextension"
    """See extension attempts."""
    VIEW_RENTAL_REMINDER = "rentals.view_rentalreminder"
    """See the expiry reminders sent."""
    VIEW_ACCOUNT_EVENT = "rentals.view_accountevent"
    """See what happened to provider accounts."""
    VIEW_ERROR_EVENT = "rentals.view_errorevent"
    """See the errors recorded."""
    VIEW_OFFER = "rentals.view_offer"
    """See the catalog's prices and stock."""
    VIEW_ACCOUNT = "rentals.view_provideraccount"
    """See provider accounts and their health (never their keys)."""
    ADD_ACCOUNT = "rentals.add_provideraccount"
    """Add provider accounts (their keys spend money)."""
    CHANGE_ACCOUNT = "rentals.change_provideraccount"
    """Change provider accounts and their keys."""
    VIEW_SERVICE = "rentals.view_service"
    """See the catalog's services."""
    ADD_SERVICE = "rentals.add_service"
    """Add services to the catalog."""
    CHANGE_SERVICE = "rentals.change_service"
    """Change the catalog's services."""
    VIEW_COUNTRY = "rentals.view_country"
    """See the catalog's countries."""
    ADD_COUNTRY = "rentals.add_country"
    """Add countries to the catalog."""
    CHANGE_COUNTRY = "rentals.change_country"
    """Change the catalog's countries."""
    VIEW_OPERATOR = "rentals.view_operator"
    """See the catalog's operators."""
    ADD_OPERATOR = "rentals.add_operator"
    """Add operators to the catalog."""
    CHANGE_OPERATOR = "rentals.change_operator"
    """Change the catalog's operators."""
    VIEW_BUDGET = "rentals.view_personbudget"
    """See personal budgets."""
    ADD_BUDGET = "rentals.add_personbudget"
    """Give a person a budget."""
    CHANGE_BUDGET = "rentals.change_personbudget"
    """Change personal budgets."""
    DELETE_BUDGET = "rentals.delete_personbudget"
    """Remove personal budgets."""
    VIEW_API_TOKEN = "rentals.view_apitoken"
    """See every person's API tokens (never the tokens themselves)."""
    CHANGE_API_TOKEN = "rentals.change_apitoken"
    """Revoke anyone's API tokens."""

    # Other apps' permissions the roles grant.
    VIEW_SCHEDULE = "django_celery_beat.view_periodictask"
    """See the schedule of periodic jobs."""
    CHANGE_SCHEDULE = "django_celery_beat.change_periodictask"
    """Turn periodic jobs on and off, and run them now."""
    VIEW_LOCKOUTS = "axes.view_accessattempt"
    """See login lockouts (too many failed logins)."""
    LIFT_LOCKOUT = "axes.delete_accessattempt"
    """Lift a login lockout."""

    @property
    def app_label(self) -> str:
        return self.value.split(".", 1)[0]

    @property
    def codename(self) -> str:
        return self.value.split(".", 1)[1]


# Whoever holds one of these can spend the team's money or redirect its keys (two-factor sign-in).
SPENDING = (Permission.RENT, Permission.EXTEND, Permission.ADD_ACCOUNT, Permission.CHANGE_ACCOUNT)
# Checking for SMS calls SMS.online and stores what it says: it takes both.
CHECK_SMS = (Permission.READ_SMS, Permission.POLL_RENTAL)
