"""A store's catalog as a Shopify product import CSV.

Headers and their order follow Shopify's current sample product CSV ("product_template.csv", linked from
https://help.shopify.com/en/manual/products/import-export/using-csv : "Title, URL handle, Description, Vendor,
Product category, Type, Tags, Published on online store, Status, SKU, ..."). The sample also carries market columns
("Price / International", "Compare-at price / International") only when markets are set up; they are left out here.
`template="legacy"` writes the pre-2025 layout instead ("Handle, Title, Body (HTML), Vendor, Product Category, Type,
Tags, Published, Option1 Name, ...", the header of Shopify's older exports, which its importer still accepts).
Layout as Shopify exports it: one row per variant, product-level columns only on the product's first row, and
extra rows carrying only the handle and an image for images beyond the variant rows.
"""

from __future__ import annotations

import csv
from typing import TextIO

HEADERS = (
    "Title", "URL handle", "Description", "Vendor", "Product category", "Type", "Tags",
    "Published on online store", "Status", "SKU", "Barcode",
    "Option1 name", "Option1 value", "Option1 Linked To",
    "Option2 name", "Option2 value", "Option2 Linked To",
    "Option3 name", "Option3 value", "Option3 Linked To",
    "Price", "Compare-at price", "Cost per item", "Charge tax", "Tax code",
    "Unit price total measure", "Unit price total measure unit", "Unit price base measure",
    "Unit price base measure unit", "Inventory tracker", "Inventory quantity", "Continue selling when out of stock",
    "Weight value (grams)", "Weight unit for display", "Requires shipping", "Fulfillment service",
    "Product image URL", "Image position", "Image alt text", "Variant image URL", "Gift card",
    "SEO title", "SEO description", "Color (product.metafields.shopify.color-pattern)",
    "Google Shopping / Google product category", "Google Shopping / Gender", "Google Shopping / Age group",
    "Google Shopping / Manufacturer part number (MPN)", "Google Shopping / Ad group name",
    "Google Shopping / Ads labels", "Google Shopping / Condition", "Google Shopping / Custom product",
    "Google Shopping / Custom label 0", "Google Shopping / Custom label 1", "Google Shopping / Custom label 2",
    "Google Shopping / Custom label 3", "Google Shopping / Custom label 4",
)


# legacy header -> the current column it carries (None: the legacy column is written empty)
LEGACY = {
    "Handle": "URL handle", "Title": "Title", "Body (HTML)": "Description", "Vendor": "Vendor",
    "Product Category": "Product category", "Type": "Type", "Tags": "Tags", "Published": "Published on online store",
    "Option1 Name": "Option1 name", "Option1 Value": "Option1 value", "Option2 Name": "Option2 name",
    "Option2 Value": "Option2 value", "Option3 Name": "Option3 name", "Option3 Value": "Option3 value",
    "Variant SKU": "SKU", "Variant Grams": "Weight value (grams)", "Variant Inventory Tracker": "Inventory tracker",
    "Variant Inventory Qty": "Inventory quantity", "Variant Inventory Policy": "Continue selling when out of stock",
    "Variant Fulfillment Service": "Fulfillment service", "Variant Price": "Price",
    "Variant Compare At Price": "Compare-at price", "Variant Requires Shipping": "Requires shipping",
    "Variant Taxable": "Charge tax", "Variant Barcode": "Barcode", "Image Src": "Product image URL",
    "Image Position": "Image position", "Image Alt Text": "Image alt text", "Gift Card": "Gift card",
    "SEO Title": "SEO title", "SEO Description": "SEO description",
    "Google Shopping / Google Product Category": "Google Shopping / Google product category",
    "Google Shopping / Gender": "Google Shopping / Gender",
    "Google Shopping / Age Group": "Google Shopping / Age group",
    "Google Shopping / MPN": "Google Shopping / Manufacturer part number (MPN)",
    "Google Shopping / Condition": "Google Shopping / Condition",
    "Google Shopping / Custom Product": "Google Shopping / Custom product", "Variant Image": "Variant image URL",
    "Variant Weight Unit": "Weight unit for display", "Variant Tax Code": "Tax code", "Cost per item": "Cost per item",
    "Status": "Status",
}
LEGACY_HEADERS = tuple(LEGACY)


def _bool(x: bool) -> str:
    return "TRUE" if x else "FALSE"


def product_rows(product: dict) -> list[dict]:
    rows = []
    images = product.get("images") or []
    for k, v in enumerate(product["variants"]):
        row = dict.fromkeys(HEADERS, "")
        row["URL handle"] = product["handle"]
        if k == 0:
            row.update({
                "Title": product["title"],
                "Description": product.get("descriptionHtml") or "",
                "Vendor": product.get("vendor") or "",
                "Product category": (product.get("category") or {}).get("fullName", ""),
                "Type": product.get("productType") or "",
                "Tags": ", ".join(product.get("tags") or []),
                "Published on online store": _bool(product.get("status") == "ACTIVE"),
                "Status": (product.get("status") or "ACTIVE").capitalize(),
                "Gift card": _bool(bool(product.get("isGiftCard"))),
                "SEO title": product["title"],
                "SEO description": f"{product['title']} by {product.get('vendor') or ''}".strip(),
            })
            if images:
                row.update({"Product image URL": images[0]["url"], "Image position": "1",
                            "Image alt text": images[0].get("altText") or ""})
        for n, opt in enumerate(v.get("selectedOptions") or [], start=1):
            if n > 3:
                break
            row[f"Option{n} name"] = opt["name"] if k == 0 else ""
            row[f"Option{n} value"] = opt["value"]
        item = v.get("inventoryItem") or {}
        cost = item.get("unitCost") or {}
        weight = ((item.get("measurement") or {}).get("weight") or {}).get("value")
        row.update({
            "SKU": v.get("sku") or "",
            "Barcode": v.get("barcode") or "",
            "Price": v["price"],
            "Compare-at price": v.get("compareAtPrice") or "",
            "Cost per item": cost.get("amount", ""),
            "Charge tax": _bool(v.get("taxable", True)),
            "Inventory tracker": "shopify" if item.get("tracked") else "",
            "Inventory quantity": str(v.get("inventoryQuantity", 0)),
            "Continue selling when out of stock": "DENY",
            "Weight value (grams)": "" if weight is None else f"{weight:g}",
            "Weight unit for display": "g",
            "Requires shipping": _bool(item.get("requiresShipping", True)),
            "Fulfillment service": "manual",
        })
        rows.append(row)
    for pos, img in enumerate(images[1:], start=2):
        row = dict.fromkeys(HEADERS, "")
        row.update({"URL handle": product["handle"], "Product image URL": img["url"], "Image position": str(pos),
                    "Image alt text": img.get("altText") or ""})
        rows.append(row)
    return rows


def _legacy(row: dict) -> dict:
    out = {k: row[v] for k, v in LEGACY.items()}
    out["Variant Inventory Policy"] = out["Variant Inventory Policy"].lower()
    out["Status"] = out["Status"].lower()
    return out


def catalog_csv(store, out: TextIO, template: str = "current") -> None:
    """Write `store.products` to `out` as a Shopify product import CSV (one row per variant, then image rows)."""
    if template not in ("current", "legacy"):
        raise ValueError(f"unknown template {template!r}")
    legacy = template == "legacy"
    writer = csv.DictWriter(out, fieldnames=LEGACY_HEADERS if legacy else HEADERS, lineterminator="\n")
    writer.writeheader()
    for product in store.products:
        rows = product_rows(product)
        writer.writerows([_legacy(r) for r in rows] if legacy else rows)
