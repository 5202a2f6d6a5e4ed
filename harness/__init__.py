"""Scratch databases and servers on loopback, for the tests, the benchmarks and the fault suite.

One place that knows how to make a throwaway database (a SQLite file, a new database on a PostgreSQL
server, or a PostgreSQL server of its own), start Redis and the simulator, and boot the production
stack as a server boots it (harness.stack). Plain Python: no pytest, and nothing from rentals/, so
`python -m faults` and `python bench/<script>.py` import it as the tests do.
"""
