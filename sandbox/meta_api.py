"""Meta Graph API v26 (Marketing API insights) as a Flask blueprint, over sandbox.ads accounts.

Routes (mounted by the server at url_prefix "/meta"):
  GET  /<version>/me, /<version>/me/adaccounts
  GET  /<version>/act_<id>                       ad account node (fields=name,currency,timezone_name,...)
  GET  /<version>/act_<id>/campaigns             campaigns edge (paged)
  GET  /<version>/act_<id>/insights              sync insights (paged)
  POST /<version>/act_<id>/insights              async report run -> {"report_run_id"}
  GET  /<version>/<report_run_id>                AdReportRun status; advances one step per poll
  GET  /<version>/<report_run_id>/insights       results of a completed run (paged)
  GET|POST|DELETE /_admin/faults                 inspect / set / clear MetaFaults (JSON)
Every response, errors included, carries X-Business-Use-Case-Usage, X-Ad-Account-Usage,
X-FB-Ads-Insights-Throttle and X-App-Usage.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, request

from sandbox.ads import WINDOWS, AdAccount

SUPPORTED_VERSIONS = ("v25.0", "v26.0")
LATEST_VERSION = "v26.0"
DEFAULT_LIMIT = 25
RETENTION_MONTHS = 37
USAGE_CAP = 60          # utilisation (%) never exceeds this without a "usage" or "throttle" fault
APP_USER_ID = "10000000000000001"

INSIGHTS_FIELDS = (
    "account_currency", "account_id", "account_name", "action_values", "actions", "attribution_setting",
    "campaign_id", "campaign_name", "clicks", "cpc", "cpm", "ctr", "date_start", "date_stop", "frequency",
    "impressions", "inline_link_clicks", "objective", "purchase_roas", "reach", "spend", "website_purchase_roas",
)
ACCOUNT_FIELDS = ("id", "account_id", "name", "currency", "timezone_name", "timezone_offset_hours_utc",
                  "account_status", "disable_reason")
CAMPAIGN_FIELDS = ("id", "name", "objective", "status", "effective_status", "account_id", "start_time", "stop_time")
VALID_WINDOWS = ("1d_view", "7d_view", "28d_view", "1d_click", "7d_click", "28d_click", "1d_ev", "dda", "default")
DEPRECATED_WINDOWS = ("7d_view", "28d_view", "1d_ev", "dda", "default")   # accepted, no keys returned
# The same purchase count is reported under each of these action types (never sum them).
PURCHASE_TYPES = ("offsite_conversion.fb_pixel_purchase", "omni_purchase", "onsite_web_app_purchase",
                  "onsite_web_purchase", "purchase", "web_in_store_purchase")
OTHER_ACTIONS = ("add_to_cart", "initiate_checkout", "landing_page_view", "link_click", "view_content")

ASYNC_SCHEDULE = (("Job Not Started", 0), ("Job Started", 0), ("Job Running", 42), ("Job Running", 100),
                  ("Job Completed", 100))
ASYNC_FAIL_SCHEDULE = (("Job Not Started", 0), ("Job Started", 0), ("Job Running", 23), ("Job Failed", 23))

THROTTLES = {
    4: (1504022, "(#4) Application request limit reached"),
    17: (2446079, "(#17) User request limit reached"),
    613: (1487742, "(#613) There have been too many calls from this ad-account. Please wait a bit and try again."),
    80000: (2446079, "(#80000) There have been too many calls from this ad-account. Wait a bit and try again. For "
                     "more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting."),
    80004: (2446079, "(#80004) There have been too many calls to this ad-account. Wait a bit and try again. For "
                     "more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting"
                     "#ads-management."),
}
REDUCE_DATA_MESSAGE = "Please reduce the amount of data you're asking for, then retry your request"


class MetaError(Exception):
    def __init__(self, status: int, code: int, message: str, *, type_: str = "OAuthException",
                 subcode: int | None = None, transient: bool = False, **extra: object):
        super().__init__(message)
        self.status, self.code, self.message, self.type = status, code, message, type_
        self.subcode, self.transient, self.extra = subcode, transient, extra


def _param_error(message: str) -> MetaError:
    return MetaError(400, 100, f"(#100) {message}")


def _no_object(node: str) -> MetaError:
    return MetaError(400, 100, f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded due "
                     "to missing permissions, or does not support this operation. Please read the Graph API "
                     "documentation at https://developers.facebook.com/docs/graph-api",
                     type_="GraphMethodException", subcode=33)


# ------------------------------------------------------------------------------------------------------
# Faults
# ------------------------------------------------------------------------------------------------------
@dataclass
class _Rule:
    kind: str
    remaining: int | None = None    # next N applicable requests; None = until cleared
    rate: float | None = None       # probability per applicable request (seeded RNG)
    code: int | None = None         # throttle code
    regain_minutes: int = 1         # throttle: estimated_time_to_regain_access
    value: float = 0.0              # slow: seconds; usage: utilisation floor (%)


class MetaFaults:
    """Per-account fault knobs. Keys are ad account ids ("act_123"; "123" is accepted; "*" = every account).

    set(account_id, kind, value=1, *, code=None, regain_minutes=1, count=None):
      error kinds ("throttle", "reduce_data", "transient", "unknown", "expired_token", "missing_permission",
      "async_fail"):
        int value = the next N applicable requests fail; float value in (0, 1] = that share of them (seeded RNG).
        "reduce_data" applies to insights reads only; "async_fail" makes the next N report runs POSTed end in
        "Job Failed". throttle ``code`` is one of 4, 17 (default), 613, 80000, 80004.
      "slow": value = seconds slept before each request (``count`` limits it to the next N requests).
      "usage": value = utilisation floor in % reported by the usage headers (no error).
    """

    ERROR_KINDS = ("throttle", "reduce_data", "transient", "unknown", "expired_token", "missing_permission",
                   "async_fail")
    KINDS = (*ERROR_KINDS, "slow", "usage")

    def __init__(self, seed: int = 0, sleep: Callable[[float], None] = time.sleep):
        self._rules: dict[str, dict[str, _Rule]] = {}
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.sleep = sleep

    @staticmethod
    def _key(account_id: str) -> str:
        return account_id if account_id == "*" or account_id.startswith("act_") else f"act_{account_id}"

    def set(self, account_id: str, kind: str, value: float = 1, *, code: int | None = None,
            regain_minutes: int = 1, count: int | None = None) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"unknown Meta fault kind {kind!r}; expected one of {self.KINDS}")
        if kind == "throttle" and code is not None and code not in THROTTLES:
            raise ValueError(f"throttle code must be one of {sorted(THROTTLES)}")
        rule = _Rule(kind, code=code, regain_minutes=regain_minutes)
        if kind in ("slow", "usage"):
            rule.value, rule.remaining = float(value), count
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("value must be an int count or a float rate")
        elif isinstance(value, int):
            rule.remaining = value
        else:
            rule.rate = float(value)
        with self._lock:
            self._rules.setdefault(self._key(account_id), {})[kind] = rule

    def clear(self, account_id: str | None = None, kind: str | None = None) -> None:
        with self._lock:
            keys = list(self._rules) if account_id is None else [self._key(account_id)]
            for key in keys:
                if kind is None:
                    self._rules.pop(key, None)
                else:
                    self._rules.get(key, {}).pop(kind, None)

    def snapshot(self) -> list[dict]:
        with self._lock:
            return [{"account_id": acct, "kind": r.kind, "remaining": r.remaining, "rate": r.rate, "code": r.code,
                     "regain_minutes": r.regain_minutes, "value": r.value}
                    for acct, rules in sorted(self._rules.items()) for r in rules.values()]

    def configure(self, spec: dict) -> None:
        """set() from a JSON object (the admin endpoint's body)."""
        self.set(str(spec["account_id"]), str(spec["kind"]), spec.get("value", 1), code=spec.get("code"),
                 regain_minutes=int(spec.get("regain_minutes", 1)), count=spec.get("count"))

    def take(self, account_id: str, kind: str) -> _Rule | None:
        """Consume one application of ``kind`` for this account; the rule if it fires now."""
        with self._lock:
            for key in (self._key(account_id), "*"):
                rule = self._rules.get(key, {}).get(kind)
                if rule is None:
                    continue
                if rule.remaining is not None:
                    if rule.remaining <= 0:
                        continue
                    rule.remaining -= 1
                    return rule
                if rule.rate is not None:
                    if self._rng.random() < rule.rate:
                        return rule
                    continue
                return rule
        return None

    def peek(self, account_id: str, kind: str) -> _Rule | None:
        with self._lock:
            for key in (self._key(account_id), "*"):
                rule = self._rules.get(key, {}).get(kind)
                if rule is not None and (rule.remaining is None or rule.remaining > 0):
                    return rule
        return None


# ------------------------------------------------------------------------------------------------------
# Formatting helpers
# ------------------------------------------------------------------------------------------------------
def _num(value: Decimal | int) -> str:
    """Meta's numeric strings: "14.35", "5339.5", "100"."""
    if isinstance(value, int):
        return str(value)
    text = format(value.normalize(), "f")
    return text


def _ratio(value: Decimal) -> str:
    text = format(value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP), "f").rstrip("0").rstrip(".")
    return text or "0"


def _cursor(index: int) -> str:
    return base64.b64encode(str(index).encode()).decode().replace("=", "ZD")


def _uncursor(cursor: str) -> int:
    for pads in (0, 1, 2):
        raw = cursor[: len(cursor) - 2 * pads] + "=" * pads if pads else cursor
        if pads and not cursor.endswith("ZD" * pads):
            continue
        try:
            text = base64.b64decode(raw, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            continue
        if text.isdigit() and _cursor(int(text)) == cursor:
            return int(text)
    raise MetaError(400, 2642, "(#2642) Invalid cursors values")


def _add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _list_param(raw: str | None, name: str) -> list[str] | None:
    if raw is None or raw == "":
        return None
    raw = raw.strip()
    if raw.startswith("["):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise _param_error(f"Param {name} must be an array.") from exc
        if not isinstance(value, list):
            raise _param_error(f"Param {name} must be an array.")
        return [str(v) for v in value]
    return [part.strip() for part in raw.split(",") if part.strip()]


# ------------------------------------------------------------------------------------------------------
# Insights query
# ------------------------------------------------------------------------------------------------------
@dataclass
class _Query:
    level: str
    fields: list[str]
    since: date
    until: date
    increment: int | str           # int days, "all_days" or "monthly"
    windows: list[str]
    filtering: list[dict]


_PRESET_DAYS = {"last_3d": 3, "last_7d": 7, "last_14d": 14, "last_28d": 28, "last_30d": 30, "last_90d": 90}


def _parse_date(text: object, name: str) -> date:
    try:
        return date.fromisoformat(str(text))
    except ValueError as exc:
        raise _param_error(f"Param time_range[{name}] must be a date in the format YYYY-MM-DD") from exc


def _parse_query(params: dict[str, str], today: date) -> _Query:
    level = params.get("level") or "account"
    if level not in ("account", "campaign"):
        if level in ("adset", "ad"):
            raise _param_error(f"level={level} is not available in this sandbox; use account or campaign")
        raise _param_error("level must be one of the following values: ad, adset, campaign, account")
    fields = _list_param(params.get("fields"), "fields") or ["impressions", "spend"]
    for i, name in enumerate(fields):
        if name not in INSIGHTS_FIELDS:
            raise _param_error(f"fields[{i}] must be one of the following values: {', '.join(INSIGHTS_FIELDS)}")
    since = until = None
    raw_range = params.get("time_range")
    if raw_range is None and ("time_range[since]" in params or "time_range[until]" in params):
        raw_range = json.dumps({"since": params.get("time_range[since]"), "until": params.get("time_range[until]")})
    if raw_range:
        try:
            rng = json.loads(raw_range)
        except json.JSONDecodeError as exc:
            raise _param_error("Param time_range must be a JSON object with since and until") from exc
        if not isinstance(rng, dict) or "since" not in rng or "until" not in rng:
            raise _param_error("Param time_range must be a JSON object with since and until")
        since, until = _parse_date(rng["since"], "since"), _parse_date(rng["until"], "until")
    else:
        preset = params.get("date_preset") or "last_30d"
        if preset == "today":
            since = until = today
        elif preset == "yesterday":
            since = until = today - timedelta(days=1)
        elif preset in _PRESET_DAYS:
            since, until = today - timedelta(days=_PRESET_DAYS[preset]), today - timedelta(days=1)
        elif preset == "this_month":
            since, until = today.replace(day=1), today
        elif preset == "maximum":
            since, until = _add_months(today, -RETENTION_MONTHS), today
        else:
            raise _param_error(f"date_preset {preset} is not available in this sandbox")
    if since > until:
        raise _param_error("Param time_range: since must be on or before until")
    if since < _add_months(today, -RETENTION_MONTHS):
        raise MetaError(400, 3018, "(#3018) The start date of the time range cannot be beyond 37 months from the "
                        "current date")
    raw_inc = params.get("time_increment") or "all_days"
    if raw_inc in ("all_days", "monthly"):
        increment: int | str = raw_inc
    elif raw_inc.isdigit() and 1 <= int(raw_inc) <= 90:
        increment = int(raw_inc)
    else:
        raise _param_error("Param time_increment must be an integer from 1 to 90, monthly or all_days")
    windows = _list_param(params.get("action_attribution_windows"), "action_attribution_windows") or []
    for i, window in enumerate(windows):
        if window not in VALID_WINDOWS:
            raise _param_error(f"action_attribution_windows[{i}] must be one of the following values: "
                               f"{', '.join(VALID_WINDOWS)}")
    filtering = []
    if params.get("filtering"):
        try:
            filtering = json.loads(params["filtering"])
        except json.JSONDecodeError as exc:
            raise _param_error("Param filtering must be an array") from exc
        if not isinstance(filtering, list) or not all(isinstance(f, dict) for f in filtering):
            raise _param_error("Param filtering must be an array of {field, operator, value}")
        for f in filtering:
            _check_filter(f)
    return _Query(level, fields, since, until, increment, windows, filtering)


_CAMPAIGN_FILTER_FIELDS = {"campaign.id": "id", "campaign.name": "name", "campaign.objective": "objective",
                           "campaign.effective_status": "status", "campaign.status": "status"}
_METRIC_FILTER_FIELDS = ("spend", "impressions", "clicks", "reach", "inline_link_clicks")
_OPERATORS = ("EQUAL", "NOT_EQUAL", "IN", "NOT_IN", "CONTAIN", "NOT_CONTAIN", "GREATER_THAN",
              "GREATER_THAN_OR_EQUAL", "LESS_THAN", "LESS_THAN_OR_EQUAL")


def _check_filter(f: dict) -> None:
    name, op = f.get("field"), f.get("operator")
    if name not in _CAMPAIGN_FILTER_FIELDS and name not in _METRIC_FILTER_FIELDS:
        raise _param_error(f"Filtering field {name} is invalid.")
    if op not in _OPERATORS:
        raise _param_error(f"Filtering operator {op} is invalid.")
    if "value" not in f:
        raise _param_error("Filtering value is missing.")


def _matches(actual: object, op: str, value: object) -> bool:
    if op in ("IN", "NOT_IN"):
        values = value if isinstance(value, list) else [value]
        hit = str(actual) in [str(v) for v in values]
        return hit if op == "IN" else not hit
    if op in ("CONTAIN", "NOT_CONTAIN"):
        hit = str(value).lower() in str(actual).lower()
        return hit if op == "CONTAIN" else not hit
    if op in ("EQUAL", "NOT_EQUAL"):
        hit = str(actual) == str(value)
        return hit if op == "EQUAL" else not hit
    a, v = Decimal(str(actual)), Decimal(str(value))
    return {"GREATER_THAN": a > v, "GREATER_THAN_OR_EQUAL": a >= v, "LESS_THAN": a < v,
            "LESS_THAN_OR_EQUAL": a <= v}[op]


def _buckets(q: _Query) -> list[tuple[date, date]]:
    out, start = [], q.since
    while start <= q.until:
        if q.increment == "all_days":
            stop = q.until
        elif q.increment == "monthly":
            stop = min(q.until, start.replace(day=calendar.monthrange(start.year, start.month)[1]))
        else:
            stop = min(q.until, start + timedelta(days=int(q.increment) - 1))
        out.append((start, stop))
        start = stop + timedelta(days=1)
    return out


def insight_rows(account: AdAccount, q: _Query, as_of: date) -> list[dict]:
    """Rendered insights rows (Meta's JSON shape) for a parsed query, as reported on ``as_of``."""
    campaign_filters = [f for f in q.filtering if f["field"] in _CAMPAIGN_FILTER_FIELDS]
    metric_filters = [f for f in q.filtering if f["field"] in _METRIC_FILTER_FIELDS]
    campaigns = {c["id"]: c for c in account.campaigns}
    keep = {cid for cid, c in campaigns.items()
            if all(_matches(c[_CAMPAIGN_FILTER_FIELDS[f["field"]]], f["operator"], f["value"])
                   for f in campaign_filters)}
    rows = []
    for start, stop in _buckets(q):
        groups: dict[str, list[dict]] = {}
        day = start
        while day <= stop:
            for stat in account.daily_stats(day, as_of=as_of):
                if stat["campaign_id"] in keep:
                    key = stat["campaign_id"] if q.level == "campaign" else ""
                    groups.setdefault(key, []).append(stat)
            day += timedelta(days=1)
        for key in sorted(groups):
            agg = _aggregate(groups[key])
            if any(not _matches(agg[f["field"]], f["operator"], f["value"]) for f in metric_filters):
                continue
            rows.append(_render(account, q, agg, campaigns.get(key), start, stop))
    return rows


def _aggregate(stats: list[dict]) -> dict:
    agg: dict = {
        "spend": sum((s["spend"] for s in stats), Decimal("0")),
        "impressions": sum(s["impressions"] for s in stats),
        "clicks": sum(s["clicks"] for s in stats),
        "inline_link_clicks": sum(s["inline_link_clicks"] for s in stats),
        "purchases": {w: sum(s["purchases_by_window"][w] for s in stats) for w in WINDOWS},
        "values": {w: sum((s["purchase_value_by_window"][w] for s in stats), Decimal("0")) for w in WINDOWS},
        "other": {k: sum(s["other_actions"][k] for s in stats) for k in stats[0]["other_actions"]},
    }
    reaches = [s["reach"] for s in stats]
    # reach is deduplicated across days/campaigns: estimate it below the plain sum
    agg["reach"] = max(max(reaches), round(sum(reaches) / (1 + 0.1 * (len(reaches) - 1))))
    agg["purchases"]["value"] = agg["purchases"]["7d_click"] + agg["purchases"]["1d_view"]
    agg["values"]["value"] = agg["values"]["7d_click"] + agg["values"]["1d_view"]
    return agg


def _window_keys(q: _Query) -> list[str]:
    return [w for w in q.windows if w not in DEPRECATED_WINDOWS]


def _render(account: AdAccount, q: _Query, agg: dict, campaign: dict | None, start: date, stop: date) -> dict:
    windows = _window_keys(q)
    spend, impressions, clicks, reach = agg["spend"], agg["impressions"], agg["clicks"], agg["reach"]
    row: dict = {}
    for name in q.fields:
        if name in ("date_start", "date_stop"):
            continue
        if name in ("campaign_id", "campaign_name", "objective") and campaign is None:
            continue
        if name == "account_id":
            row[name] = account.numeric_id
        elif name == "account_name":
            row[name] = account.name
        elif name == "account_currency":
            row[name] = account.currency
        elif name == "campaign_id":
            row[name] = campaign["id"]
        elif name == "campaign_name":
            row[name] = campaign["name"]
        elif name == "objective":
            row[name] = campaign["objective"]
        elif name == "attribution_setting":
            row[name] = "7d_click_1d_view"
        elif name == "spend":
            row[name] = _num(spend)
        elif name in ("impressions", "clicks", "reach", "inline_link_clicks"):
            row[name] = str(agg[name])
        elif name == "frequency":
            if reach:
                row[name] = _ratio(Decimal(impressions) / Decimal(reach))
        elif name == "cpc":
            if clicks:
                row[name] = _ratio(spend / clicks)
        elif name == "cpm":
            if impressions:
                row[name] = _ratio(spend * 1000 / impressions)
        elif name == "ctr":
            if impressions:
                row[name] = _ratio(Decimal(clicks) * 100 / impressions)
        elif name == "actions":
            actions = _actions(agg, windows)
            if actions:
                row[name] = actions
        elif name == "action_values":
            if agg["purchases"]["value"] or any(agg["purchases"][w] for w in windows):
                row[name] = [_stat(t, agg["values"], windows, _num) for t in PURCHASE_TYPES]
        elif name in ("purchase_roas", "website_purchase_roas") and spend and agg["values"]["value"]:
            roas = {k: v / spend for k, v in agg["values"].items()}
            kind = "omni_purchase" if name == "purchase_roas" else "offsite_conversion.fb_pixel_purchase"
            row[name] = [_stat(kind, roas, windows, _ratio)]
    row["date_start"] = start.isoformat()
    row["date_stop"] = stop.isoformat()
    return row


def _stat(action_type: str, values: dict, windows: list[str], fmt: Callable) -> dict:
    out = {"action_type": action_type, "value": fmt(values["value"])}
    for w in windows:
        out[w] = fmt(values[w])
    return out


def _actions(agg: dict, windows: list[str]) -> list[dict]:
    out = []
    other = dict(agg["other"], link_click=agg["inline_link_clicks"])
    for name in OTHER_ACTIONS:
        n = other.get(name, 0)
        if n:
            item = {"action_type": name, "value": str(n)}
            for w in windows:
                if w.endswith("_click"):       # on-Meta actions count in the click windows only
                    item[w] = str(n)
            out.append(item)
    if agg["purchases"]["value"] or any(agg["purchases"][w] for w in windows):
        out.extend(_stat(t, agg["purchases"], windows, str) for t in PURCHASE_TYPES)
    out.sort(key=lambda a: a["action_type"])
    return out


# ------------------------------------------------------------------------------------------------------
# Blueprint
# ------------------------------------------------------------------------------------------------------
@dataclass
class _Run:
    id: str
    account_id: str
    rows: list[dict]
    fail: bool
    time_ref: int
    since: date
    until: date
    polls: int = 0


class _State:
    def __init__(self, accounts: dict[str, AdAccount], today: Callable[[], date], faults: MetaFaults):
        self.accounts = {a.numeric_id: a for a in accounts.values()}
        self.today = today
        self.faults = faults
        self.runs: dict[str, _Run] = {}
        self.calls: dict[str, int] = {}
        self.app_calls = 0
        self.counter = 0
        self.lock = threading.Lock()

    def add_account(self, account: AdAccount) -> None:
        """Serve another account from now on (e.g. a store generated after the blueprint was built)."""
        self.accounts[account.numeric_id] = account

    def local_now(self, account: AdAccount) -> date:
        """Account-local 'now': a date, or a naive local datetime when ``today()`` gives a datetime."""
        now = self.today()
        if isinstance(now, datetime):
            if now.tzinfo is not None:
                now = now.astimezone(ZoneInfo(account.iana_timezone)).replace(tzinfo=None)
            return now
        return now

    def trace_id(self) -> str:
        with self.lock:
            self.counter += 1
            n = self.counter
        return base64.b64encode(hashlib.sha256(f"fbtrace{n}".encode()).digest()).decode()[:23].replace("+", "x")


def _usage_headers(state: _State, account: AdAccount | None, buc_type: str, throttle: _Rule | None) -> dict:
    app_pct = min(USAGE_CAP, state.app_calls // 10)
    headers = {"X-App-Usage": json.dumps({"call_count": app_pct, "total_cputime": app_pct // 2,
                                          "total_time": app_pct // 2}),
               "facebook-api-version": LATEST_VERSION}
    if account is None:
        headers["X-Business-Use-Case-Usage"] = "{}"
        headers["X-Ad-Account-Usage"] = json.dumps(
            {"acc_id_util_pct": 0, "reset_time_duration": 0, "ads_api_access_tier": "standard_access"})
        headers["X-FB-Ads-Insights-Throttle"] = json.dumps(
            {"app_id_util_pct": app_pct, "acc_id_util_pct": 0, "ads_api_access_tier": "standard_access"})
        return headers
    calls = state.calls.get(account.numeric_id, 0)
    pct = min(USAGE_CAP, calls)
    floor = state.faults.peek(account.account_id, "usage")
    if floor is not None:
        pct = max(pct, int(floor.value))
    regain = 0
    if throttle is not None:
        pct, regain = 100, throttle.regain_minutes
    headers["X-Business-Use-Case-Usage"] = json.dumps({account.numeric_id: [{
        "type": buc_type, "call_count": pct, "total_cputime": max(1, pct * 2 // 5) if pct else 0,
        "total_time": max(1, pct // 2) if pct else 0, "estimated_time_to_regain_access": regain,
        "ads_api_access_tier": "standard_access"}]})
    headers["X-Ad-Account-Usage"] = json.dumps({"acc_id_util_pct": pct, "reset_time_duration": regain * 60 or
                                                (300 if pct else 0), "ads_api_access_tier": "standard_access"})
    headers["X-FB-Ads-Insights-Throttle"] = json.dumps(
        {"app_id_util_pct": 100 if throttle is not None and throttle.code == 4 else app_pct,
         "acc_id_util_pct": pct, "ads_api_access_tier": "standard_access"})
    return headers


def _json(payload: object, status: int, headers: dict) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json", headers=headers)


def _token() -> str | None:
    auth = request.headers.get("Authorization", "")
    for prefix in ("Bearer ", "OAuth "):
        if auth.startswith(prefix):
            return auth[len(prefix):].strip()
    return request.values.get("access_token")


def _page(rows: list[dict], params: dict[str, str]) -> dict:
    limit_raw = params.get("limit") or str(DEFAULT_LIMIT)
    if not limit_raw.isdigit() or int(limit_raw) < 1:
        raise _param_error("Param limit must be a positive integer")
    limit = int(limit_raw)
    if params.get("after"):
        start = _uncursor(params["after"]) + 1
    elif params.get("before"):
        start = max(0, _uncursor(params["before"]) - limit)
    else:
        start = 0
    page = rows[start:start + limit]
    out: dict = {"data": page}
    if not page:
        return out
    first, last = start, start + len(page) - 1
    out["paging"] = {"cursors": {"before": _cursor(first), "after": _cursor(last)}}
    base = {k: v for k, v in params.items() if k not in ("after", "before")}
    base["limit"] = str(limit)
    if request.values.get("access_token"):      # Meta's paging URLs carry the token they were called with
        base["access_token"] = request.values["access_token"]
    url = request.base_url
    if first > 0:
        out["paging"]["previous"] = f"{url}?{urlencode({**base, 'before': _cursor(first)})}"
    if last < len(rows) - 1:
        out["paging"]["next"] = f"{url}?{urlencode({**base, 'after': _cursor(last)})}"
    return out


def blueprint(accounts: dict[str, AdAccount], *, today: Callable[[], date], faults: MetaFaults) -> Blueprint:
    """The Graph API over ``accounts`` (any keys; matched by AdAccount.account_id).

    ``today()`` is read on every request: a date (account-local "today", same date for every account; the current
    day counts as half elapsed) or a datetime (aware: converted to each account's timezone; naive: account-local
    time) for an exact partial day. ``faults`` is consulted on every request and may be changed at any time.
    """
    state = _State(accounts, today, faults)
    bp = Blueprint("meta_api", __name__)

    def handle(version: str, node: str, edge: str | None) -> Response:
        account: AdAccount | None = None
        buc_type = "ads_insights" if edge == "insights" else "ads_management"
        throttle: _Rule | None = None
        with state.lock:
            state.app_calls += 1
        try:
            run: _Run | None = None
            if node.startswith("act_"):
                account = state.accounts.get(node[4:])
            elif node.isdigit():
                run = state.runs.get(node)
                if run is not None:
                    account = state.accounts[run.account_id]
                    buc_type = "ads_insights"
            if account is not None:
                with state.lock:
                    state.calls[account.numeric_id] = state.calls.get(account.numeric_id, 0) + 1
                slow = faults.take(account.account_id, "slow")
                if slow is not None and slow.value > 0:
                    faults.sleep(slow.value)
            if not re.fullmatch(r"v\d+\.\d+", version):
                raise MetaError(400, 2500, "Unknown path components: /" + "/".join(filter(None, (version, node, edge))))
            if version not in SUPPORTED_VERSIONS:
                raise MetaError(400, 2635, f"(#2635) You are calling a deprecated version of the Ads API. Please "
                                f"update to the latest version: {LATEST_VERSION}.")
            token = _token()
            if not token:
                raise MetaError(400, 104, "An access token is required to request this resource.")
            valid = [a for a in state.accounts.values() if a.access_token == token]
            if not valid:
                raise MetaError(400, 190, "Invalid OAuth access token - Cannot parse access token")
            if node == "me":
                return _json(_me(valid, edge), 200, _usage_headers(state, None, buc_type, None))
            if account is None or account.access_token != token:
                raise _no_object(node)
            acct_id = account.account_id
            if faults.take(acct_id, "expired_token"):
                local = state.local_now(account)
                raise MetaError(400, 190, f"Error validating access token: Session has expired on "
                                f"{(local - timedelta(days=1)):%A, %d-%b-%y} 09:00:00 PST. The current time is "
                                f"{local:%A, %d-%b-%y} 10:00:00 PST.", subcode=463)
            if faults.take(acct_id, "missing_permission"):
                raise MetaError(400, 200, "(#200) Ad account owner has NOT grant ads_management or ads_read permission")
            throttle = faults.take(acct_id, "throttle")
            if throttle is not None:
                code = throttle.code or 17
                subcode, message = THROTTLES[code]
                raise MetaError(400, code, message, subcode=subcode, transient=True)
            if faults.take(acct_id, "transient"):
                raise MetaError(503, 2, "(#2) Service temporarily unavailable", transient=True)
            if faults.take(acct_id, "unknown"):
                raise MetaError(500, 1, "An unknown error occurred", subcode=99)
            payload = _dispatch(state, account, run, edge)
            return _json(payload, 200, _usage_headers(state, account, buc_type, None))
        except MetaError as err:
            body = {"message": err.message, "type": err.type, "code": err.code}
            if err.subcode is not None:
                body["error_subcode"] = err.subcode
            body.update(err.extra)
            body["is_transient"] = err.transient
            body["fbtrace_id"] = state.trace_id()
            return _json({"error": body}, err.status, _usage_headers(state, account, buc_type, throttle))

    def _dispatch(state: _State, account: AdAccount, run: _Run | None, edge: str | None) -> dict:
        params = {k: v for k, v in request.values.items() if k != "access_token"}
        if run is not None:
            if edge is None and request.method == "GET":
                return _run_status(run)
            if edge == "insights" and request.method == "GET":
                if faults.take(account.account_id, "reduce_data"):
                    raise MetaError(500, 1, REDUCE_DATA_MESSAGE)
                if run.fail and run.polls >= len(ASYNC_FAIL_SCHEDULE):
                    raise MetaError(400, -2, "Generating the report failed. Try again later.", subcode=2490547)
                if run.fail or run.polls < len(ASYNC_SCHEDULE):
                    raise _param_error("The report is not ready yet: poll the AdReportRun until its async_status is "
                                       "Job Completed")
                return _page(run.rows, params)
            raise _no_object(run.id)
        if edge is None and request.method == "GET":
            return _account_node(state, account, params)
        if edge == "campaigns" and request.method == "GET":
            return _campaigns(account, params)
        if edge == "insights":
            local = state.local_now(account)
            local_day = local.date() if isinstance(local, datetime) else local
            q = _parse_query(params, local_day)
            if request.method == "GET":
                if faults.take(account.account_id, "reduce_data"):
                    raise MetaError(500, 1, REDUCE_DATA_MESSAGE)
                return _page(insight_rows(account, q, local), params)
            if request.method == "POST":
                fail = faults.take(account.account_id, "async_fail") is not None
                rows = insight_rows(account, q, local)
                with state.lock:
                    run_id = str(6_040_000_000_000_000 + len(state.runs) * 7919 + 13)
                    ref = datetime(local_day.year, local_day.month, local_day.day, tzinfo=UTC).timestamp()
                    state.runs[run_id] = _Run(run_id, account.numeric_id, rows, fail, int(ref), q.since, q.until)
                return {"report_run_id": run_id}
        raise _no_object(account.account_id if edge is None else f"{account.account_id}/{edge}")

    def _run_status(run: _Run) -> dict:
        schedule = ASYNC_FAIL_SCHEDULE if run.fail else ASYNC_SCHEDULE
        with state.lock:
            run.polls += 1
            status, pct = schedule[min(run.polls, len(schedule)) - 1]
        out = {"id": run.id, "account_id": run.account_id, "time_ref": run.time_ref, "async_status": status,
               "async_percent_completion": pct, "date_start": run.since.isoformat(),
               "date_stop": run.until.isoformat(), "is_running": status in ("Job Started", "Job Running")}
        if status == "Job Completed":
            out["time_completed"] = run.time_ref + 42
        if status == "Job Failed":
            out.update({"error_code": -2, "error_message": "Generating the report failed. Try again later.",
                        "error_subcode": 2490547, "error_user_title": "Report Failed",
                        "error_user_msg": "Generating the report failed. Try again later."})
        return out

    def _account_node(state: _State, account: AdAccount, params: dict) -> dict:
        fields = _list_param(params.get("fields"), "fields") or ["account_id", "id"]
        local = state.local_now(account)
        out: dict = {}
        for name in fields:
            if name not in ACCOUNT_FIELDS:
                raise _param_error(f"Tried accessing nonexisting field ({name}) on node type (AdAccount)")
            if name == "id":
                out[name] = account.account_id
            elif name == "account_id":
                out[name] = account.numeric_id
            elif name == "name":
                out[name] = account.name
            elif name == "currency":
                out[name] = account.currency
            elif name == "timezone_name":
                out[name] = account.iana_timezone
            elif name == "timezone_offset_hours_utc":
                moment = local if isinstance(local, datetime) else datetime(local.year, local.month, local.day, 12)
                offset = moment.replace(tzinfo=ZoneInfo(account.iana_timezone)).utcoffset()
                out[name] = offset.total_seconds() / 3600 if offset else 0
            elif name == "account_status":
                out[name] = account.account_status
            elif name == "disable_reason":
                out[name] = 0
        out.setdefault("id", account.account_id)
        return out

    def _campaigns(account: AdAccount, params: dict) -> dict:
        fields = _list_param(params.get("fields"), "fields") or ["id"]
        rows = []
        for c in account.campaigns:
            row = {}
            for name in fields:
                if name not in CAMPAIGN_FIELDS:
                    raise _param_error(f"Tried accessing nonexisting field ({name}) on node type (Campaign)")
                if name in ("id", "name", "objective", "status"):
                    row[name] = c[name]
                elif name == "effective_status":
                    row[name] = c["status"]
                elif name == "account_id":
                    row[name] = account.numeric_id
                elif name == "start_time":
                    row[name] = f"{c['start'].isoformat()}T00:00:00+0000"
                elif name == "stop_time" and c.get("stop"):
                    row[name] = f"{c['stop'].isoformat()}T23:59:59+0000"
            row.setdefault("id", c["id"])
            rows.append(row)
        return _page(rows, params)

    def _me(valid: list[AdAccount], edge: str | None) -> dict:
        if edge is None:
            return {"id": APP_USER_ID, "name": "Sandbox Marketing User"}
        if edge == "adaccounts":
            params = {k: v for k, v in request.values.items() if k != "access_token"}
            fields = _list_param(params.get("fields"), "fields") or ["account_id", "id"]
            rows = []
            for a in valid:
                row = {}
                for name in fields:
                    if name not in ACCOUNT_FIELDS:
                        raise _param_error(f"Tried accessing nonexisting field ({name}) on node type (AdAccount)")
                    row[name] = {"id": a.account_id, "account_id": a.numeric_id, "name": a.name,
                                 "currency": a.currency, "timezone_name": a.iana_timezone,
                                 "account_status": a.account_status, "disable_reason": 0}.get(name)
                rows.append(row)
            return _page(rows, params)
        raise _no_object(f"me/{edge}")

    @bp.route("/_admin/faults", methods=["GET", "POST", "DELETE"])
    def admin_faults() -> Response:
        if request.method == "POST":
            try:
                faults.configure(request.get_json(force=True))
            except (KeyError, TypeError, ValueError) as exc:
                return _json({"error": str(exc)}, 400, {})
        elif request.method == "DELETE":
            faults.clear(request.args.get("account_id"), request.args.get("kind"))
        return _json({"faults": faults.snapshot()}, 200, {})

    @bp.route("/<version>/<node>", methods=["GET", "POST"])
    def node_route(version: str, node: str) -> Response:
        return handle(version, node, None)

    @bp.route("/<version>/<node>/<edge>", methods=["GET", "POST"])
    def edge_route(version: str, node: str, edge: str) -> Response:
        return handle(version, node, edge)

    bp.state = state  # for tests and the server's admin views
    return bp
