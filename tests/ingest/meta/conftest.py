"""The sandbox's Meta over HTTP on a clock the tests move, and helpers to compare the warehouse with its truth."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

import settings
from database import session_scope
from ingest.meta import connect
from ingest.runner import Worker
from models import SyncJob
from sandbox import ads
from sandbox.server import SandboxServer, build_world
from tests.clock import DEFAULT, frozen
from tests.conftest import wait_for

STORE = 1  # the demo template with two ad accounts


class Clock:
    """The sandbox's clock: frozen at the tests' start (partial-day numbers hold still), moved by hand."""

    def __init__(self):
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def clock():
    with frozen(DEFAULT):
        yield Clock()


@pytest.fixture(scope="module")
def sandbox(clock):
    world = build_world(stores=2, seed=11, today=clock.now.date(), now=clock)
    server = SandboxServer(world).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def big_account(sandbox, clock):
    """A busy EUR ad account (2,000 orders a day behind it): late conversions land on every day."""
    today = clock.now.date()
    account, = ads.build_ad_accounts(
        seed=5, daily_sales=lambda day: (2000, Decimal(2000 * 61)), start=today - timedelta(days=120),
        end=today + timedelta(days=30), accounts=[{"account_id": "act_900000000000001", "name": "Big",
                                                   "currency": "EUR", "iana_timezone": "Europe/Paris",
                                                   "access_token": "EAAB-big-account-token"}])
    sandbox.http.app.blueprints["meta_api"].state.add_account(account)
    sandbox.world.ad_accounts[account.account_id] = account
    return account


@pytest.fixture(autouse=True)
def meta_settings(sandbox, clock, monkeypatch):
    """Point the client at the sandbox; no real waiting between polls and retries; a clean sandbox."""
    start = clock.now
    monkeypatch.setattr(settings, "META_GRAPH_URL", f"{sandbox.base_url}/meta")
    for name in ("META_POLL_SECONDS", "META_HTTP_BACKOFF_SECONDS", "META_USAGE_PAUSE_SECONDS"):
        monkeypatch.setattr(settings, name, 0.0)
    sandbox.world.meta_faults.clear()
    yield
    sandbox.world.meta_faults.clear()
    clock.now = start


@pytest.fixture
def store(sandbox):
    return sandbox.world.stores[STORE]


@pytest.fixture
def worker(scheduler_sessions):
    worker = Worker(scheduler_sessions, threads=2, lease_seconds=30, backoff_base=0.01, backoff_max=0.05)
    yield worker
    worker.stop(grace_seconds=5)


def link(sessions, shop_id: int, spec) -> int:
    """Connect one sandbox ad account to a shop the normal way; return the queued backfill's job id."""
    info = connect.validate_account(spec.access_token, spec.account_id)
    with session_scope(sessions) as session:
        return connect.link_account(session=session, shop_id=shop_id, token=spec.access_token, info=info)[1]


def job(sessions, job_id: int) -> SyncJob:
    with session_scope(sessions) as session:
        return session.get(SyncJob, job_id)


def settle(sessions, job_id: int, worker: Worker, *statuses: str, timeout: float = 30) -> SyncJob:
    """Keep the worker claiming until the job reaches one of `statuses`."""
    def reached():
        worker.fill()
        found = job(sessions, job_id)
        return found if found.status in statuses else None

    return wait_for(reached, timeout=timeout, what=f"job {job_id} to be {statuses}")


def local_now(clock: Clock, account) -> datetime:
    """The sandbox's now as the account's naive local time (what its API reports as of)."""
    return clock.now.astimezone(ZoneInfo(account.iana_timezone)).replace(tzinfo=None)


def truth(sandbox, clock, account_id: str, start: date, end: date) -> dict:
    """{(campaign_id, date): (spend, purchases, purchase_value)} as the sandbox reports them now."""
    account = sandbox.world.ad_accounts[account_id]
    return {(r["campaign_id"], r["date"]): (r["spend"], Decimal(r["purchases"]), r["purchase_value"])
            for r in ads.truth(account, start, end, as_of=local_now(clock, account))}


def account_truth(campaigns: dict) -> dict:
    """Campaign truth summed per day: what the account-level rows must hold."""
    out = defaultdict(lambda: (Decimal(0), Decimal(0), Decimal(0)))
    for (_, day), values in campaigns.items():
        out[day] = tuple(a + b for a, b in zip(out[day], values, strict=True))
    return dict(out)


def warehouse(sessions, account_id: str, start: date, end: date, *, level: str = "campaign") -> dict:
    """The warehouse's rows in the same shape as `truth` (account level: keyed by date)."""
    table = "fact_marketing_campaign_daily" if level == "campaign" else "fact_marketing_daily"
    key = "campaign_id, date" if level == "campaign" else "date"
    with session_scope(sessions) as session:
        rows = session.execute(text(f"""
            SELECT {key}, spend, purchases, purchase_value FROM core_warehouse.{table}
            WHERE account_id = :account AND date BETWEEN :start AND :end"""),
            {"account": account_id, "start": start, "end": end}).all()
    if level == "campaign":
        return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def assert_matches_truth(sessions, sandbox, clock, account_id: str, start: date, end: date) -> None:
    """Campaign and account rows equal the sandbox's spend, purchases and purchase value, day by day."""
    expected = truth(sandbox, clock, account_id, start, end)
    assert expected, "the sandbox should have delivery in the range"
    assert warehouse(sessions, account_id, start, end) == expected
    assert warehouse(sessions, account_id, start, end, level="account") == account_truth(expected)


def account_today(sandbox, clock, account_id: str) -> date:
    return local_now(clock, sandbox.world.ad_accounts[account_id]).date()


def one_day_later(clock: Clock) -> None:
    clock.now += timedelta(days=1)


def count(sessions, sql: str, **params) -> int:
    with session_scope(sessions) as session:
        return session.execute(text(sql), params).scalar()


def jobs_of(sessions, kind: str) -> list[SyncJob]:
    with session_scope(sessions) as session:
        return list(session.scalars(select(SyncJob).where(SyncJob.kind == kind).order_by(SyncJob.id)))
