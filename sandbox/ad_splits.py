"""Exact splits of a day's reported Meta figures among parts: ad sets, ads, and breakdown segments.

A part has a profile (share of spend, relative CPM, CTR and conversion rate). Every figure is split by the
largest-remainder method, money in the currency's smallest reported unit, so the parts always add up to the whole,
to the cent. Conversions are split per attribution source window (disjoint), so each part's nested windows
(1d_click within 7d_click within 28d_click) stay nested.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# Figures delivered with impressions (split like impressions) and with clicks (split like clicks).
_IMPRESSION_ACTIONS = frozenset({"video_view", "video_p25", "video_p50", "video_p75", "video_p95", "video_p100",
                                 "video_thruplay", "video_30_sec", "video_2_sec_continuous"})


@dataclass(frozen=True)
class Profile:
    """How a part delivers relative to its siblings."""

    share: float          # of spend
    cpm: float = 1.0      # relative cost per impression
    ctr: float = 1.0      # relative clicks per impression
    cvr: float = 1.0      # relative conversions per click


def split_ints(total: int, weights: list[float]) -> list[int]:
    """``total`` in whole parts proportional to ``weights`` (largest remainder; ties to the earlier part)."""
    if total == 0:
        return [0] * len(weights)
    wsum = sum(weights)
    if wsum <= 0:       # nothing to go by: the first part carries it all
        return [total] + [0] * (len(weights) - 1)
    quotas = [total * w / wsum for w in weights]
    parts = [int(q) for q in quotas]
    short = total - sum(parts)
    if short:
        fractions = [q - p for q, p in zip(quotas, parts, strict=True)]
        for i in sorted(range(len(parts)), key=fractions.__getitem__, reverse=True)[:short]:   # stable: ties in order
            parts[i] += 1
    return parts


def split_money(amount: Decimal, weights: list[float], unit: Decimal) -> list[Decimal]:
    """``amount`` (a multiple of ``unit``) in parts that are multiples of ``unit`` and add up to it exactly."""
    units = int(amount / unit)
    return [(unit * n).quantize(Decimal("0.01")) for n in split_ints(units, weights)]


def split_stats(stats: dict, profiles: list[Profile], unit: Decimal) -> list[dict]:
    """One stats dict per profile (keys as ``stats``); every figure of the parts sums to the whole's."""
    spend_w = [p.share for p in profiles]
    imp_w = [p.share / p.cpm for p in profiles]
    click_w = [w * p.ctr for w, p in zip(imp_w, profiles, strict=True)]
    conv_w = [w * p.cvr for w, p in zip(click_w, profiles, strict=True)]
    parts = [{k: v for k, v in stats.items() if k not in _SPLIT} for _ in profiles]
    for part, spend in zip(parts, split_money(stats["spend"], spend_w, unit), strict=True):
        part["spend"] = spend
    for name, weights in (("impressions", imp_w), ("reach", imp_w), ("clicks", click_w),
                          ("inline_link_clicks", click_w)):
        for part, n in zip(parts, split_ints(stats[name], weights), strict=True):
            part[name] = n
    for part in parts:
        part["conversions"], part["other_actions"] = {}, {}
    for window, (count, value) in stats["conversions"].items():
        counts = split_ints(count, conv_w)
        values = split_money(value, [float(c) for c in counts], unit) if count else [Decimal("0.00")] * len(parts)
        for part, c, v in zip(parts, counts, values, strict=True):
            part["conversions"][window] = (c, v)
    for name, n in stats["other_actions"].items():
        weights = imp_w if name in _IMPRESSION_ACTIONS else click_w
        for part, share in zip(parts, split_ints(n, weights), strict=True):
            part["other_actions"][name] = share
    return parts


_SPLIT = frozenset({"spend", "impressions", "reach", "clicks", "inline_link_clicks", "conversions", "other_actions"})
