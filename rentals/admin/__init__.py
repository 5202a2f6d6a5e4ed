"""Admin pages. Thin: every action calls one service and reports what it said."""

from . import accounts, budgets, forwarding, records, rentals

__all__ = ["accounts", "budgets", "forwarding", "records", "rentals"]
