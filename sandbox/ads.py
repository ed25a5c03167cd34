"""Deterministic Meta ad accounts: campaigns and daily stats that relate to a store's sales.

Purchases are modelled as individual attributed conversion events, each with an attribution window
(1d_click, 7d_click, 28d_click-only or 1d_view), a value and a reporting lag (days after the stats day on
which Meta starts reporting it). A day's numbers as reported on ``as_of`` are the events already visible
then, so conversions are restated for 28 days and then frozen, exactly as the real API behaves.
Spend, impressions, reach and clicks are final from the next day; on the day itself only the elapsed
fraction of the day is reported. ``daily_leaves`` shares each campaign's reported day exactly among its ad sets,
ads and breakdown segments (sandbox.ad_tree, sandbox.ad_splits).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sandbox.ad_splits import split_stats
from sandbox.ad_tree import FAMILIES, adsets, seeded_rng, segments

# Units of a currency per 1 USD. Fixed and deterministic: the sandbox's only FX table.
FX_PER_USD: dict[str, Decimal] = {
    "USD": Decimal("1"), "EUR": Decimal("0.92"), "GBP": Decimal("0.79"), "CAD": Decimal("1.36"),
    "AUD": Decimal("1.52"), "NZD": Decimal("1.65"), "JPY": Decimal("150"), "CHF": Decimal("0.88"),
    "SEK": Decimal("10.5"), "NOK": Decimal("10.7"), "DKK": Decimal("6.87"), "PLN": Decimal("3.95"),
    "CZK": Decimal("23"), "HUF": Decimal("360"), "MXN": Decimal("17.2"), "BRL": Decimal("5.0"),
    "INR": Decimal("83"), "SGD": Decimal("1.34"), "HKD": Decimal("7.8"), "CNY": Decimal("7.2"),
    "KRW": Decimal("1330"), "ZAR": Decimal("18.5"), "AED": Decimal("3.67"), "ILS": Decimal("3.7"),
    "TRY": Decimal("32"), "CLP": Decimal("930"),
}
# Currencies Meta reports without minor units.
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "CLP", "VND", "ISK", "PYG"})

# Fraction of the day assumed elapsed when ``as_of`` is a plain date equal to the stats day.
PARTIAL_DAY_FRACTION = 0.5
# Conversions are final once the day is this many days old.
RESTATEMENT_DAYS = 28

OBJECTIVES = ("OUTCOME_SALES", "OUTCOME_SALES", "OUTCOME_SALES", "OUTCOME_TRAFFIC", "OUTCOME_AWARENESS")
# How well each objective converts relative to a sales campaign.
_OBJECTIVE_EFFICIENCY = {"OUTCOME_SALES": 1.0, "OUTCOME_TRAFFIC": 0.35, "OUTCOME_AWARENESS": 0.12}
_CAMPAIGN_NAMES = ("Prospecting", "Retargeting", "Advantage+ Shopping", "Catalog DPA", "Brand Awareness",
                   "Lookalike 1%", "Broad", "Seasonal Promo")
WINDOWS = ("1d_click", "7d_click", "28d_click", "1d_view")
_CENT = Decimal("0.01")


def fx_rate(from_currency: str, to_currency: str) -> Decimal:
    """Units of ``to_currency`` per unit of ``from_currency``; unknown codes count as USD-parity."""
    if from_currency == to_currency:
        return Decimal("1")
    src = FX_PER_USD.get(from_currency, Decimal("1"))
    dst = FX_PER_USD.get(to_currency, Decimal("1"))
    return dst / src


def money(amount: Decimal | float, currency: str) -> Decimal:
    """Round to the currency's reporting precision, returned with 2 decimal places."""
    amount = Decimal(str(amount)) if isinstance(amount, float) else amount
    if currency in ZERO_DECIMAL_CURRENCIES:
        amount = amount.quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


_rng = seeded_rng


def _stochastic_round(x: float, rng: random.Random) -> int:
    base = math.floor(x)
    return base + (1 if rng.random() < x - base else 0)


def split_as_of(as_of: date) -> tuple[date, float]:
    """(local date, elapsed fraction of that day). A plain date counts as PARTIAL_DAY_FRACTION elapsed."""
    if isinstance(as_of, datetime):
        seconds = as_of.hour * 3600 + as_of.minute * 60 + as_of.second + as_of.microsecond / 1e6
        return as_of.date(), seconds / 86400
    return as_of, PARTIAL_DAY_FRACTION


@dataclass(frozen=True)
class _Final:
    campaign_id: str
    spend: Decimal
    impressions: int
    reach: int
    clicks: int
    inline_link_clicks: int
    events: tuple[tuple[str, int, int, int, Decimal], ...]   # (window, lag, hour if lag 0, count, value)
    extra: dict


@dataclass
class AdAccount:
    account_id: str                      # "act_<digits>"
    name: str
    currency: str
    iana_timezone: str                   # Meta's timezone_name
    access_token: str
    account_status: int = 1
    campaigns: list[dict] = field(default_factory=list)  # {"id","name","objective","status","start","stop"}
    start: date | None = None            # first day with delivery
    end: date | None = None              # last day with delivery
    seed: int = 0
    daily_sales: Callable[[date], tuple[int, Decimal]] | None = field(default=None, repr=False)
    shop_currency: str | None = None
    purchase_share: float = 0.3          # share of the shop's orders Meta attributes to this account
    spend_share: float = 0.15            # share of the shop's revenue spent on this account
    _sales_cache: dict = field(default_factory=dict, repr=False, compare=False)
    _final_cache: dict = field(default_factory=dict, repr=False, compare=False)
    _segment_cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def numeric_id(self) -> str:
        return self.account_id.removeprefix("act_")

    # -- sales --------------------------------------------------------------------------------------
    def _sales(self, day: date) -> tuple[int, Decimal]:
        """(orders, revenue in account currency) for a day; (0, 0) outside the account's range."""
        hit = self._sales_cache.get(day)
        if hit is None:
            if self.daily_sales is None or (self.start and day < self.start) or (self.end and day > self.end):
                hit = (0, Decimal("0"))
            else:
                orders, revenue = self.daily_sales(day)
                rate = fx_rate(self.shop_currency or self.currency, self.currency)
                hit = (int(orders), Decimal(revenue) * rate)
            self._sales_cache[day] = hit
        return hit

    def _budget_base(self, day: date) -> Decimal:
        """Trailing 7-day mean revenue (account currency): budgets follow sales with a lag."""
        days = [day - timedelta(days=i) for i in range(7)]
        days = [d for d in days if not self.start or d >= self.start]
        if not days:
            return Decimal("0")
        return sum((self._sales(d)[1] for d in days), Decimal("0")) / len(days)

    # -- final (fully restated) numbers -----------------------------------------------------------------
    def _active(self, day: date) -> list[dict]:
        if (self.start and day < self.start) or (self.end and day > self.end):
            return []
        return [c for c in self.campaigns if c["start"] <= day and (c.get("stop") is None or day <= c["stop"])]

    def _finals(self, day: date) -> list[_Final]:
        hit = self._final_cache.get(day)
        if hit is not None:
            return hit
        active = self._active(day)
        out: list[_Final] = []
        if active:
            orders, revenue = self._sales(day)
            base = self._budget_base(day)
            aov = revenue / orders if orders else (base / 2 if base else Decimal("50") * fx_rate("USD", self.currency))
            day_rng = _rng(self.seed, self.account_id, day.toordinal())
            jit = [c["weight"] * day_rng.uniform(0.75, 1.25) for c in active]
            total_w = sum(jit)
            conv_w = [w * _OBJECTIVE_EFFICIENCY[c["objective"]] for w, c in zip(jit, active, strict=True)]
            total_conv = sum(conv_w) or 1.0
            usd = fx_rate("USD", self.currency)
            for c, w, cw in zip(active, jit, conv_w, strict=True):
                rng = _rng(self.seed, c["id"], day.toordinal())
                spend = money(base * Decimal(self.spend_share * w / total_w * rng.uniform(0.85, 1.15)), self.currency)
                cpm = Decimal(str(c["cpm_usd"] * rng.uniform(0.85, 1.15))) * usd
                impressions = int(spend / cpm * 1000) if cpm else 0
                ctr = c["ctr"] * rng.uniform(0.85, 1.15)
                clicks = int(impressions * ctr)
                inline = int(clicks * rng.uniform(0.55, 0.8))
                reach = max(1, int(impressions / rng.uniform(1.05, 1.6))) if impressions else 0
                expected = orders * self.purchase_share * cw / total_conv
                events = self._events(rng, expected, aov) if impressions else ()
                n = sum(e[3] for e in events if e[0] != "28d_click")
                extra = {
                    "landing_page_view": int(inline * rng.uniform(0.7, 0.9)),
                    "view_content": int(inline * rng.uniform(0.9, 1.3)) + n,
                    "add_to_cart": n * 3 + int(inline * rng.uniform(0.01, 0.04)),
                    "initiate_checkout": n * 2 + int(inline * rng.uniform(0.0, 0.01)),
                }
                extra.update(_engagement(rng, impressions, clicks, inline))
                out.append(_Final(c["id"], spend, impressions, reach, clicks, inline, events, extra))
        if len(self._final_cache) > 5000:       # bounded: about 13 years of days
            self._final_cache.clear()
        self._final_cache[day] = out
        return out

    def _events(self, rng: random.Random, expected: float, aov: Decimal) -> tuple[tuple, ...]:
        """Attributed conversions, bucketed by (window, lag, hour of the day for lag 0) with count and value.

        Bucketing keeps memory bounded for large stores; values are summed in whole minor units.
        """
        n = _stochastic_round(expected * rng.uniform(0.8, 1.2), rng)
        random_, gauss, randint = rng.random, rng.gauss, rng.randint
        windows = []
        for _ in range(n):
            r = random_()
            windows.append("1d_click" if r < 0.68 else "7d_click" if r < 0.85 else "1d_view")
        # conversions only the 28-day click window attributes (not in the default 7d_click/1d_view value)
        n_clicks = n - windows.count("1d_view")
        windows += ["28d_click"] * _stochastic_round(n_clicks * 0.08, rng)
        unit = 100 if self.currency in ZERO_DECIMAL_CURRENCIES else 1
        aov_minor = float(aov) * 100
        buckets: dict[tuple[str, int, int], list[int]] = {}
        for window in windows:
            minor = round(aov_minor * math.exp(gauss(0, 0.35)) / unit) * unit
            r = random_()
            if window == "28d_click" or r >= 0.92:
                lag = randint(7, RESTATEMENT_DAYS - 1)
            elif r < 0.5:
                lag = 0
            elif r < 0.72:
                lag = 1
            else:
                lag = randint(2, 6)
            hour = int(random_() * 24) if lag == 0 else 0
            slot = buckets.setdefault((window, lag, hour), [0, 0])
            slot[0] += 1
            slot[1] += minor
        return tuple((w, lag, hour, c, Decimal(v) / 100) for (w, lag, hour), (c, v) in sorted(buckets.items()))

    # -- as reported ----------------------------------------------------------------------------------
    def daily_stats(self, day: date, *, as_of: date) -> list[dict]:
        """One dict per campaign with delivery on ``day`` (account-local), as Meta reports it on ``as_of``.

        ``as_of`` may be a naive account-local datetime for an exact partial-day fraction; a plain date equal
        to ``day`` counts as PARTIAL_DAY_FRACTION of the day elapsed. Days after ``as_of`` have no rows.
        """
        as_of_day, fraction = split_as_of(as_of)
        age = (as_of_day - day).days
        if age < 0:
            return []
        rows = []
        names = {c["id"]: c for c in self.campaigns}
        for f in self._finals(day):
            if age == 0:
                spend = money(f.spend * Decimal(str(fraction)), self.currency)
                impressions, reach = int(f.impressions * fraction), int(f.reach * fraction)
                clicks, inline = int(f.clicks * fraction), int(f.inline_link_clicks * fraction)
                visible = [e for e in f.events if e[1] == 0 and e[2] < fraction * 24]
                extra = {k: int(v * fraction) for k, v in f.extra.items()}
            else:
                spend, impressions, reach = f.spend, f.impressions, f.reach
                clicks, inline, extra = f.clicks, f.inline_link_clicks, dict(f.extra)
                visible = [e for e in f.events if e[1] < age]
            if impressions == 0 and spend == 0:
                continue
            conversions = {w: (0, Decimal("0.00")) for w in WINDOWS}     # by source window: disjoint
            for window, _lag, _hour, count, value in visible:
                conversions[window] = (conversions[window][0] + count, conversions[window][1] + value)
            camp = names[f.campaign_id]
            rows.append(_with_covers({
                "account_id": self.account_id,
                "campaign_id": f.campaign_id,
                "campaign_name": camp["name"],
                "objective": camp["objective"],
                "date": day,
                "spend": spend,
                "impressions": impressions,
                "reach": reach,
                "clicks": clicks,
                "inline_link_clicks": inline,
                "conversions": conversions,
                "other_actions": extra,
            }))
        return rows

    def daily_leaves(self, day: date, *, as_of: date, depth: str = "campaign", family: str | None = None) -> list[dict]:
        """``daily_stats`` split down to ``depth`` (campaign, adset or ad) and a breakdown family's segments.

        Each row carries the ids of its parents (and its segment keys); the rows add up exactly to the campaign rows.
        """
        rows = self.daily_stats(day, as_of=as_of)
        if depth == "campaign" and family is None:
            return rows
        unit = Decimal("1") if self.currency in ZERO_DECIMAL_CURRENCIES else _CENT
        children = {c["id"]: c["adsets"] for c in self.campaigns}
        out = []
        for row in rows:
            parts = [row]
            if depth in ("adset", "ad") or family:
                parts = self._split(parts, unit, lambda r: children[r["campaign_id"]], "adset_id")
            if depth == "ad" or family:
                ads = {a["id"]: a["ads"] for a in children[row["campaign_id"]]}
                parts = self._split(parts, unit, lambda r, ads=ads: ads[r["adset_id"]], "ad_id")
            if family:
                cells = self._segments(family)
                parts = [_with_covers({**part, **keys}) for r in parts
                         for part, (keys, _p) in zip(split_stats(r, [p for _k, p in cells], unit), cells, strict=True)
                         if part["impressions"] or part["spend"]]
            out.extend(parts)
        return out

    @staticmethod
    def _split(rows: list[dict], unit: Decimal, kids: Callable[[dict], list[dict]], key: str) -> list[dict]:
        out = []
        for row in rows:
            found = kids(row)
            for kid, part in zip(found, split_stats(row, [k["profile"] for k in found], unit), strict=True):
                if part["impressions"] or part["spend"]:
                    out.append(_with_covers({**part, key: kid["id"]}))
        return out

    def _segments(self, family: str) -> list:
        if family not in FAMILIES:
            raise ValueError(f"unknown breakdown family {family!r}")
        if family not in self._segment_cache:
            self._segment_cache[family] = segments(self.seed, self.account_id, family)
        return self._segment_cache[family]


_COVER = {"1d_click": ("1d_click", "7d_click", "28d_click"), "7d_click": ("7d_click", "28d_click"),
          "28d_click": ("28d_click",), "1d_view": ("1d_view",)}


def _with_covers(row: dict) -> dict:
    """Add the purchases per reporting window (nested windows cover the narrower ones) and the default ones."""
    by_window = {w: 0 for w in WINDOWS}
    value_by_window = {w: Decimal("0.00") for w in WINDOWS}
    for window, (count, value) in row["conversions"].items():
        for w in _COVER[window]:
            by_window[w] += count
            value_by_window[w] += value
    # default attribution (the ad sets' setting 7d_click + 1d_view)
    row["purchases"] = by_window["7d_click"] + by_window["1d_view"]
    row["purchase_value"] = value_by_window["7d_click"] + value_by_window["1d_view"]
    row["purchases_by_window"] = by_window
    row["purchase_value_by_window"] = value_by_window
    return row


def _engagement(rng: random.Random, impressions: int, clicks: int, inline: int) -> dict:
    """Outbound and unique clicks, and video plays with their watch milestones, for a campaign's day."""
    plays = int(impressions * rng.uniform(0.12, 0.3))
    return {
        "outbound_click": int(inline * rng.uniform(0.85, 0.97)),
        "unique_click": int(clicks * rng.uniform(0.8, 0.94)),
        "unique_inline_link_click": int(inline * rng.uniform(0.85, 0.96)),
        "video_view": plays,
        "video_2_sec_continuous": int(plays * 0.8),
        "video_p25": int(plays * 0.5),
        "video_p50": int(plays * 0.31),
        "video_p75": int(plays * 0.2),
        "video_p95": int(plays * 0.13),
        "video_p100": int(plays * 0.1),
        "video_thruplay": int(plays * 0.17),
        "video_30_sec": int(plays * 0.09),
    }


def _campaigns(seed: int, account_id: str, index: int, start: date, end: date) -> list[dict]:
    rng = _rng(seed, account_id, "campaigns")
    span = max(0, (end - start).days)
    out = []
    for i in range(rng.randint(2, 5)):
        objective = "OUTCOME_SALES" if i == 0 else rng.choice(OBJECTIVES)
        c_start = start if i < 2 else start + timedelta(days=rng.randint(0, span // 2))
        c_stop = None
        if i >= 2 and rng.random() < 0.3:
            c_stop = c_start + timedelta(days=rng.randint(span // 8, max(span // 8, span // 2)))
            if c_stop >= end:
                c_stop = None
        label = _CAMPAIGN_NAMES[(i + index) % len(_CAMPAIGN_NAMES)]
        out.append({
            "id": str(120200000000000000 + rng.randrange(10**14) * 10 + i),
            "name": f"{label} | {objective.removeprefix('OUTCOME_').title()} #{i + 1}",
            "objective": objective,
            "status": "ACTIVE" if c_stop is None else "PAUSED",
            "start": c_start,
            "stop": c_stop,
            "weight": rng.lognormvariate(0, 0.5),
            "cpm_usd": rng.uniform(7, 18) * (0.6 if objective == "OUTCOME_AWARENESS" else 1.0),
            "ctr": rng.uniform(0.008, 0.022) * (1.6 if objective == "OUTCOME_TRAFFIC" else 1.0),
        })
    for campaign in out:        # their own random streams: the campaigns above stay as they were
        campaign["adsets"] = adsets(seed, campaign)
    return out


def build_ad_accounts(*, seed: int, accounts: list[dict], daily_sales: Callable[[date], tuple[int, Decimal]],
                      start: date, end: date, shop_currency: str | None = None) -> list[AdAccount]:
    """Ad accounts delivering over [start, end] whose spend and purchases follow ``daily_sales``.

    ``accounts``: [{"account_id","name","currency","iana_timezone","access_token"}] (optional "account_status").
    ``daily_sales(day) -> (orders, revenue)`` in ``shop_currency`` (defaults to each account's currency);
    it is called with the account-local date. Across all accounts Meta attributes ~25-45 % of orders and
    spends ~10-22 % of revenue, split between accounts and their campaigns.
    """
    memo: dict[date, tuple[int, Decimal]] = {}

    def shared_sales(day: date) -> tuple[int, Decimal]:     # one sales lookup per day for all accounts
        if day not in memo:
            memo[day] = daily_sales(day)
        return memo[day]

    rng = _rng(seed, "ad-accounts")
    total_purchase_share = rng.uniform(0.25, 0.45)
    total_spend_share = rng.uniform(0.10, 0.22)
    weights = [1.0 / (i + 1) for i in range(len(accounts))]
    wsum = sum(weights) or 1.0
    out = []
    for i, spec in enumerate(accounts):
        share = weights[i] / wsum
        out.append(AdAccount(
            account_id=spec["account_id"],
            name=spec["name"],
            currency=spec["currency"],
            iana_timezone=spec["iana_timezone"],
            access_token=spec["access_token"],
            account_status=int(spec.get("account_status", 1)),
            campaigns=_campaigns(seed, spec["account_id"], i, start, end),
            start=start,
            end=end,
            seed=seed,
            daily_sales=shared_sales,
            shop_currency=shop_currency,
            purchase_share=total_purchase_share * share,
            spend_share=total_spend_share * share,
        ))
    return out


def truth(account: AdAccount, start: date, end: date, *, as_of: date) -> list[dict]:
    """What a correct ingestion holds after pulling on ``as_of``: one row per (campaign_id, date) with delivery.

    Keys: account_id, campaign_id, date, spend, impressions, clicks, purchases, purchase_value
    (default attribution, account currency). Sorted by date then campaign_id.
    """
    rows = []
    day = start
    while day <= end:
        for r in account.daily_stats(day, as_of=as_of):
            rows.append({k: r[k] for k in ("account_id", "campaign_id", "date", "spend", "impressions", "clicks",
                                            "purchases", "purchase_value")})
        day += timedelta(days=1)
    rows.sort(key=lambda r: (r["date"], r["campaign_id"]))
    return rows
