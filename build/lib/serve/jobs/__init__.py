"""Cascade jobs: their SQLite records (`store`) and the processes that run them (`cascades`)."""
