"""Deterministic Meta ad accounts: sales relation, restatement, partial days, FX."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from sandbox.ads import FX_PER_USD, RESTATEMENT_DAYS, AdAccount, build_ad_accounts, fx_rate, truth

START, END = date(2026, 1, 1), date(2026, 12, 31)
TODAY = date(2026, 11, 22)


def daily_sales(day: date) -> tuple[int, Decimal]:
    orders = 50 + (day.toordinal() * 7) % 23
    return orders, Decimal(orders) * Decimal("64.90")


SPECS = [
    {"account_id": "act_1001", "name": "Main EUR", "currency": "EUR", "iana_timezone": "Europe/Berlin",
     "access_token": "tok-eur"},
    {"account_id": "act_1002", "name": "Japan", "currency": "JPY", "iana_timezone": "Asia/Tokyo",
     "access_token": "tok-jpy"},
]


def build(seed: int = 7) -> list[AdAccount]:
    return build_ad_accounts(seed=seed, accounts=SPECS, daily_sales=daily_sales, start=START, end=END,
                             shop_currency="USD")


@pytest.fixture(scope="module")
def accounts() -> list[AdAccount]:
    return build()


def test_accounts_and_campaigns(accounts):
    assert [a.account_id for a in accounts] == ["act_1001", "act_1002"]
    for a in accounts:
        assert a.account_status == 1 and a.numeric_id.isdigit()
        assert 2 <= len(a.campaigns) <= 5
        for c in a.campaigns:
            assert c["id"].isdigit() and c["objective"].startswith("OUTCOME_") and c["status"] in ("ACTIVE", "PAUSED")
        assert len({c["id"] for c in a.campaigns}) == len(a.campaigns)


def test_deterministic():
    a, b = build(), build()
    window = (TODAY - timedelta(days=40), TODAY)
    assert truth(a[0], *window, as_of=TODAY) == truth(b[0], *window, as_of=TODAY)
    assert truth(build(8)[0], *window, as_of=TODAY) != truth(a[0], *window, as_of=TODAY)


def test_spend_and_purchases_follow_sales(accounts):
    days = [date(2026, 6, 1) + timedelta(days=i) for i in range(30)]
    orders = sum(daily_sales(d)[0] for d in days)
    revenue_usd = sum(daily_sales(d)[1] for d in days)
    purchases = spend_usd = 0
    for a in accounts:
        rows = truth(a, days[0], days[-1], as_of=TODAY)
        purchases += sum(r["purchases"] for r in rows)
        spend_usd += sum(r["spend"] for r in rows) * fx_rate(a.currency, "USD")
    assert 0.12 * orders < purchases < 0.6 * orders
    assert Decimal("0.05") * revenue_usd < spend_usd < Decimal("0.35") * revenue_usd


def test_account_currency_spend(accounts):
    eur, jpy = accounts
    day = date(2026, 6, 10)
    for r in eur.daily_stats(day, as_of=TODAY):
        assert r["spend"] == r["spend"].quantize(Decimal("0.01"))
    for r in jpy.daily_stats(day, as_of=TODAY):
        assert r["spend"] == r["spend"].to_integral_value()   # JPY has no minor units
    assert fx_rate("USD", "JPY") == FX_PER_USD["JPY"]
    assert fx_rate("EUR", "EUR") == 1


def test_restatement_then_frozen(accounts):
    a = accounts[0]
    day = TODAY - timedelta(days=20)

    def totals(as_of):
        rows = a.daily_stats(day, as_of=as_of)
        return (sum(r["spend"] for r in rows), sum(r["purchases"] for r in rows),
                sum(r["purchase_value"] for r in rows))

    early, final = totals(day + timedelta(days=1)), totals(day + timedelta(days=RESTATEMENT_DAYS))
    assert early[0] == final[0]                    # spend final from the next day
    assert early[1] < final[1] and early[2] < final[2]
    for later in (RESTATEMENT_DAYS + 1, 60, 400):
        assert totals(day + timedelta(days=later)) == final
    previous = (0, 0)
    for k in range(0, RESTATEMENT_DAYS + 1):       # conversions only grow
        _, n, v = totals(day + timedelta(days=k))
        assert (n, v) >= previous
        previous = (n, v)


def test_partial_day(accounts):
    a = accounts[0]
    day = date(2026, 9, 3)
    final = sum(r["spend"] for r in a.daily_stats(day, as_of=day + timedelta(days=1)))
    half = sum(r["spend"] for r in a.daily_stats(day, as_of=day))
    morning = sum(r["spend"] for r in a.daily_stats(day, as_of=datetime(2026, 9, 3, 6)))
    evening = sum(r["spend"] for r in a.daily_stats(day, as_of=datetime(2026, 9, 3, 18)))
    assert morning < half < evening < final
    assert a.daily_stats(day, as_of=day - timedelta(days=1)) == []


def test_windows_consistent(accounts):
    for a in accounts:
        for r in a.daily_stats(date(2026, 8, 1), as_of=TODAY):
            w = r["purchases_by_window"]
            assert w["1d_click"] <= w["7d_click"] <= w["28d_click"]
            assert r["purchases"] == w["7d_click"] + w["1d_view"]
            v = r["purchase_value_by_window"]
            assert r["purchase_value"] == v["7d_click"] + v["1d_view"]


def test_no_delivery_outside_range(accounts):
    assert accounts[0].daily_stats(START - timedelta(days=1), as_of=TODAY) == []
    assert accounts[0].daily_stats(END + timedelta(days=1), as_of=END + timedelta(days=5)) == []


def test_truth_shape(accounts):
    rows = truth(accounts[0], date(2026, 10, 1), date(2026, 10, 7), as_of=TODAY)
    assert rows and set(rows[0]) == {"account_id", "campaign_id", "date", "spend", "impressions", "clicks",
                                     "purchases", "purchase_value"}
    assert rows == sorted(rows, key=lambda r: (r["date"], r["campaign_id"]))
    assert {r["date"] for r in rows} == {date(2026, 10, 1) + timedelta(days=i) for i in range(7)}
