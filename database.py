"""Engines and sessions, one per database role, and the web's per-request RLS transaction."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

import settings


def normalize_url(url: str) -> str:
    """Return a SQLAlchemy URL for psycopg2 from a URL as Heroku or Supabase hand it out."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    raise ValueError(f"Not a PostgreSQL URL: {url.split('://')[0]}://...")


def libpq_url(url: str) -> str:
    """Return the URL as libpq (psycopg2.connect) takes it."""
    return normalize_url(url).replace("postgresql+psycopg2://", "postgresql://", 1)


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine with pre-ping, so a restarted database costs one retry, not an error page."""
    return create_engine(normalize_url(url), pool_pre_ping=True, **kwargs)


def make_sessionmaker(engine: Engine, *, role: str | None) -> sessionmaker:
    """Sessions whose every transaction runs as `role` (SET LOCAL ROLE: safe behind a transaction pooler)."""
    factory = sessionmaker(engine, expire_on_commit=False)
    if role is not None:

        @event.listens_for(factory, "after_begin")
        def _set_role(session, transaction, connection):
            connection.exec_driver_sql(f'SET LOCAL ROLE "{role}"')

    return factory


def set_app_user(session: Session, user_id: int | None) -> None:
    """Name the user whose shops row-level security admits for the rest of this transaction."""
    session.execute(
        text("SELECT set_config('app.user_id', :uid, true)"),
        {"uid": "" if user_id is None else str(int(user_id))},
    )


@contextmanager
def session_scope(factory: sessionmaker) -> Iterator[Session]:
    """Run a block in one transaction: commit on success, roll back on error."""
    with factory() as session, session.begin():
        yield session


@contextmanager
def web_session_scope(factory: sessionmaker, *, user_id: int | None) -> Iterator[Session]:
    """Run a block as the web role on behalf of one user (RLS applies)."""
    with session_scope(factory) as session:
        set_app_user(session, user_id)
        yield session


def scheduler_sessionmaker(url: str | None = None) -> sessionmaker:
    """Sessions for the scheduler role, the writer."""
    engine = make_engine(url or settings.DATABASE_URL, pool_size=settings.SCHEDULER_THREADS + 4)
    return make_sessionmaker(engine, role=settings.SCHEDULER_ROLE)


def web_sessionmaker(url: str | None = None) -> sessionmaker:
    """Sessions for the web role: no BYPASSRLS, reads through reporting as the logged-in user."""
    engine = make_engine(url or settings.WEB_DATABASE_URL or settings.DATABASE_URL)
    return make_sessionmaker(engine, role=settings.WEB_ROLE)


def alembic_config(url: str):
    """Alembic's configuration, aimed at the database at `url`."""
    from alembic.config import Config

    config = Config(str(settings.ROOT / "alembic.ini"))
    config.attributes["url"] = url
    config.attributes["skip_logging"] = True
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision` (what `alembic upgrade head` does)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    """The migration the database at `url` is at; None before the first."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import pool

    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
