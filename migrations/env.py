"""Alembic environment: migrate the database named by the caller, DATABASE_URL, or the embedded default."""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool

import database
from models import Base

config = context.config
if config.config_file_name and not config.attributes.get("skip_logging"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    url = config.attributes.get("url")
    if url:
        return url
    import embedded

    return embedded.default_url()


def run_migrations() -> None:
    engine = database.make_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
