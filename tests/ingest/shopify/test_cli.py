"""`python -m ingest.shopify`: printing the documents, replaying a bulk file with a malformed line, twice."""

import json
import subprocess
import sys
from datetime import date

import pytest

import settings
from bench.ingest import write_bulk_file
from ingest.shopify import queries
from ingest.shopify.__main__ import main
from sandbox import generator
from tests.conftest import scalar

ORDERS = 60
BROKEN = 3  # an order line: its children are skipped with it, everything else loads


@pytest.fixture(scope="module")
def store():
    spec = generator.demo_specs(stores=1, seed=3, days=20, today=date(2026, 1, 31))[0]
    return generator.build_store(spec)


@pytest.fixture
def cli(db_url, monkeypatch):
    """main() against this test's database, as DATABASE_URL would aim it."""
    monkeypatch.setattr(settings, "DATABASE_URL", db_url)
    return main


def fingerprint(sessions) -> str:
    """Every promoted order row and line item, hashed (loaded_at aside)."""
    return scalar(sessions, """
        SELECT md5(coalesce((SELECT string_agg(row_to_json(o)::jsonb - 'loaded_at' #>> '{}', '|' ORDER BY order_id)
                             FROM core_warehouse.orders o), '')
                || coalesce((SELECT string_agg(i::text, '|' ORDER BY line_item_id)
                             FROM core_warehouse.order_line_items i), ''))""")


def test_queries_prints_every_document():
    out = subprocess.run([sys.executable, "-m", "ingest.shopify", "queries"], capture_output=True, text=True,
                         check=True, cwd=settings.ROOT).stdout
    for name, document in queries.DOCUMENTS.items():
        assert f"# {name}\n{document.strip()}\n" in out


def test_load_bulk_quarantines_a_malformed_line_loads_the_rest_and_is_idempotent(
        cli, capsys, tmp_path, store, make_shop, scheduler_sessions):
    path = tmp_path / "orders.jsonl"
    write_bulk_file(store, "orders", path, orders=ORDERS)
    lines = path.read_text().splitlines(keepends=True)
    broken_id = lines[BROKEN - 1].split('"id": "')[1].split('"')[0]
    lines[BROKEN - 1] = lines[BROKEN - 1][: len(lines[BROKEN - 1]) // 2] + "\n"
    path.write_text("".join(lines))
    line_items = [line for line in lines if '"__typename": "LineItem"' in line]
    orphans = [line for line in line_items if f'"__parentId": "{broken_id}"' in line]
    assert orphans  # the broken order had line items: they must be skipped, not fail the load
    shop_id = make_shop(domain=store.spec.domain)

    assert cli(["load-bulk", "--shop", store.spec.domain, str(path)]) == 0
    out = capsys.readouterr().out
    assert f"part orders, batch 1: {len(lines) - 1} lines landed, 1 quarantined, {ORDERS - 1} orders promoted" in out
    assert f"quarantined line {BROKEN}: malformed JSON" in out
    assert scalar(scheduler_sessions, "SELECT count(*) FROM core_warehouse.orders WHERE shop_id = :s",
                  s=shop_id) == ORDERS - 1
    assert scalar(scheduler_sessions, "SELECT count(*) FROM core_warehouse.order_line_items") == \
        len(line_items) - len(orphans)
    discounts = [node for node in map(json.loads, lines[BROKEN:]) if node["__typename"].endswith("Application")]
    assert discounts  # DiscountCodeApplication and the other kinds all land
    assert scalar(scheduler_sessions, "SELECT count(*) FROM core_warehouse.order_discount_applications") == \
        sum(node["__parentId"] != broken_id for node in discounts)
    assert scalar(scheduler_sessions, "SELECT line_no FROM staging_ingest.quarantine") == BROKEN
    before = fingerprint(scheduler_sessions)

    assert cli(["load-bulk", "--shop", store.spec.domain, "--part", "orders", str(path)]) == 0
    assert f"{ORDERS - 1} orders promoted" in capsys.readouterr().out
    assert fingerprint(scheduler_sessions) == before


def test_load_bulk_infers_the_part_from_the_first_line(cli, capsys, tmp_path, store, make_shop, scheduler_sessions):
    make_shop(domain=store.spec.domain)
    customers = tmp_path / "customers.jsonl"
    write_bulk_file(store, "customers", customers)
    assert cli(["load-bulk", "--shop", store.spec.domain, str(customers)]) == 0
    assert "part customers" in capsys.readouterr().out
    assert scalar(scheduler_sessions, "SELECT count(*) FROM core_warehouse.customers") == len(store.customers)
    sales = tmp_path / "sales.jsonl"
    write_bulk_file(store, "order_sales", sales, orders=5)
    assert cli(["load-bulk", "--shop", store.spec.domain, str(sales)]) == 0
    assert "part order_sales" in capsys.readouterr().out
    assert scalar(scheduler_sessions, "SELECT count(*) FROM core_warehouse.order_agreements") > 0


def test_load_bulk_reports_an_unknown_shop_and_a_missing_file(cli, capsys, tmp_path, store):
    path = tmp_path / "orders.jsonl"
    write_bulk_file(store, "orders", path, orders=1)
    assert cli(["load-bulk", "--shop", "nobody.myshopify.com", str(path)]) == 2
    assert "unknown shop nobody.myshopify.com" in capsys.readouterr().err
    assert cli(["load-bulk", "--shop", store.spec.domain, str(tmp_path / "missing.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err
