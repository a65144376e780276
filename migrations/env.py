"""Alembic environment: the URL comes from DATABASE_URL (or the project-managed cluster)."""

from alembic import context
from sqlalchemy import create_engine, pool

from finder.config import database_url
from finder.models import Base

target_metadata = Base.metadata


def include_object(obj, name, type_, reflected, compare_to):
    # PostGIS's own tables are not ours to manage
    return not (type_ == "table" and reflected and compare_to is None)


def run_migrations_online() -> None:
    url = context.config.attributes.get("url") or database_url()
    connectable = context.config.attributes.get("connection") or create_engine(
        url, poolclass=pool.NullPool
    )
    if hasattr(connectable, "connect") and not hasattr(connectable, "execute"):
        with connectable.connect() as connection:
            _run(connection)
    else:
        _run(connectable)


def _run(connection) -> None:
    context.configure(
        connection=connection, target_metadata=target_metadata, include_object=include_object
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
