"""Admin pages. Thin: every action calls one service and reports what it said."""

from . import accounts, budgets, records, rentals

__all__ = ["accounts", "budgets", "records", "rentals"]
