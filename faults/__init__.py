"""The fault suite: the production stack on loopback, hurt on purpose, and what was lost, counted.

`make faults` (``python -m faults``) starts gunicorn with production settings behind nginx, a
Celery worker, beat, Redis, PostgreSQL (or SQLite) and the SMS.online simulator, runs each scenario
(scenarios.py) bounded in time and count, prints one table and exits 1 when a figure misses its
target. ``--short`` is the version CI runs: fewer messages, shorter runs, the same targets.
"""
