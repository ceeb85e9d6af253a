"""Alembic migrations; run with ``govshare db upgrade``."""
