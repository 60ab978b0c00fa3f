"""migration-wizard: a guided, safe PostgreSQL schema migration."""

__version__ = "0.1.0"
