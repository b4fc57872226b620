"""The warehouse: SQLAlchemy Core schema, Alembic migrations and helpers correct on SQLite and PostgreSQL."""
