"""Fixtures: a real PostgreSQL (embedded, or TEST_DATABASE_URL) and a fresh migrated database per test."""

import fcntl
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable

import psycopg2
import pytest
from dash.testing.application_runners import BaseDashRunner
from sqlalchemy import text

import embedded
import settings
from database import make_engine, make_sessionmaker, migrate, session_scope
from models import Shop
from tests import clock

TEMPLATE = f"storefront_template_{os.getpid()}"
# Under pytest-xdist (`-n 2`) each worker is its own process: its own template (named by pid, above), its own
# databases (uuid-named), and its own range of ports for dash_duo's servers (dash counts up from 58050 in each).
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
BaseDashRunner._next_port = 58050 + 1000 * int(WORKER.removeprefix("gw") or 0)
# `shopify_world`: the sandbox's demo stores over HTTP with the Shopify settings pointed at them.
pytest_plugins = ["tests.shopify_sandbox"]


@pytest.fixture(scope="session")
def server_url() -> str:
    """A PostgreSQL server where the tests may create databases."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    url = embedded.start(settings.ROOT / "var" / "test-pgdata", database="postgres")
    _skip_the_disk_waits(url)
    return url


def _skip_the_disk_waits(url: str) -> None:
    """The tests' own throwaway server commits without waiting for the disk (1.3 ms -> 0.06 ms a commit).

    Only durability after an OS crash is lost, which no test needs: a killed client or scheduler still
    leaves exactly what it committed, as the server itself keeps running.
    """
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for name in ("fsync", "synchronous_commit", "full_page_writes"):
                cur.execute(f"ALTER SYSTEM SET {name} = off")
            cur.execute("SELECT pg_reload_conf()")
    finally:
        conn.close()


@pytest.fixture(scope="session")
def template_db(server_url) -> str:
    """A database migrated to head once per session (per worker); each test clones it."""
    # The first migration creates the cluster-wide roles: two workers doing it at once would race.
    (settings.ROOT / "var").mkdir(exist_ok=True)
    with open(settings.ROOT / "var" / "test-migrate.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        embedded.drop_database(server_url, TEMPLATE)
        embedded.create_database(server_url, TEMPLATE)
        migrate(embedded.with_database(server_url, TEMPLATE))
    yield TEMPLATE
    embedded.drop_database(server_url, TEMPLATE)


@pytest.fixture
def db_url(server_url, template_db) -> str:
    """The URL of a fresh, migrated database of this test's own (as the owner)."""
    name = f"storefront_test_{uuid.uuid4().hex[:12]}"
    embedded.create_database(server_url, name, template=template_db)
    yield embedded.with_database(server_url, name)
    embedded.drop_database(server_url, name)


def _sessions(url: str, role: str | None):
    engine = make_engine(url)
    yield make_sessionmaker(engine, role=role)
    engine.dispose()


@pytest.fixture
def owner_sessions(db_url):
    """Sessions as the database owner (what migrations run as): for setting up and inspecting."""
    yield from _sessions(db_url, None)


@pytest.fixture
def scheduler_sessions(db_url):
    yield from _sessions(db_url, settings.SCHEDULER_ROLE)


@pytest.fixture
def web_url(db_url) -> str:
    """The same database, logged in as the web role itself (so SET ROLE cannot escape it)."""
    return embedded.with_user(db_url, settings.WEB_ROLE)


@pytest.fixture
def web_sessions(web_url):
    yield from _sessions(web_url, settings.WEB_ROLE)


@pytest.fixture
def make_shop(scheduler_sessions) -> Callable[..., int]:
    """Insert a shop and return its id."""

    def make(domain: str = "", name: str = "", currency: str = "EUR", timezone: str = "Europe/Paris") -> int:
        domain = domain or f"shop-{uuid.uuid4().hex[:8]}.myshopify.com"
        with session_scope(scheduler_sessions) as session:
            shop = Shop(shop_domain=domain, name=name or domain.split(".")[0].title(), currency=currency,
                        iana_timezone=timezone)
            session.add(shop)
            session.flush()
            return shop.id

    return make


@pytest.fixture
def make_user(scheduler_sessions) -> Callable[..., int]:
    """Insert a user (password "correct horse") and grant them shops; return the id."""
    from dashboard import accounts

    def make(email: str, *, role: str = "member", shops: list[int] = (), password: str = "correct horse") -> int:
        with session_scope(scheduler_sessions) as session:
            user = accounts.create_user(session=session, email=email, password=password, role=role)
            accounts.grant_shops(session=session, user_id=user.id, shop_ids=list(shops))
            return user.id

    return make


CHILD = [sys.executable, str(settings.ROOT / "tests" / "scheduler_child.py")]


@pytest.fixture
def spawn(db_url, tmp_path):
    """Start scheduler processes on this test's database (`spawn(**env)`); kill any left at the end."""
    children = []

    def start(**env):
        environment = os.environ | {
            "DATABASE_URL": db_url, "JOB_POLL_SECONDS": "0.2", "JOB_HEARTBEAT_SECONDS": "0.3",
            "JOB_LEASE_SECONDS": "2", "JOB_REAP_SECONDS": "0.3", "SHUTDOWN_GRACE_SECONDS": "3",
            "SCHEDULER_THREADS": "3", "LOG_LEVEL": "WARNING", "TOKEN_ENCRYPTION_KEYS": settings.TOKEN_ENCRYPTION_KEYS,
        } | clock.child_environment() | env
        log = open(tmp_path / f"scheduler-{len(children)}.log", "w")  # noqa: SIM115  (the child writes to it)
        child = subprocess.Popen(CHILD, env=environment, stdout=log, stderr=subprocess.STDOUT,
                                 cwd=settings.ROOT)
        children.append(child)
        return child

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items):
    """Under `--dist loadgroup`, the browser tests share one worker: one Chrome at a time on two cores."""
    for item in items:
        if "dash_duo" in item.fixturenames:
            item.add_marker(pytest.mark.xdist_group("browser"))


def pytest_setup_options():
    """Chrome options for dash[testing]: Debian's chromium, headless, quiet on a closed network."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = os.environ.get("DASH_TEST_CHROMEPATH", "/usr/bin/chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1400,1000"):
        options.add_argument(flag)
    return options


def wait_for(predicate: Callable[[], object], *, timeout: float = 20, interval: float = 0.05, what: str = ""):
    """Poll `predicate` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


def scalar(sessions, sql: str, **params):
    """One value from a query."""
    with session_scope(sessions) as session:
        return session.execute(text(sql), params).scalar()


@pytest.fixture
def server(db_url, web_url):
    """The Flask server with Dash mounted, on this test's database, web role logging in as itself."""
    from app import create_app

    return create_app({"DATABASE_URL": db_url, "WEB_DATABASE_URL": web_url, "SECRET_KEY": "test-secret",
                       "TESTING": True, "SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False})


@pytest.fixture
def client(server):
    return server.test_client()
