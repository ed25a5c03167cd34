"""The demo store generator: determinism, streaming, day-range regeneration, and API shape against the schema."""

import gzip
import json
import tracemalloc
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from itertools import islice
from pathlib import Path

import pytest

from sandbox import truth
from sandbox.generator import SCOPES, StoreSpec, build_store, demo_specs

SCHEMA = Path("/work/shared/reference/shopify-admin-2026-01.introspection.json.gz")
if not SCHEMA.exists():
    SCHEMA = Path(__file__).resolve().parents[2] / "sandbox" / "schemas" / "shopify-admin-2026-01.introspection.json.gz"
TODAY = date(2026, 11, 21)


@cache
def types() -> dict:
    with gzip.open(SCHEMA) as f:
        schema = json.load(f)["data"]["__schema"]
    return {t["name"]: t for t in schema["types"]}


def _unwrap(t: dict) -> tuple[bool, str]:
    is_list = False
    while t.get("ofType"):
        if t["kind"] == "LIST":
            is_list = True
        t = t["ofType"]
    return is_list, t["name"]


SCALARS = {
    "String": str, "ID": str, "Boolean": bool, "Int": int, "Float": (int, float), "Money": str, "Decimal": str,
    "DateTime": str, "UnsignedInt64": str, "URL": str, "HTML": str, "FormattedString": str, "JSON": object,
}


def check(value, type_name: str, path: str, seen: set) -> None:
    """Every key of `value` must be a field of GraphQL type `type_name` with a value of the right shape."""
    if value is None:
        return
    t = types()[type_name]
    kind = t["kind"]
    if kind == "SCALAR":
        assert isinstance(value, SCALARS.get(type_name, object)), f"{path}: {value!r} is not a {type_name}"
        if type_name == "DateTime":
            assert value.endswith("Z") and datetime.fromisoformat(value[:-1]), path
        if type_name in ("Decimal", "Money", "UnsignedInt64"):
            Decimal(value)
        return
    if kind == "ENUM":
        assert value in {v["name"] for v in t["enumValues"]}, f"{path}: {value!r} not in {type_name}"
        return
    assert isinstance(value, dict), f"{path}: expected an object of {type_name}, got {type(value)}"
    if kind in ("INTERFACE", "UNION"):
        concrete = value.get("__typename")
        assert concrete in {p["name"] for p in t["possibleTypes"]}, f"{path}: __typename {concrete!r} of {type_name}"
        type_name, t = concrete, types()[concrete]
    elif "__typename" in value:
        assert value["__typename"] == type_name, path
    fields = {f["name"]: f for f in t["fields"]}
    for key, sub in value.items():
        if key == "__typename":
            continue
        assert key in fields, f"{path}: {type_name} has no field {key!r}"
        seen.add(f"{type_name}.{key}")
        assert sub is not None or fields[key]["type"]["kind"] != "NON_NULL", f"{path}.{key} is non-null"
        is_list, named = _unwrap(fields[key]["type"])
        nt = types()[named]
        if nt["kind"] == "OBJECT" and named.endswith("Connection") and "nodes" in {f["name"] for f in nt["fields"]}:
            is_list, named = True, _unwrap(next(f for f in nt["fields"] if f["name"] == "nodes")["type"])[1]
        if is_list:
            assert isinstance(sub, list), f"{path}.{key}: expected a list"
            for i, item in enumerate(sub):
                check(item, named, f"{path}.{key}[{i}]", seen)
        else:
            check(sub, named, f"{path}.{key}", seen)


@cache
def demo_stores():
    return [build_store(s) for s in demo_specs(today=TODAY)]


def small_spec(seed: int = 7, days: int = 40, rate: float = 6.0) -> StoreSpec:
    spec = demo_specs(stores=2, seed=seed, today=TODAY, days=days)[1]
    return replace(spec, orders_per_day=rate)


def test_demo_specs_are_diverse_and_deterministic():
    specs = demo_specs(today=TODAY)
    assert specs == demo_specs(today=TODAY)
    assert len({s.currency for s in specs}) == 3 and {"EUR", "USD", "GBP"} <= {s.currency for s in specs}
    assert len({s.iana_timezone for s in specs}) == 3
    assert any(s.taxes_included for s in specs) and not all(s.taxes_included for s in specs)
    assert len({s.domain for s in specs}) == 3
    for s in specs:
        assert s.end == TODAY and (s.end - s.start).days == 364
        assert s.currency in s.presentment_currencies
        assert s.access_token.startswith("shpat_") and len(s.access_token) == 6 + 32
        int(s.access_token[6:], 16)
        assert s.scopes == SCOPES and s.plan in ("Basic", "Shopify", "Advanced", "Shopify Plus")
        assert s.ad_accounts and all(a.account_id.startswith("act_") and a.account_id[4:].isdigit()
                                     for a in s.ad_accounts)
    assert any(a.currency != s.currency for s in specs for a in s.ad_accounts)
    assert any(a.iana_timezone != s.iana_timezone for s in specs for a in s.ad_accounts)
    assert demo_specs(seed=2, today=TODAY)[0].access_token != specs[0].access_token
    total = sum(len(st.orders()) for st in demo_stores())
    assert 2000 <= total <= 6000


def test_same_seed_same_orders_other_seed_other_orders():
    a, b = build_store(small_spec()), build_store(small_spec())
    assert a.orders() == b.orders() and a.products == b.products and a.customers == b.customers
    c = build_store(small_spec(seed=8))
    assert c.orders() != a.orders()


def test_sub_range_is_the_slice_of_the_full_list():
    spec = small_spec()
    full = build_store(spec).orders()
    lo, hi = spec.start + timedelta(days=11), spec.start + timedelta(days=17)
    fresh = build_store(spec)  # a fresh store: nothing of the earlier days is generated or cached
    part = list(fresh.iter_orders(lo, hi))
    tz = fresh.tz
    expected = [o for o in full
                if lo <= datetime.fromisoformat(o["createdAt"].replace("Z", "+00:00")).astimezone(tz).date() <= hi]
    assert part and part == expected
    i = full.index(part[0])
    assert full[i:i + len(part)] == part


def test_orders_ascend_ids_unique_names_sequential():
    for store in demo_stores():
        orders = store.orders()
        created = [o["createdAt"] for o in orders]
        assert created == sorted(created)
        assert len({o["id"] for o in orders}) == len(orders)
        assert [o["name"] for o in orders] == [f"#{1001 + i}" for i in range(len(orders))]
        line_ids = [li["id"] for o in orders for li in o["lineItems"]]
        assert len(set(line_ids)) == len(line_ids)
        for o in orders:
            assert o["updatedAt"] >= max([o["createdAt"]] + [r["createdAt"] for r in o["refunds"]])
            if o["cancelledAt"]:
                assert o["cancelledAt"] >= o["createdAt"]


def test_realism_features_present():
    orders = [o for st in demo_stores() for o in st.orders()]
    assert any(o["test"] for o in orders)
    assert any(o["cancelledAt"] for o in orders)
    assert any(o["displayFinancialStatus"] == "PARTIALLY_REFUNDED" for o in orders)
    assert any(o["displayFinancialStatus"] == "REFUNDED" for o in orders)
    assert any(o["discountCodes"] for o in orders)
    assert any(o["edited"] for o in orders)
    assert any(li["isGiftCard"] for o in orders for li in o["lineItems"])
    assert any(Decimal(o["totalTipReceivedSet"]["shopMoney"]["amount"]) > 0 for o in orders)
    assert len({o["presentmentCurrencyCode"] for o in orders}) >= 4
    assert {o["sourceName"] for o in orders} >= {"web", "pos"}
    counts = [int(o["customer"]["numberOfOrders"]) for o in orders if o["customer"]]
    assert 1 in counts and max(counts) > 1  # new and returning customers
    # weekly and yearly seasonality: late November beats the average day
    st = demo_stores()[0]
    by_day = {}
    for o in st.orders():
        by_day.setdefault(o["createdAt"][:10], 0)
        by_day[o["createdAt"][:10]] += 1
    bfcm = sum(v for k, v in by_day.items() if "2025-11-22" <= k <= "2025-11-30") / 9
    assert bfcm > 1.3 * len(st.orders()) / 365


def test_money_is_consistent_within_an_order():
    for store in demo_stores():
        for o in store.orders():
            def amt(bag):
                return Decimal(bag["shopMoney"]["amount"])
            sales = sum(amt(s["totalAmount"]) for a in o["agreements"] for s in a["sales"])
            assert sales == amt(o["totalPriceSet"]) - amt(o["totalRefundedSet"]) == amt(o["currentTotalPriceSet"])
            assert amt(o["totalRefundedSet"]) == sum(amt(r["totalRefundedSet"]) for r in o["refunds"])
            assert o["currencyCode"] == store.spec.currency
            assert o["presentmentCurrencyCode"] in store.spec.presentment_currencies
            for li in o["lineItems"]:
                assert 0 <= li["currentQuantity"] <= li["quantity"]


def test_every_emitted_field_exists_in_the_2026_01_schema():
    seen: set = set()
    for store in demo_stores():
        for o in store.orders()[:400]:
            check(o, "Order", o["name"], seen)
        for o in store.orders():
            if o["refunds"] or o["cancelledAt"] or o["discountCodes"] or o["edited"]:
                check(o, "Order", o["name"], seen)
        for p in store.products:
            check(p, "Product", p["handle"], seen)
        for c in store.customers:
            check(c, "Customer", c["id"], seen)
    for f in ("Order.agreements", "RefundAgreement.sales", "ProductSale.lineItem", "ShippingLineSale.shippingLine",
              "TipSale.lineItem", "GiftCardSale.lineItem", "Refund.refundLineItems", "Refund.refundShippingLines",
              "DiscountCodeApplication.code", "OrderEditAgreement.sales",
              "PricingPercentageValue.percentage", "ProductVariant.inventoryItem",
              "InventoryItem.unitCost", "Customer.numberOfOrders"):
        assert f in seen, f


def test_agreements_per_day_equal_truth_per_day():
    for store in demo_stores():
        spec = store.spec
        rows = {r["date"]: r for r in truth.daily_sales(store, spec.start, spec.end)}
        got: dict = {}
        for o in store.orders():
            if o["test"]:
                continue
            for a in o["agreements"]:
                day = datetime.fromisoformat(a["happenedAt"].replace("Z", "+00:00")).astimezone(store.tz).date()
                r = got.setdefault(day.isoformat(), dict.fromkeys(truth.AMOUNT_KEYS, Decimal(0)) | {"orders": 0})
                if a["reason"] == "ORDER":
                    r["orders"] += 1
                for s in a["sales"]:
                    total, tax = (Decimal(s[k]["shopMoney"]["amount"]) for k in ("totalAmount", "totalTaxAmount"))
                    disc = Decimal(s["totalDiscountAmountBeforeTaxes"]["shopMoney"]["amount"])
                    if s["lineType"] == "PRODUCT":
                        if s["actionType"] == "RETURN":
                            r["returns"] -= total - tax
                        else:
                            r["gross_sales"] += total - tax + disc
                            r["discounts"] += disc
                        r["taxes"] += tax
                    elif s["lineType"] == "SHIPPING":
                        r["shipping"] += total - tax
                        r["taxes"] += tax
        for day, r in got.items():
            want = rows[day]
            assert r["orders"] == want["orders"], day
            for k in ("gross_sales", "discounts", "returns", "shipping", "taxes"):
                assert r[k] == want[k], (day, k)
            assert want["total_sales"] == (r["gross_sales"] - r["discounts"] - r["returns"] + r["shipping"]
                                           + r["taxes"])
        assert sum(r["orders"] for r in rows.values()) == sum(1 for o in store.orders() if not o["test"])
        assert any(r["returns"] > 0 for r in rows.values())


def test_daily_order_summary_matches_truth_sales_of_the_day():
    store = demo_stores()[1]
    day = store.spec.end - timedelta(days=3)
    n, total = store.daily_order_summary(day)
    orders = [o for o in store.iter_orders(day, day) if not o["test"]]
    assert n == len(orders) > 0
    assert total == sum(Decimal(s["totalAmount"]["shopMoney"]["amount"]) for o in orders
                        for a in o["agreements"] if a["reason"] == "ORDER"
                        for s in a["sales"] if s["lineType"] in ("PRODUCT", "SHIPPING"))


def test_a_50k_order_store_streams():
    spec = replace(demo_specs(stores=1, today=TODAY)[0], orders_per_day=50_000 / 365 / 1.05)
    tracemalloc.start()
    try:
        store = build_store(spec)
        it = store.iter_orders()
        first = next(it)
        assert first["name"] == "#1001"
        _, peak_early = tracemalloc.get_traced_memory()
        for _ in islice(it, 3000):
            pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < peak_early + 20_000_000  # generating thousands of orders does not accumulate them
    assert 40_000 < store._first_seq(spec.end + timedelta(days=1)) < 60_000
    # a late day can be generated on its own (how fast: bench/sandbox.py, not a timed test)
    late_store = build_store(spec)
    late = list(late_store.iter_orders(spec.end, spec.end))
    assert late and {datetime.fromisoformat(o["createdAt"].replace("Z", "+00:00")).astimezone(late_store.tz).date()
                     for o in late} == {spec.end}


@pytest.mark.parametrize("store_index", [0, 1, 2])
def test_products_have_variants_skus_costs_and_shallow_categories(store_index):
    store = demo_stores()[store_index]
    skus = [v["sku"] for p in store.products for v in p["variants"] if v["sku"]]
    assert len(skus) == len(set(skus)) > 10
    assert any(len(p["variants"]) > 3 for p in store.products)
    for p in store.products:
        assert p["category"]["fullName"].count(" > ") <= 2
        assert all(i["url"].startswith("/sandbox/images/") for i in p["images"])
        for v in p["variants"]:
            assert Decimal(v["price"]) > 0
            if not p["isGiftCard"]:
                assert 0 < Decimal(v["inventoryItem"]["unitCost"]["amount"]) < Decimal(v["price"])
    assert store.brand["palette"]


def test_customer_order_index_counts_each_customers_orders_in_time_order():
    for store in demo_stores():
        seen: dict = {}
        for o in store.orders():
            idx = o["customerJourneySummary"]["customerOrderIndex"]
            if o["customer"] is None or o["test"]:
                assert idx is None
                continue
            cid = o["customer"]["id"]
            assert idx == seen.get(cid, 0)
            seen[cid] = idx + 1
            assert ("returning-customer" in o["tags"]) == (idx > 0)
        by_id = {c["id"]: c for c in store.customers}
        for cid, n in seen.items():
            assert by_id[cid]["numberOfOrders"] == str(n)
            assert by_id[cid]["createdAt"] <= min(o["createdAt"] for o in store.orders()
                                                  if o["customer"] and o["customer"]["id"] == cid) or n == 0
        assert any(o["customerJourneySummary"]["firstVisit"] and
                   o["customerJourneySummary"]["firstVisit"]["utmParameters"] for o in store.orders())


def test_a_store_as_of_a_moment_is_the_same_however_it_is_read():
    """orders_as_of (the cached history, re-rendered where it changed later) equals a fresh simulation to then."""
    store = build_store(small_spec())
    end = datetime.combine(store.spec.end, datetime.min.time(), UTC)
    for moment in (end - timedelta(days=40, hours=5, seconds=7), end - timedelta(hours=30), end + timedelta(days=9)):
        assert store.orders_as_of(moment) == list(store.iter_orders(as_of=moment))
    assert store.orders_as_of(end + timedelta(days=9)) == store.orders()
