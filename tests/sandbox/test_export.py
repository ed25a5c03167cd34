"""The catalog as a Shopify product import CSV."""

import csv
import io
from datetime import date

from sandbox.export import HEADERS, catalog_csv
from sandbox.generator import build_store, demo_specs


def test_catalog_csv_round_trips():
    store = build_store(demo_specs(stores=1, today=date(2026, 3, 6), days=10)[0])
    buf = io.StringIO()
    catalog_csv(store, buf)
    buf.seek(0)
    reader = csv.DictReader(buf)
    assert tuple(reader.fieldnames) == HEADERS
    assert HEADERS[:8] == ("Title", "URL handle", "Description", "Vendor", "Product category", "Type", "Tags",
                           "Published on online store")
    rows = list(reader)
    variant_rows = [r for r in rows if r["Price"]]
    image_rows = [r for r in rows if not r["Price"]]
    variants = [(p, v) for p in store.products for v in p["variants"]]
    assert len(variant_rows) == len(variants)
    for r, (p, v) in zip(variant_rows, variants, strict=True):
        assert r["URL handle"] == p["handle"]
        assert r["Price"] == v["price"]
        assert r["SKU"] == (v["sku"] or "")
        assert r["Option1 value"] == v["selectedOptions"][0]["value"]
    firsts = {r["URL handle"]: r for r in reversed(variant_rows)}
    for p in store.products:
        first = firsts[p["handle"]]
        assert first["Title"] == p["title"] and first["Description"] == p["descriptionHtml"]
        assert first["Product category"] == p["category"]["fullName"] and first["Image position"] == "1"
    assert len(image_rows) == sum(len(p["images"]) - 1 for p in store.products) > 0
    assert all(r["Product image URL"] and r["Image position"] not in ("", "1") for r in image_rows)
    # quoting: descriptions contain commas and tags are comma-separated inside one cell
    assert any("," in r["Tags"] for r in variant_rows)
    assert buf.getvalue().count("\n") >= len(rows) + 1


def test_legacy_template():
    store = build_store(demo_specs(stores=2, today=date(2026, 3, 6), days=10)[1])
    buf = io.StringIO()
    catalog_csv(store, buf, template="legacy")
    assert buf.getvalue().startswith("Handle,Title,Body (HTML),Vendor,Product Category,Type,Tags,Published,Option1")
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    variants = [(p, v) for p in store.products for v in p["variants"]]
    assert [(r["Handle"], r["Variant Price"]) for r in rows if r["Variant Price"]] == [
        (p["handle"], v["price"]) for p, v in variants]
    assert {r["Status"] for r in rows} == {"active", ""}
