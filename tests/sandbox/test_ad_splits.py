"""Ad sets, ads and breakdown segments share a campaign's day exactly (the largest-remainder splits)."""

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from sandbox.ad_splits import Profile, split_ints, split_stats
from tests.sandbox.test_ads import TODAY, build

FIGURES = ("spend", "impressions", "reach", "clicks", "inline_link_clicks", "purchases", "purchase_value")


@given(st.integers(0, 10**9), st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=30))
def test_split_ints_adds_up_and_stays_within_one_of_the_quota(total, weights):
    parts = split_ints(total, weights)
    assert sum(parts) == total and all(p >= 0 for p in parts)
    if sum(weights) > 0:
        assert all(abs(p - total * w / sum(weights)) < 1 + 1e-6 * total for p, w in zip(parts, weights, strict=True))


@given(st.lists(st.tuples(st.floats(0.01, 10), st.floats(0.5, 2), st.floats(0.5, 2), st.floats(0.5, 2)),
                min_size=1, max_size=20),
       st.integers(0, 10**7), st.integers(0, 500), st.integers(0, 10**6), st.booleans())
def test_split_stats_adds_up_to_the_cent_and_keeps_windows_nested(profiles, cents, n, value_cents, whole_units):
    unit = Decimal("1") if whole_units else Decimal("0.01")
    def bought(count: int, minor: int) -> tuple[int, Decimal]:     # a value only where there are conversions
        return count, Decimal(minor if count else 0) * unit

    stats = {"spend": Decimal(cents) * unit, "impressions": n * 40, "reach": n * 30, "clicks": n,
             "inline_link_clicks": n, "conversions": {"1d_click": bought(n // 3, value_cents),
                                                      "7d_click": bought(n // 7, 3 * (n // 7)),
                                                      "28d_click": bought(n // 9, n), "1d_view": bought(0, 0)},
             "other_actions": {"video_view": n * 5, "add_to_cart": n // 2}, "campaign_id": "1"}
    parts = split_stats(stats, [Profile(*p) for p in profiles], unit)
    for name in ("spend", "impressions", "reach", "clicks", "inline_link_clicks"):
        assert sum(p[name] for p in parts) == stats[name]
    for window, (count, value) in stats["conversions"].items():
        assert sum(p["conversions"][window][0] for p in parts) == count
        assert sum(p["conversions"][window][1] for p in parts) == value
        assert all(p["conversions"][window][1] % unit == 0 for p in parts)
    assert all(p["campaign_id"] == "1" for p in parts)


def test_leaves_add_up_to_the_campaigns_every_day_and_currency():
    for account in build():
        for day in (TODAY - timedelta(days=d) for d in (0, 1, 5, 40)):
            campaigns = account.daily_stats(day, as_of=TODAY)
            for depth, family in (("adset", None), ("ad", None), ("ad", "demographics"), ("campaign", "placements")):
                leaves = account.daily_leaves(day, as_of=TODAY, depth=depth, family=family)
                assert len(leaves) >= len(campaigns)
                for name in FIGURES:
                    assert sum(r[name] for r in leaves) == sum(r[name] for r in campaigns), (account.currency, name)
                for r in leaves:
                    by = r["purchases_by_window"]
                    assert by["1d_click"] <= by["7d_click"] <= by["28d_click"]


def test_the_tree_is_deterministic_from_the_seed():
    first, again, other = build(), build(), build(seed=8)
    ids = [[(s["id"], [a["id"] for a in s["ads"]]) for c in acct.campaigns for s in c["adsets"]] for acct in first]
    assert ids == [[(s["id"], [a["id"] for a in s["ads"]]) for c in acct.campaigns for s in c["adsets"]]
                   for acct in again]
    assert ids != [[(s["id"], [a["id"] for a in s["ads"]]) for c in acct.campaigns for s in c["adsets"]]
                   for acct in other]
    assert first[0].daily_leaves(date(2026, 11, 1), as_of=TODAY, depth="ad") == \
        again[0].daily_leaves(date(2026, 11, 1), as_of=TODAY, depth="ad")
