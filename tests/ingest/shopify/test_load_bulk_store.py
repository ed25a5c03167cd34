"""`load-bulk` refuses a file of another store, told by Shopify or by the warehouse; its own file loads."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest

import settings
from bench.ingest import write_bulk_file
from database import session_scope
from ingest import crypto
from ingest.shopify.__main__ import main
from models import ShopCredential
from sandbox import generator, shopify_api
from sandbox.meta_api import MetaFaults
from sandbox.server import SandboxServer, World
from tests.conftest import scalar

ORDERS = 30


@pytest.fixture(scope="module")
def stores():
    specs = generator.demo_specs(stores=2, seed=3, days=20, today=date(2026, 1, 31))
    return [generator.build_store(spec) for spec in specs]


@pytest.fixture
def sandbox(stores, monkeypatch, tmp_path):
    """Both stores behind the sandbox's Admin API on a loopback port."""
    api = shopify_api.ShopifyAPI(stores, files=tmp_path, now=lambda: datetime(2026, 2, 1, tzinfo=UTC))
    server = SandboxServer(World(stores=stores, shopify=api, ad_accounts={}, meta_faults=MetaFaults())).start()
    monkeypatch.setattr(settings, "SHOPIFY_ADMIN_URL",
                        server.base_url + "/shopify/{shop}/admin/api/{version}/graphql.json")
    yield server
    server.stop()


@pytest.fixture
def cli(db_url, monkeypatch):
    monkeypatch.setattr(settings, "DATABASE_URL", db_url)
    return main


def connect(scheduler_sessions, make_shop, store, *, token: bool) -> int:
    shop_id = make_shop(domain=store.spec.domain)
    if token:
        with session_scope(scheduler_sessions) as session:
            session.add(ShopCredential(shop_id=shop_id, kind="admin_token",
                                       access_token_enc=crypto.encrypt(store.spec.access_token)))
    return shop_id


def orders(sessions, shop_id) -> int:
    return scalar(sessions, "SELECT count(*) FROM core_warehouse.orders WHERE shop_id = :s", s=shop_id)


@pytest.mark.parametrize("part", ["orders", "customers"])
def test_another_stores_file_is_refused_by_shopify(cli, capsys, tmp_path, sandbox, stores, make_shop,
                                                   scheduler_sessions, part):
    alpha, beta = stores
    shop_id = connect(scheduler_sessions, make_shop, alpha, token=True)
    path = tmp_path / "beta.jsonl"
    write_bulk_file(beta, part, path, orders=ORDERS)

    assert cli(["load-bulk", "--shop", alpha.spec.domain, str(path)]) == 2
    error = capsys.readouterr().err
    assert f"are not {alpha.spec.domain}'s" in error and "another store's" in error and error.count("\n") == 1
    assert orders(scheduler_sessions, shop_id) == 0
    assert scalar(scheduler_sessions, "SELECT count(*) FROM staging_ingest.load_batches") == 0


def test_the_stores_own_file_is_confirmed_and_loads(cli, capsys, tmp_path, sandbox, stores, make_shop,
                                                    scheduler_sessions):
    alpha, _ = stores
    shop_id = connect(scheduler_sessions, make_shop, alpha, token=True)
    path = tmp_path / "alpha.jsonl"
    write_bulk_file(alpha, "orders", path, orders=ORDERS)
    assert cli(["load-bulk", "--shop", alpha.spec.domain, str(path)]) == 0
    assert "sampled orders confirmed by Shopify" in capsys.readouterr().out
    assert orders(scheduler_sessions, shop_id) == ORDERS


def test_without_shopify_the_warehouse_tells_a_file_whose_ids_it_holds_as_other_orders(
        cli, capsys, tmp_path, stores, make_shop, scheduler_sessions):
    alpha, _ = stores
    shop_id = connect(scheduler_sessions, make_shop, alpha, token=False)  # no credential: Shopify cannot be asked
    own = tmp_path / "alpha.jsonl"
    write_bulk_file(alpha, "orders", own, orders=ORDERS)
    assert cli(["load-bulk", "--shop", alpha.spec.domain, str(own)]) == 0
    assert "warehouse only" in capsys.readouterr().out
    before = scalar(scheduler_sessions, "SELECT md5(string_agg(raw::text, '' ORDER BY order_id)) "
                                        "FROM core_warehouse.orders")
    # Another store's orders under the same ids (what the sandbox's shared id ranges did): created otherwise.
    other = tmp_path / "other.jsonl"
    with open(own) as lines, open(other, "w") as out:
        for line in lines:
            node = json.loads(line)
            if "createdAt" in node and "__parentId" not in node:
                node["createdAt"] = (datetime.fromisoformat(node["createdAt"]) - timedelta(days=400)).isoformat()
                node["updatedAt"] = "2030-01-01T00:00:00Z"  # newer: the upsert would take it
            out.write(json.dumps(node) + "\n")
    assert cli(["load-bulk", "--shop", alpha.spec.domain, str(other)]) == 2
    assert "another creation time" in capsys.readouterr().err
    assert scalar(scheduler_sessions, "SELECT md5(string_agg(raw::text, '' ORDER BY order_id)) "
                                      "FROM core_warehouse.orders") == before
    assert orders(scheduler_sessions, shop_id) == ORDERS
