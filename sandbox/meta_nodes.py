"""Ad accounts, campaigns, ad sets and ads as Graph API nodes: every field the official SDK lists for them.

A field is answered from the generator's facts, or left out where Meta has no value to give (no spend cap, no
labels); a name the SDK does not list is refused as Meta refuses it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sandbox import meta_names
from sandbox.ads import ZERO_DECIMAL_CURRENCIES, AdAccount
from sandbox.meta_errors import param_error

# SDK class -> (field names, the fields answered when none are asked for)
NODE_FIELDS = {"AdAccount": (meta_names.ACCOUNT_FIELDS, ["account_id", "id"]),
               "Campaign": (meta_names.CAMPAIGN_FIELDS, ["id"]), "AdSet": (meta_names.ADSET_FIELDS, ["id"]),
               "Ad": (meta_names.AD_FIELDS, ["id"])}
ATTRIBUTION_SPEC = [{"event_type": "CLICK_THROUGH", "window_days": 7}, {"event_type": "VIEW_THROUGH", "window_days": 1}]


def digits(*parts: object, length: int = 15) -> str:
    """A stable numeric id derived from ``parts``."""
    return str(int(hashlib.sha256(repr(parts).encode()).hexdigest(), 16) % 10 ** (length - 1) + 10 ** (length - 1))


def business(account: AdAccount) -> dict:
    """The business that owns an account: the one behind its access token (a store's accounts share it)."""
    return {"id": digits("business", account.access_token), "name": f"{account.name.split()[0]} Business"}


def meta_time(day: date, end: bool = False) -> str:
    return f"{day.isoformat()}T{'23:59:59' if end else '00:00:00'}+0000"


def render(node_type: str, requested: list[str] | None, values: dict[str, Callable[[], object]]) -> dict:
    """The asked fields of a node (``values``: field -> its value, or None when Meta leaves it out); id always."""
    known, default = NODE_FIELDS[node_type]
    out: dict = {}
    for name in requested or default:
        if name not in known:
            raise param_error(f"Tried accessing nonexisting field ({name}) on node type ({node_type})")
        value = values[name]() if name in values else None
        if value is not None:
            out[name] = value
    out.setdefault("id", values["id"]())
    return out


def account_values(account: AdAccount, local_now: datetime | date, spent: Callable[[], Decimal]) -> dict:
    """AdAccount fields (``spent``: the account's spend to date, computed only when asked for)."""
    moment = local_now if isinstance(local_now, datetime) else datetime(local_now.year, local_now.month,
                                                                        local_now.day, 12)
    offset = moment.replace(tzinfo=ZoneInfo(account.iana_timezone)).utcoffset()
    created = account.start or moment.date()
    owner = business(account)
    minor = 1 if account.currency in ZERO_DECIMAL_CURRENCIES else 100
    funding = digits("funding", account.account_id)
    return {
        "id": lambda: account.account_id,
        "account_id": lambda: account.numeric_id,
        "name": lambda: account.name,
        "currency": lambda: account.currency,
        "timezone_name": lambda: account.iana_timezone,
        "timezone_offset_hours_utc": lambda: offset.total_seconds() / 3600 if offset else 0,
        "account_status": lambda: account.account_status,
        "disable_reason": lambda: 0,
        # Meta gives money on the account node in the currency's minor units, as strings
        "amount_spent": lambda: str(int(spent() * minor)),
        "balance": lambda: "0",
        "spend_cap": lambda: "0",
        "business": lambda: owner,
        "owner": lambda: owner["id"],
        "business_name": lambda: owner["name"],
        "end_advertiser": lambda: owner["id"],
        "end_advertiser_name": lambda: owner["name"],
        "funding_source": lambda: funding,
        "funding_source_details": lambda: {"id": funding, "display_string": "Visa *4242", "type": 1},
        "created_time": lambda: meta_time(created),
        "age": lambda: round((moment.date() - created).days + moment.hour / 24, 2),
        "is_personal": lambda: 0,
        "is_prepay_account": lambda: False,
        "is_tax_id_required": lambda: False,
        "has_migrated_permissions": lambda: True,
        "attribution_spec": lambda: ATTRIBUTION_SPEC,
        "is_attribution_spec_system_default": lambda: True,
        "user_tasks": lambda: ["DRAFT", "ANALYZE", "ADVERTISE", "MANAGE"],
        "capabilities": lambda: [],
        "min_daily_budget": lambda: minor,
        "min_campaign_group_spend_cap": lambda: str(100 * minor),
        "tax_id_status": lambda: 0,
        "fb_entity": lambda: 85,
    }


def campaign_values(account: AdAccount, c: dict) -> dict:
    label = c["name"].split(" | ")[0]
    updated = c.get("stop") or c["start"]
    return {
        "id": lambda: c["id"],
        "name": lambda: c["name"],
        "account_id": lambda: account.numeric_id,
        "objective": lambda: c["objective"],
        "status": lambda: c["status"],
        "configured_status": lambda: c["status"],
        "effective_status": lambda: c["status"],
        "start_time": lambda: meta_time(c["start"]),
        "stop_time": lambda: meta_time(c["stop"], end=True) if c.get("stop") else None,
        "created_time": lambda: meta_time(c["start"] - timedelta(days=1)),
        "updated_time": lambda: meta_time(updated),
        "buying_type": lambda: "AUCTION",
        "bid_strategy": lambda: "LOWEST_COST_WITHOUT_CAP",
        "budget_remaining": lambda: "0",
        "lifetime_budget": lambda: "0",
        "adlabels": lambda: [{"id": digits("label", account.account_id, label), "name": label}],
        "special_ad_categories": lambda: [],
        "special_ad_category": lambda: "NONE",
        "special_ad_category_country": lambda: [],
        "pacing_type": lambda: ["standard"],
        "can_use_spend_cap": lambda: True,
        "can_create_brand_lift_study": lambda: False,
        "has_secondary_skadnetwork_reporting": lambda: False,
        "is_skadnetwork_attribution": lambda: False,
        "is_budget_schedule_enabled": lambda: False,
        "budget_rebalance_flag": lambda: False,
        "smart_promotion_type": lambda: "GUIDED_CREATION",
        "source_campaign_id": lambda: "0",
        "topline_id": lambda: "0",
    }


def adset_values(account: AdAccount, c: dict, s: dict) -> dict:
    return {
        "id": lambda: s["id"],
        "name": lambda: s["name"],
        "account_id": lambda: account.numeric_id,
        "campaign_id": lambda: c["id"],
        "campaign": lambda: {"id": c["id"]},
        "status": lambda: c["status"],
        "configured_status": lambda: c["status"],
        "effective_status": lambda: c["status"],
        "optimization_goal": lambda: s["optimization_goal"],
        "billing_event": lambda: "IMPRESSIONS",
        "bid_strategy": lambda: "LOWEST_COST_WITHOUT_CAP",
        "destination_type": lambda: "WEBSITE",
        "attribution_spec": lambda: ATTRIBUTION_SPEC,
        "start_time": lambda: meta_time(c["start"]),
        "end_time": lambda: meta_time(c["stop"], end=True) if c.get("stop") else None,
        "created_time": lambda: meta_time(c["start"] - timedelta(days=1)),
        "updated_time": lambda: meta_time(c.get("stop") or c["start"]),
        "budget_remaining": lambda: "0",
        "lifetime_budget": lambda: "0",
        "pacing_type": lambda: ["standard"],
        "is_dynamic_creative": lambda: False,
        "is_budget_schedule_enabled": lambda: False,
        "targeting": lambda: {"age_min": 18, "age_max": 65, "geo_locations": {"location_types": ["home", "recent"]}},
    }


def ad_values(account: AdAccount, c: dict, s: dict, a: dict) -> dict:
    return {
        "id": lambda: a["id"],
        "name": lambda: a["name"],
        "account_id": lambda: account.numeric_id,
        "campaign_id": lambda: c["id"],
        "adset_id": lambda: s["id"],
        "campaign": lambda: {"id": c["id"]},
        "adset": lambda: {"id": s["id"]},
        "creative": lambda: {"id": a["creative_id"]},
        "status": lambda: c["status"],
        "configured_status": lambda: c["status"],
        "effective_status": lambda: c["status"],
        "created_time": lambda: meta_time(c["start"] - timedelta(days=1)),
        "updated_time": lambda: meta_time(c.get("stop") or c["start"]),
        "bid_type": lambda: "ABSOLUTE_OCPM",
        "engagement_audience": lambda: False,
        "special_ad_categories": lambda: [],
    }
