"""Admin pages. Thin: every action calls one service and reports what it said."""

from . import accounts, records, rentals, schedule, security

__all__ = ["accounts", "records", "rentals", "schedule", "security"]
