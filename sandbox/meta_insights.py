"""The insights edge's query: its parameters as Meta reads them, and the rows (and summary) it answers with.

Rows are built from sandbox.ads leaves (campaign, ad set, ad, breakdown segment per day), grouped by the level's id
and the breakdown keys, so every level and breakdown adds up to the same totals.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sandbox import meta_names
from sandbox.ad_tree import FAMILIES
from sandbox.ads import WINDOWS, AdAccount
from sandbox.meta_errors import MetaError, not_valid, param_error

RETENTION_MONTHS = 37
REACH_MONTHS = 13
LEVELS = ("account", "campaign", "adset", "ad")
VALID_WINDOWS = ("1d_view", "7d_view", "28d_view", "1d_click", "7d_click", "28d_click", "1d_ev", "dda", "default")
DEPRECATED_WINDOWS = ("7d_view", "28d_view", "1d_ev", "dda", "default")   # accepted, no keys returned
# The same purchase count is reported under each of these action types (never sum them).
PURCHASE_TYPES = ("offsite_conversion.fb_pixel_purchase", "omni_purchase", "onsite_web_app_purchase",
                  "onsite_web_purchase", "purchase", "web_in_store_purchase")
OTHER_ACTIONS = ("add_to_cart", "initiate_checkout", "landing_page_view", "link_click", "video_view", "view_content")
DATE_PRESETS = ("today", "yesterday", "this_month", "last_month", "this_quarter", "last_quarter", "this_year",
                "last_year", "maximum", "data_maximum", "last_3d", "last_7d", "last_14d", "last_28d", "last_30d",
                "last_90d", "last_week_mon_sun", "last_week_sun_sat", "this_week_mon_today", "this_week_sun_today")
_PRESET_DAYS = {"last_3d": 3, "last_7d": 7, "last_14d": 14, "last_28d": 28, "last_30d": 30, "last_90d": 90}


@dataclass
class Query:
    level: str
    fields: list[str]
    ranges: list[tuple[date, date]]        # the rows' (date_start, date_stop) buckets, in order
    windows: list[str]
    filtering: list[dict]
    breakdowns: list[str] = field(default_factory=list)
    sort: list[tuple[str, bool]] = field(default_factory=list)     # (field, descending)
    summary: list[str] | None = None       # fields of the summary object; None = no summary
    today: date | None = None              # the account's local date when asked

    @property
    def unique_omitted(self) -> frozenset[str]:
        """Meta leaves reach (and what derives from it) out of breakdowns starting more than 13 months back."""
        if not self.breakdowns or self.today is None:
            return frozenset()
        old = min(r[0] for r in self.ranges) < add_months(self.today, -REACH_MONTHS)
        return _REACH_FIELDS if old else frozenset()

    @property
    def family(self) -> str | None:
        return next((f for f, keys in FAMILIES.items() if set(self.breakdowns) & set(keys)), None)

    @property
    def depth(self) -> str:
        """The finest level the rows and filters need (breakdowns are split per ad)."""
        if self.family:
            return "ad"
        wanted = [self.level] + [f["field"].split(".")[0] for f in self.filtering if "." in f["field"]]
        return max((w for w in wanted if w in LEVELS), key=LEVELS.index, default="account")


def list_param(raw: str | None, name: str) -> list[str] | None:
    """A list parameter as Meta reads it: a JSON array or comma-separated names."""
    if raw is None or raw == "":
        return None
    raw = raw.strip()
    if raw.startswith("["):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise param_error(f"Param {name} must be an array.") from exc
        if not isinstance(value, list):
            raise param_error(f"Param {name} must be an array.")
        return [str(v) for v in value]
    return [part.strip() for part in raw.split(",") if part.strip()]


def add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def resolve_preset(preset: str, today: date, first_day: date | None) -> tuple[date, date]:
    """A date_preset as (since, until) in the account's own calendar, ``today`` being its local date."""
    quarter = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    month = today.replace(day=1)
    monday = today - timedelta(days=today.weekday())
    sunday = today - timedelta(days=(today.weekday() + 1) % 7)
    oldest = add_months(today, -RETENTION_MONTHS)
    if preset in _PRESET_DAYS:
        return today - timedelta(days=_PRESET_DAYS[preset]), today - timedelta(days=1)
    ranges = {
        "today": (today, today),
        "yesterday": (today - timedelta(days=1), today - timedelta(days=1)),
        "this_month": (month, today),
        "last_month": (add_months(month, -1), month - timedelta(days=1)),
        "this_quarter": (quarter, today),
        "last_quarter": (add_months(quarter, -3), quarter - timedelta(days=1)),
        "this_year": (date(today.year, 1, 1), today),
        "last_year": (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
        "this_week_mon_today": (monday, today),
        "this_week_sun_today": (sunday, today),
        "last_week_mon_sun": (monday - timedelta(days=7), monday - timedelta(days=1)),
        "last_week_sun_sat": (sunday - timedelta(days=7), sunday - timedelta(days=1)),
        "maximum": (oldest, today),
        "data_maximum": (max(oldest, first_day or oldest), today),
    }
    if preset not in ranges:
        raise param_error(f"date_preset must be one of the following values: {', '.join(DATE_PRESETS)}")
    return ranges[preset]


def _parse_date(text: object, name: str) -> date:
    try:
        return date.fromisoformat(str(text))
    except ValueError as exc:
        raise param_error(f"Param {name}[since/until] must be a date in the format YYYY-MM-DD") from exc


def _parse_range(raw: object, name: str) -> tuple[date, date]:
    if not isinstance(raw, dict) or "since" not in raw or "until" not in raw:
        raise param_error(f"Param {name} must be a JSON object with since and until")
    since, until = _parse_date(raw["since"], name), _parse_date(raw["until"], name)
    if since > until:
        raise param_error(f"Param {name}: since must be on or before until")
    return since, until


def _json_param(raw: str, name: str) -> object:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise param_error(f"Param {name} must be valid JSON") from exc


def _date_ranges(params: dict[str, str], today: date, first_day: date | None) -> tuple[list[tuple[date, date]], bool]:
    """(ranges, whether time_increment applies): time_ranges overrides time_range, which overrides date_preset."""
    if params.get("time_ranges"):
        given = _json_param(params["time_ranges"], "time_ranges")
        if not isinstance(given, list) or not given:
            raise param_error("Param time_ranges must be a non-empty array of {since, until} objects")
        return [_parse_range(r, "time_ranges") for r in given], False
    raw = params.get("time_range")
    if raw is None and ("time_range[since]" in params or "time_range[until]" in params):
        raw = json.dumps({"since": params.get("time_range[since]"), "until": params.get("time_range[until]")})
    if raw:
        return [_parse_range(_json_param(raw, "time_range"), "time_range")], True
    return [resolve_preset(params.get("date_preset") or "last_30d", today, first_day)], True


def _buckets(since: date, until: date, increment: int | str) -> list[tuple[date, date]]:
    out, start = [], since
    while start <= until:
        if increment == "all_days":
            stop = until
        elif increment == "monthly":
            stop = min(until, start.replace(day=calendar.monthrange(start.year, start.month)[1]))
        else:
            stop = min(until, start + timedelta(days=int(increment) - 1))
        out.append((start, stop))
        start = stop + timedelta(days=1)
    return out


def _increment(params: dict[str, str]) -> int | str:
    raw = params.get("time_increment") or "all_days"
    if raw in ("all_days", "monthly"):
        return raw
    if raw.isdigit() and 1 <= int(raw) <= 90:
        return int(raw)
    raise param_error("Param time_increment must be an integer from 1 to 90, monthly or all_days")


def _breakdowns(params: dict[str, str], fields: list[str]) -> list[str]:
    """The breakdowns asked for; those Meta does not know, or that the demo data cannot carry, are refused."""
    given = list_param(params.get("breakdowns"), "breakdowns") or []
    for name in given:
        if name not in meta_names.BREAKDOWNS:
            raise not_valid(name, "breakdowns")
    actions = list_param(params.get("action_breakdowns"), "action_breakdowns") or ["action_type"]
    for name in actions:
        if name not in meta_names.ACTION_BREAKDOWNS:
            raise not_valid(name, "action_breakdowns")
    carried = [keys for keys in FAMILIES.values() if set(given) <= set(keys)]
    # Meta serves platform_position only under publisher_platform; action breakdowns other than action_type are
    # not modelled: such combinations are refused as Meta refuses the ones it cannot serve.
    unsupported = given and (not carried or given == ["platform_position"])
    if unsupported or actions != ["action_type"]:
        columns = sorted(set(given) | (set(actions) if "actions" in fields or actions != ["action_type"] else set()))
        raise param_error(f"Current combination of data breakdown columns ({', '.join(columns)}) is invalid")
    return given


def _sort(params: dict[str, str]) -> list[tuple[str, bool]]:
    out = []
    for item in list_param(params.get("sort"), "sort") or []:
        name, _, direction = item.rpartition("_")
        if direction not in ("ascending", "descending") or name not in _NUMERIC:
            raise not_valid(item, "sort")
        out.append((name, direction == "descending"))
    return out


def _summary(params: dict[str, str], fields: list[str]) -> list[str] | None:
    raw = params.get("summary")
    if raw and raw.lower() not in ("true", "false", "1", "0"):
        names = list_param(raw, "summary") or []
        for name in names:
            if name not in meta_names.INSIGHTS_FIELDS:
                raise not_valid(name, "summary")
        return names
    if (raw or "").lower() in ("true", "1") or (params.get("default_summary") or "").lower() in ("true", "1"):
        return fields
    return None


def parse_query(params: dict[str, str], today: date, *, first_day: date | None = None,
                default_level: str = "account", scope: list[dict] | None = None) -> Query:
    """The insights parameters of a request (``scope``: filters implied by the node, e.g. a campaign's id)."""
    level = params.get("level") or default_level
    if level not in LEVELS:
        raise param_error("level must be one of the following values: ad, adset, campaign, account")
    fields = list_param(params.get("fields"), "fields") or ["impressions", "spend"]
    for name in fields:
        if name not in meta_names.INSIGHTS_FIELDS:
            raise not_valid(name, "fields")
    ranges, incremental = _date_ranges(params, today, first_day)
    oldest = add_months(today, -RETENTION_MONTHS)
    if any(since < oldest for since, _ in ranges):
        raise MetaError(400, 3018, "(#3018) The start date of the time range cannot be beyond 37 months from the "
                        "current date")
    increment = _increment(params)
    if incremental:
        ranges = [b for since, until in ranges for b in _buckets(since, until, increment)]
    windows = list_param(params.get("action_attribution_windows"), "action_attribution_windows") or []
    for i, window in enumerate(windows):
        if window not in VALID_WINDOWS:
            raise param_error(f"action_attribution_windows[{i}] must be one of the following values: "
                              f"{', '.join(VALID_WINDOWS)}")
    filtering = list(scope or [])
    if params.get("filtering"):
        given = _json_param(params["filtering"], "filtering")
        if not isinstance(given, list) or not all(isinstance(f, dict) for f in given):
            raise param_error("Param filtering must be an array of {field, operator, value}")
        for f in given:
            _check_filter(f)
        filtering += given
    return Query(level, fields, ranges, windows, filtering, _breakdowns(params, fields), _sort(params),
                 _summary(params, fields), today)


# ------------------------------------------------------------------------------------------------------
# Filtering
# ------------------------------------------------------------------------------------------------------
_OBJECT_FILTER_FIELDS = {"id": "id", "name": "name", "objective": "objective", "effective_status": "status",
                         "status": "status"}
_METRIC_FILTER_FIELDS = ("spend", "impressions", "clicks", "reach", "inline_link_clicks")
OPERATORS = ("EQUAL", "NOT_EQUAL", "IN", "NOT_IN", "CONTAIN", "NOT_CONTAIN", "GREATER_THAN",
              "GREATER_THAN_OR_EQUAL", "LESS_THAN", "LESS_THAN_OR_EQUAL")


def _split_field(name: object) -> tuple[str, str]:
    """("campaign", "id") for "campaign.id"; ("", "spend") for "spend"."""
    text = str(name)
    level, _, attr = text.rpartition(".")
    return level, attr


def _check_filter(f: dict) -> None:
    level, attr = _split_field(f.get("field"))
    known = (level in ("", *LEVELS) and attr in _METRIC_FILTER_FIELDS) or \
        (level in ("campaign", "adset", "ad") and attr in _OBJECT_FILTER_FIELDS and
         not (attr == "objective" and level != "campaign"))
    if not known:
        raise param_error(f"Filtering field {f.get('field')} is invalid.")
    if f.get("operator") not in OPERATORS:
        raise param_error(f"Filtering operator {f.get('operator')} is invalid.")
    if "value" not in f:
        raise param_error("Filtering value is missing.")


def matches(actual: object, op: str, value: object) -> bool:
    """Whether a value passes one of Meta's filtering operators."""
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


# ------------------------------------------------------------------------------------------------------
# Rows
# ------------------------------------------------------------------------------------------------------
@dataclass
class _Group:
    """The leaves of one row: the level's objects, the breakdown keys, and the summed figures."""

    campaign: dict | None
    adset: dict | None
    ad: dict | None
    keys: dict
    leaves: list[dict]


def objects(account: AdAccount) -> dict[str, tuple[str, dict, dict | None, dict | None]]:
    """Every campaign, ad set and ad of an account by id: (kind, campaign, adset, ad)."""
    out: dict = {}
    for c in account.campaigns:
        out[c["id"]] = ("campaign", c, None, None)
        for s in c["adsets"]:
            out[s["id"]] = ("adset", c, s, None)
            for a in s["ads"]:
                out[a["id"]] = ("ad", c, s, a)
    return out


def insight_rows(account: AdAccount, q: Query, as_of: date) -> tuple[list[dict], dict | None]:
    """Meta's rows for a parsed query as reported on ``as_of``, and the summary object if one was asked for."""
    found = objects(account)
    object_filters = [f for f in q.filtering if _split_field(f["field"])[1] in _OBJECT_FILTER_FIELDS]
    metric_filters = [f for f in q.filtering if _split_field(f["field"])[1] in _METRIC_FILTER_FIELDS]
    depth, family = q.depth, q.family
    grouped = LEVELS[1:LEVELS.index(q.level) + 1]        # the levels whose ids tell the rows apart
    rendered, kept = [], []
    for start, stop in q.ranges:
        groups: dict[tuple, _Group] = {}
        day = start
        while day <= stop:
            for leaf in account.daily_leaves(day, as_of=as_of, depth=depth, family=family):
                if object_filters and not all(_object_matches(_parents(found, leaf), f) for f in object_filters):
                    continue
                key = tuple(leaf[f"{lv}_id"] for lv in grouped) + tuple(leaf[b] for b in q.breakdowns)
                group = groups.get(key)
                if group is None:
                    parents = _parents(found, leaf)
                    group = groups[key] = _Group(*(parents[lv] if lv in grouped else None for lv in LEVELS[1:]),
                                                 {b: leaf[b] for b in q.breakdowns}, [])
                group.leaves.append(leaf)
            day += timedelta(days=1)
        for key in sorted(groups):
            group = groups[key]
            agg = _aggregate(group.leaves)
            if any(not matches(agg[_split_field(f["field"])[1]], f["operator"], f["value"]) for f in metric_filters):
                continue
            kept.append(group)
            rendered.append((_render(account, q, q.fields, agg, group, start, stop), agg, group))
    for name, descending in reversed(q.sort):
        rendered.sort(key=lambda item, name=name: _sort_value(account, q, name, item), reverse=descending)
    rows = [row for row, _agg, _group in rendered]
    summary = None
    if q.summary is not None:
        leaves = [leaf for group in kept for leaf in group.leaves]
        total = _Group(None, None, None, {}, leaves)
        since, until = min(r[0] for r in q.ranges), max(r[1] for r in q.ranges)
        summary = _render(account, q, [f for f in q.summary if f not in _IDENTITY], _aggregate(leaves), total,
                          since, until) if leaves else {"date_start": since.isoformat(), "date_stop": until.isoformat()}
    return rows, summary


def _parents(found: dict, leaf: dict) -> dict:
    out = {"campaign": found[leaf["campaign_id"]][1]}
    if "adset_id" in leaf:
        out["adset"] = found[leaf["adset_id"]][2]
    if "ad_id" in leaf:
        out["ad"] = found[leaf["ad_id"]][3]
    return out


def _object_matches(parents: dict, f: dict) -> bool:
    level, attr = _split_field(f["field"])
    # ad sets and ads have no status of their own here: they run while their campaign does
    actual = parents[level].get(_OBJECT_FILTER_FIELDS[attr], parents["campaign"]["status"])
    return matches(actual, f["operator"], f["value"])


def _aggregate(stats: list[dict]) -> dict:
    agg: dict = {
        "spend": sum((s["spend"] for s in stats), Decimal("0")),
        "impressions": sum(s["impressions"] for s in stats),
        "clicks": sum(s["clicks"] for s in stats),
        "inline_link_clicks": sum(s["inline_link_clicks"] for s in stats),
        "purchases": {w: sum(s["purchases_by_window"][w] for s in stats) for w in WINDOWS},
        "values": {w: sum((s["purchase_value_by_window"][w] for s in stats), Decimal("0")) for w in WINDOWS},
        "other": {k: sum(s["other_actions"].get(k, 0) for s in stats) for k in stats[0]["other_actions"]},
    }
    reaches = [s["reach"] for s in stats]
    # reach is deduplicated across days/campaigns: estimate it below the plain sum
    agg["reach"] = max(max(reaches), round(sum(reaches) / (1 + 0.1 * (len(reaches) - 1))))
    agg["purchases"]["value"] = agg["purchases"]["7d_click"] + agg["purchases"]["1d_view"]
    agg["values"]["value"] = agg["values"]["7d_click"] + agg["values"]["1d_view"]
    return agg


# ------------------------------------------------------------------------------------------------------
# Rendering
# ------------------------------------------------------------------------------------------------------
def num(value: Decimal | int) -> str:
    """Meta's numeric strings: "14.35", "5339.5", "100"."""
    if isinstance(value, int):
        return str(value)
    return format(value.normalize(), "f")


def ratio(value: Decimal) -> str:
    text = format(value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP), "f").rstrip("0").rstrip(".")
    return text or "0"


@dataclass
class _Ctx:
    account: AdAccount
    agg: dict
    group: _Group
    windows: list[str]

    def n(self, name: str) -> int:
        value = self.agg.get(name)
        return value if isinstance(value, int) else self.agg["other"].get(name, 0)

    def per(self, name: str, scale: int = 1) -> str | None:
        """spend per ``name`` (times ``scale``); None (the field is left out) when there is none."""
        n = self.n(name)
        return ratio(self.agg["spend"] * scale / n) if n else None

    def rate(self, name: str, of: str = "impressions") -> str | None:
        """``name`` per 100 ``of``; None when there is none."""
        base = self.n(of)
        return ratio(Decimal(self.n(name)) * 100 / base) if base else None

    def stat(self, action_type: str, value: str | None) -> list[dict] | None:
        return [{"action_type": action_type, "value": value}] if value not in (None, "0") else None


def _purchased(c: _Ctx) -> bool:
    return bool(c.agg["purchases"]["value"] or any(c.agg["purchases"][w] for w in c.windows))


def _stat(action_type: str, values: dict, windows: list[str], fmt: Callable) -> dict:
    out = {"action_type": action_type, "value": fmt(values["value"])}
    for w in windows:
        out[w] = fmt(values[w])
    return out


def _actions(c: _Ctx) -> list[dict] | None:
    out = []
    other = dict(c.agg["other"], link_click=c.agg["inline_link_clicks"])
    for name in OTHER_ACTIONS:
        n = other.get(name, 0)
        if n:
            item = {"action_type": name, "value": str(n)}
            for w in c.windows:
                if w.endswith("_click"):       # on-Meta actions count in the click windows only
                    item[w] = str(n)
            out.append(item)
    if _purchased(c):
        out.extend(_stat(t, c.agg["purchases"], c.windows, str) for t in PURCHASE_TYPES)
    out.sort(key=lambda a: a["action_type"])
    return out or None


def _action_values(c: _Ctx) -> list[dict] | None:
    return [_stat(t, c.agg["values"], c.windows, num) for t in PURCHASE_TYPES] if _purchased(c) else None


def _purchase_only(c: _Ctx) -> list[dict] | None:
    return [a for a in _actions(c) or [] if a["action_type"] in PURCHASE_TYPES] or None


def _cost_per_action(c: _Ctx) -> list[dict] | None:
    out = []
    for action in _actions(c) or []:
        item = {k: (ratio(c.agg["spend"] / Decimal(v)) if Decimal(v) else "0") if k != "action_type" else v
                for k, v in action.items()}
        out.append(item)
    return out or None


def _roas(kind: str) -> Callable[[_Ctx], list[dict] | None]:
    def render(c: _Ctx) -> list[dict] | None:
        spend = c.agg["spend"]
        if not (spend and c.agg["values"]["value"]):
            return None
        return [_stat(kind, {k: v / spend for k, v in c.agg["values"].items()}, c.windows, ratio)]
    return render


def _video(action: str, stat: str = "video_view") -> Callable[[_Ctx], list[dict] | None]:
    return lambda c: c.stat(stat, str(c.n(action)))


def _avg_watch(c: _Ctx) -> list[dict] | None:
    """Average seconds watched per play, from the share of plays reaching each quarter of a 15-second video."""
    plays = c.n("video_view")
    if not plays:
        return None
    quarters = sum(c.n(m) for m in ("video_p25", "video_p50", "video_p75", "video_p100"))
    return c.stat("video_view", str(round(Decimal(15) * (Decimal(quarters) / 4 + Decimal(plays) / 8) / plays)))


def _owner(level: str, attr: str) -> Callable[[_Ctx], object]:
    return lambda c: (getattr(c.group, level) or {}).get(attr)


def _optimization_goal(c: _Ctx) -> str | None:
    if c.group.adset:
        return c.group.adset["optimization_goal"]
    goals = {s["optimization_goal"] for s in (c.group.campaign or {}).get("adsets", [])}
    return goals.pop() if len(goals) == 1 else None


_RENDERERS: dict[str, Callable[[_Ctx], object]] = {
    "account_id": lambda c: c.account.numeric_id,
    "account_name": lambda c: c.account.name,
    "account_currency": lambda c: c.account.currency,
    "campaign_id": _owner("campaign", "id"),
    "campaign_name": _owner("campaign", "name"),
    "objective": _owner("campaign", "objective"),
    "adset_id": _owner("adset", "id"),
    "adset_name": _owner("adset", "name"),
    "ad_id": _owner("ad", "id"),
    "ad_name": _owner("ad", "name"),
    "adset_start": lambda c: f"{c.group.campaign['start'].isoformat()}T00:00:00+0000" if c.group.adset else None,
    "adset_end": lambda c: (f"{c.group.campaign['stop'].isoformat()}T23:59:59+0000"
                            if c.group.adset and c.group.campaign.get("stop") else None),
    "buying_type": lambda c: "AUCTION",
    "optimization_goal": _optimization_goal,
    "attribution_setting": lambda c: "7d_click_1d_view",
    "spend": lambda c: num(c.agg["spend"]),
    "impressions": lambda c: str(c.agg["impressions"]),
    "clicks": lambda c: str(c.agg["clicks"]),
    "reach": lambda c: str(c.agg["reach"]),
    "inline_link_clicks": lambda c: str(c.agg["inline_link_clicks"]),
    "unique_clicks": lambda c: str(c.n("unique_click")),
    "unique_inline_link_clicks": lambda c: str(c.n("unique_inline_link_click")),
    "frequency": lambda c: ratio(Decimal(c.agg["impressions"]) / c.agg["reach"]) if c.agg["reach"] else None,
    "cpc": lambda c: c.per("clicks"),
    "cpm": lambda c: c.per("impressions", 1000),
    "cpp": lambda c: c.per("reach", 1000),
    "ctr": lambda c: c.rate("clicks"),
    "unique_ctr": lambda c: c.rate("unique_click", "reach"),
    "inline_link_click_ctr": lambda c: c.rate("inline_link_clicks"),
    "unique_inline_link_click_ctr": lambda c: c.rate("unique_inline_link_click", "reach"),
    "unique_link_clicks_ctr": lambda c: c.rate("unique_inline_link_click", "reach"),
    "cost_per_inline_link_click": lambda c: c.per("inline_link_clicks"),
    "cost_per_unique_click": lambda c: c.per("unique_click"),
    "cost_per_unique_inline_link_click": lambda c: c.per("unique_inline_link_click"),
    "outbound_clicks": lambda c: c.stat("outbound_click", str(c.n("outbound_click"))),
    "outbound_clicks_ctr": lambda c: c.stat("outbound_click", c.rate("outbound_click")),
    "cost_per_outbound_click": lambda c: c.stat("outbound_click", c.per("outbound_click")),
    "website_ctr": lambda c: c.stat("link_click", c.rate("inline_link_clicks")),
    "actions": _actions,
    "action_values": _action_values,
    "conversions": _purchase_only,
    "conversion_values": lambda c: _action_values(c),
    "cost_per_action_type": _cost_per_action,
    "cost_per_conversion": lambda c: [a for a in _cost_per_action(c) or [] if a["action_type"] in PURCHASE_TYPES]
    or None,
    "purchase_roas": _roas("omni_purchase"),
    "website_purchase_roas": _roas("offsite_conversion.fb_pixel_purchase"),
    "video_play_actions": _video("video_view"),
    "video_continuous_2_sec_watched_actions": _video("video_2_sec_continuous"),
    "video_p25_watched_actions": _video("video_p25"),
    "video_p50_watched_actions": _video("video_p50"),
    "video_p75_watched_actions": _video("video_p75"),
    "video_p95_watched_actions": _video("video_p95"),
    "video_p100_watched_actions": _video("video_p100"),
    "video_thruplay_watched_actions": _video("video_thruplay"),
    "video_30_sec_watched_actions": _video("video_30_sec"),
    "video_avg_time_watched_actions": _avg_watch,
    "cost_per_thruplay": lambda c: c.stat("video_view", c.per("video_thruplay")),
}
# Numeric fields a result can be sorted by.
_NUMERIC = frozenset({"spend", "impressions", "clicks", "reach", "inline_link_clicks", "unique_clicks",
                      "unique_inline_link_clicks", "frequency", "cpc", "cpm", "cpp", "ctr", "unique_ctr",
                      "inline_link_click_ctr", "cost_per_inline_link_click", "cost_per_unique_click"})
_REACH_FIELDS = frozenset({"reach", "frequency", "cpp", "unique_ctr", "unique_inline_link_click_ctr",
                           "unique_link_clicks_ctr"})
# Fields naming the row's level or account: not part of a summary.
_IDENTITY = frozenset({"campaign_id", "campaign_name", "objective", "adset_id", "adset_name", "ad_id", "ad_name",
                       "adset_start", "adset_end", "optimization_goal", "date_start", "date_stop"})


def _render(account: AdAccount, q: Query, fields: list[str], agg: dict, group: _Group, start: date,
            stop: date) -> dict:
    """One row: each asked field Meta has a value for (the others are left out, as Meta leaves them out)."""
    ctx = _Ctx(account, agg, group, [w for w in q.windows if w not in DEPRECATED_WINDOWS])
    row: dict = {}
    omitted = q.unique_omitted
    for name in fields:
        render = _RENDERERS.get(name) if name not in omitted else None
        value = render(ctx) if render else None
        if value is not None:
            row[name] = value
    row.update(group.keys)
    row["date_start"] = start.isoformat()
    row["date_stop"] = stop.isoformat()
    return row


def _sort_value(account: AdAccount, q: Query, name: str, item: tuple) -> Decimal:
    _row, agg, group = item
    value = _RENDERERS[name](_Ctx(account, agg, group, []))
    return Decimal(str(value)) if value is not None else Decimal("0")
