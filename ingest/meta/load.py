"""Insights rows into core_warehouse: typed NUMERIC columns plus the raw row, one idempotent upsert a page."""

import json
from datetime import datetime
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

# Meta repeats one purchase count under several action types (omni_purchase, purchase,
# offsite_conversion.fb_pixel_purchase, ...): summing them would count a sale several times. Take ONE, the
# first of these present: omni_purchase covers web, app and offline purchases; purchase is the older name.
PURCHASE_PRECEDENCE = ("omni_purchase", "purchase")

NUMBERS = ("spend", "frequency", "cpc", "cpm", "ctr", "purchases", "purchase_value", "purchase_roas")
COUNTS = ("impressions", "reach", "clicks", "link_clicks")
COLUMNS = {"date": "date", "currency": "text", **dict.fromkeys(NUMBERS, "numeric"), **dict.fromkeys(COUNTS, "bigint"),
           "attribution_setting": "text", "raw": "jsonb"}
CAMPAIGN_COLUMNS = {"campaign_id": "text", "campaign_name": "text", "objective": "text"}
TABLES = {"account": ("core_warehouse.fact_marketing_daily", ("shop_id", "account_id", "date")),
          "campaign": ("core_warehouse.fact_marketing_campaign_daily",
                       ("shop_id", "account_id", "campaign_id", "date"))}


def number(value: object) -> str | None:
    """Meta's numeric string, checked as a Decimal and kept as text (it becomes NUMERIC, never a float)."""
    if value is None or value == "":
        return None
    return str(Decimal(str(value)))


def action_value(items: list[dict] | None) -> str | None:
    """The default-attribution value of the first action type in PURCHASE_PRECEDENCE, if any."""
    by_type = {item.get("action_type"): item for item in items or []}
    for action_type in PURCHASE_PRECEDENCE:
        if action_type in by_type:
            return number(by_type[action_type].get("value"))
    return None


def fact(row: dict, *, currency: str) -> dict:
    """One insights row as the warehouse's columns (values as text for jsonb_to_recordset)."""
    out = {
        "date": row["date_start"],
        "currency": row.get("account_currency") or currency,
        "spend": number(row.get("spend")) or "0",
        "impressions": number(row.get("impressions")) or "0",
        "reach": number(row.get("reach")),
        "frequency": number(row.get("frequency")),
        "clicks": number(row.get("clicks")) or "0",
        "link_clicks": number(row.get("inline_link_clicks")) or "0",
        "cpc": number(row.get("cpc")),
        "cpm": number(row.get("cpm")),
        "ctr": number(row.get("ctr")),
        "purchases": action_value(row.get("actions")) or "0",
        "purchase_value": action_value(row.get("action_values")) or "0",
        "purchase_roas": action_value(row.get("purchase_roas")),
        "attribution_setting": row.get("attribution_setting"),
        "raw": row,
    }
    if "campaign_id" in row:
        out |= {"campaign_id": row["campaign_id"], "campaign_name": row.get("campaign_name") or "",
                "objective": row.get("objective")}
    return out


def _upsert_sql(level: str) -> str:
    table, key = TABLES[level]
    columns = COLUMNS | (CAMPAIGN_COLUMNS if level == "campaign" else {})
    names = ", ".join(columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in (*columns, "synced_at") if c not in key)
    # Rewrite a row only for a payload fetched no earlier and actually different: a second run writes nothing.
    return f"""
        INSERT INTO {table} AS f (shop_id, account_id, {names}, synced_at)
        SELECT :shop_id, :account_id, {names}, :synced_at
        FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({", ".join(f"{c} {t}" for c, t in columns.items())})
        ON CONFLICT ({", ".join(key)}) DO UPDATE SET {updates}
        WHERE f.synced_at <= EXCLUDED.synced_at AND f.raw IS DISTINCT FROM EXCLUDED.raw"""


def upsert_page(*, session: Session, shop_id: int, account_id: str, level: str, rows: list[dict], currency: str,
                synced_at: datetime) -> int:
    """Upsert one page of insights rows of `level`; return how many rows were inserted or changed."""
    facts = {}
    for row in rows:  # one row per key, or Postgres refuses to update the same row twice
        item = fact(row, currency=currency)
        facts[(item.get("campaign_id"), item["date"])] = item
    if not facts:
        return 0
    result = session.execute(text(_upsert_sql(level)), {
        "shop_id": shop_id, "account_id": account_id, "synced_at": synced_at,
        "rows": json.dumps(list(facts.values())),
    })
    return result.rowcount
