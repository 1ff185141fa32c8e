"""Alembic environment: runs against the engine handed over by archive.catalog.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from archive.models import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # plain `alembic` CLI use: take the URL from alembic.ini / -x url=...
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    engine = create_engine(url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        # One transaction for the whole upgrade, SQLite included (alembic otherwise commits
        # SQLite migrations one by one): with archive.catalog's BEGIN IMMEDIATE, a second
        # process creating the same catalog waits for all of it, not only for one step.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
