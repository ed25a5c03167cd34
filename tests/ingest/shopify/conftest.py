"""Fixtures for the Shopify ingestion: a sandbox store over HTTP, a connected shop, a worker to run jobs."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

import settings
from database import session_scope
from ingest import crypto, jobs
from ingest.runner import Worker
from ingest.shopify import signing, sync  # noqa: F401  (sync registers the Shopify handlers)
from models import Shop, ShopCredential
from sandbox import generator, shopify_api
from sandbox.bulk import BulkFaults
from sandbox.meta_api import MetaFaults
from sandbox.server import SandboxServer, World
from tests.clock import DEFAULT, frozen
from tests.conftest import wait_for

DAYS = 150  # more than Shopify's 60-day window
SLICE_ORDERS = 300  # the store's ~500 orders then make more than one bulk date slice


@pytest.fixture(autouse=True)
def frozen_now(request) -> datetime:
    """Every test here runs at a frozen instant (one of `tests.clock.DATES` when parametrized indirectly)."""
    with frozen(getattr(request, "param", DEFAULT)) as instant:
        yield instant


@pytest.fixture
def clock() -> list[timedelta]:
    """The sandbox's clock runs this far from ours (tests move it to make time pass)."""
    return [timedelta(0)]


def serve_store(monkeypatch, tmp_path, clock, *, days: int, today: date):
    """A demo store of `days` days ending `today`, behind the sandbox's Shopify API on a loopback port."""
    spec = generator.demo_specs(stores=1, seed=7, days=days, today=today)[0]
    store = generator.build_store(spec)
    api = shopify_api.ShopifyAPI([store], files=tmp_path, now=lambda: datetime.now(UTC) + clock[0])
    store.sandbox_api = api  # so tests reach the fault knobs from the store
    server = SandboxServer(World(stores=[store], shopify=api, ad_accounts={}, meta_faults=MetaFaults())).start()
    monkeypatch.setattr(settings, "SHOPIFY_ADMIN_URL",
                        server.base_url + "/shopify/{shop}/admin/api/{version}/graphql.json")
    monkeypatch.setattr(settings, "SHOPIFY_BULK_POLL_SECONDS", 0.05)
    monkeypatch.setattr(settings, "SHOPIFY_BULK_SLICE_ORDERS", SLICE_ORDERS)
    return server


@pytest.fixture
def sandbox(monkeypatch, tmp_path, clock, frozen_now):
    """History ending the day before yesterday: every order and refund of it has happened by now."""
    server = serve_store(monkeypatch, tmp_path, clock, days=DAYS, today=frozen_now.date() - timedelta(days=2))
    yield server
    server.stop()


@pytest.fixture
def store(sandbox):
    return sandbox.world.stores[0]


@pytest.fixture
def shop_id(scheduler_sessions, store) -> int:
    """The sandbox store, connected with its custom-app token."""
    spec = store.spec
    with session_scope(scheduler_sessions) as session:
        shop = Shop(shop_domain=spec.domain, name=spec.name, currency=spec.currency,
                    iana_timezone=spec.iana_timezone, plan=spec.plan,
                    shopify_gid=f"gid://shopify/Shop/{shopify_api.shop_number(spec.domain)}")
        session.add(shop)
        session.flush()
        session.add(ShopCredential(shop_id=shop.id, kind="admin_token",
                                   access_token_enc=crypto.encrypt(spec.access_token),
                                   # the sandbox signs webhooks with the store's client secret
                                   webhook_secret_enc=crypto.encrypt(spec.client_secret),
                                   scopes=",".join(spec.scopes)))
        signing.save_key(session=session, shop_id=shop.id, secret=spec.client_secret)
        return shop.id


@pytest.fixture
def orders(store):
    """A few of the sandbox store's orders that have a customer (copies are kept to restore them)."""
    found = [o for o in store.orders() if o.get("customer") and not o.get("test")][-3:]
    assert len(found) == 3
    return found


@pytest.fixture
def worker(scheduler_sessions):
    worker = Worker(scheduler_sessions, threads=2, lease_seconds=30, backoff_base=0.01, backoff_max=0.05)
    yield worker
    worker.stop(grace_seconds=5)


def run_job(sessions, worker, shop_id, kind, *, timeout=60, params=None, statuses=("succeeded",)):
    """Queue a Shopify job, let the worker run it, and return it once it has settled."""
    with session_scope(sessions) as session:
        job_id, _ = jobs.enqueue(session=session, shop_id=shop_id, source="shopify", kind=kind, params=params)

    def settled():
        worker.fill()
        with session_scope(sessions) as session:
            job = jobs.get(session=session, job_id=job_id)
            session.expunge(job)
        return job if job.status in ("succeeded", "failed", "cancelled") else None

    job = wait_for(settled, timeout=timeout, what=f"{kind} to settle")
    assert job.status in statuses, (job.status, job.error_message)
    return job


def warehouse_days(sessions, shop_id, store) -> dict[str, dict]:
    """The warehouse's daily sales over the store's history, keyed by ISO day, amounts as strings of 2 dp."""
    with session_scope(sessions) as session:
        rows = session.execute(text("SELECT * FROM core_warehouse.shop_daily_sales WHERE shop_id = :s "
                                    "AND day BETWEEN :lo AND :hi"),
                               {"s": shop_id, "lo": store.spec.start, "hi": store.spec.end}).mappings().all()
    return {r["day"].isoformat(): {k: (str(v) if k != "orders" else v) for k, v in r.items()
                                   if k not in ("shop_id", "day")} for r in rows}


def truth_days(store, *, until=None) -> dict[str, dict]:
    """The sandbox's truth for the same days (only days with something in them)."""
    from sandbox import truth

    rows = truth.daily_sales(store, store.spec.start, store.spec.end)
    out = {}
    for r in rows:
        values = {k: (str(v) if k != "orders" else v) for k, v in r.items() if k != "date"}
        if values["orders"] or any(v != "0.00" for k, v in values.items() if k != "orders"):
            out[r["date"]] = values
    return out


def faults(store, **changes) -> BulkFaults:
    """Switch bulk faults on for the store (the sandbox's own objects: these are knobs, not the API)."""
    bulk = store.sandbox_api.bulk.faults.setdefault(store.spec.domain, BulkFaults())
    for name, value in changes.items():
        setattr(bulk, name, value)
    return bulk


def events(sessions, job_id) -> list[str]:
    with session_scope(sessions) as session:
        return list(session.execute(text("SELECT level || ' ' || message FROM app_dashboard.sync_events "
                                         "WHERE job_id = :j ORDER BY id"), {"j": job_id}).scalars())
