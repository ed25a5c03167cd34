"""Fixtures: a real PostgreSQL (embedded, or TEST_DATABASE_URL) and a fresh migrated database per test."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import text

import embedded
import settings
from database import make_engine, make_sessionmaker, migrate, session_scope
from models import Shop
from tests import clock

TEMPLATE = f"storefront_template_{os.getpid()}"
# `shopify_world`: the sandbox's demo stores over HTTP with the Shopify settings pointed at them.
pytest_plugins = ["tests.shopify_sandbox"]


@pytest.fixture(scope="session")
def server_url() -> str:
    """A PostgreSQL server where the tests may create databases."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return embedded.start(settings.ROOT / "var" / "test-pgdata", database="postgres")


@pytest.fixture(scope="session")
def template_db(server_url) -> str:
    """A database migrated to head once per session; each test clones it."""
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
