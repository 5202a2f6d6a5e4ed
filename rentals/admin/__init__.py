"""Admin pages. Thin: every action calls one service and reports what it said."""

from . import accounts, api_tokens, budgets, forwarding, records, rentals, schedule, security

__all__ = ["accounts", "api_tokens", "budgets", "forwarding", "records", "rentals", "schedule", "security"]
