"""Store benchmark: the business API over HTTP, SQLite vs PostgreSQL (``python -m bench store``)."""
