"""The SMS.online simulator: the provider's side of the contract, served over real HTTP.

It imports nothing from ``rentals.provider`` (it is the other side of the wire) and nothing from
Django, so it runs the same in tests, in ``make run`` and as ``manage.py runsimulator``.
"""
