"""The Overview's pure parts: buckets by day, week and month, totals and ratios, figures, header words, links."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import plotly.graph_objects as go
import pytest

from dashboard import charts, explain, page_header, selection
from dashboard.metrics import METRICS


def _day(day: str, **values) -> dict:
    return {"date": date.fromisoformat(day), **{k: Decimal(str(v)) for k, v in values.items()}}


ROWS = [
    _day("2026-11-29", orders=2, gross_sales=100, discounts=10, total_sales=120, spend=40, purchase_value=60,
         new_customers=1, returning_customers=1),  # a Sunday
    _day("2026-11-30", orders=1, gross_sales=50, discounts=0, total_sales=55, spend=0, new_customers=1),  # Monday
    _day("2026-12-01", orders=3, gross_sales=90, discounts=0, total_sales=99, spend=30, purchase_value=30,
         new_customers=0, returning_customers=3),
]


@pytest.mark.parametrize("day,grain,start", [
    ("2026-12-01", "day", "2026-12-01"),
    ("2026-12-01", "week", "2026-11-30"),  # weeks start on Monday
    ("2026-11-29", "week", "2026-11-23"),  # a Sunday belongs to the week before
    ("2026-12-31", "month", "2026-12-01"),
    ("2024-02-29", "month", "2024-02-01"),
])
def test_bucket_start(day, grain, start):
    assert charts.bucket_start(date.fromisoformat(day), grain) == date.fromisoformat(start)


def test_weeks_sum_their_days_and_recompute_their_ratios():
    weeks = charts.bucket(ROWS, "week", date(2026, 11, 29), date(2026, 12, 1))
    assert [w["date"] for w in weeks] == [date(2026, 11, 23), date(2026, 11, 30)]
    assert (weeks[1]["orders"], weeks[1]["total_sales"], weeks[1]["spend"]) == (4, Decimal(154), Decimal(30))
    assert weeks[1]["mer"] == Decimal("5.13")  # 154 / 30, not the mean of each day's MER
    assert weeks[1]["aov"] == Decimal("35.00")  # (140 - 0) / 4


def test_months_cover_every_day_and_empty_days_count_as_zero():
    months = charts.bucket(ROWS[:1], "month", date(2026, 11, 1), date(2026, 12, 31))
    assert [m["date"] for m in months] == [date(2026, 11, 1), date(2026, 12, 1)]
    assert months[1]["orders"] == 0 and months[1]["mer"] is None and months[1]["aov"] is None


def test_days_outside_the_range_are_left_out_and_every_day_has_a_row():
    days = charts.bucket(ROWS, "day", date(2026, 11, 30), date(2026, 12, 2))
    assert [d["date"].day for d in days] == [30, 1, 2] and days[-1]["total_sales"] == 0


def test_totals_and_derived_metrics():
    total = charts.totals(ROWS)
    assert (total["orders"], total["total_sales"], total["spend"]) == (6, Decimal(274), Decimal(70))
    assert total["aov"] == Decimal("38.33")  # (240 - 10) / 6
    assert total["mer"] == Decimal("3.91") and total["roas"] == Decimal("1.29")
    assert total["cac"] == Decimal("35.00")  # 70 / 2 new customers
    assert total["new_customer_share"] == Decimal("0.3333") and total["returning_rate"] == Decimal("0.6667")


def test_no_spend_means_no_mer_roas_or_cac_rather_than_zero():
    total = charts.totals([_day("2026-11-30", orders=1, gross_sales=50, discounts=0, total_sales=55, spend=0,
                                new_customers=1)])
    assert total["mer"] is None and total["roas"] is None and total["cac"] is None


def test_a_day_that_could_not_be_converted_makes_its_bucket_unknown_not_smaller():
    rows = [_day("2026-11-30", total_sales=10, orders=1), {"date": date(2026, 12, 1), "total_sales": None,
                                                            "orders": 2, "fx_estimated": True}]
    total = charts.totals(rows)
    assert total["total_sales"] is None and total["orders"] == 3 and total["fx_estimated"] is True


def test_sales_chart_draws_sales_and_spend_in_their_colours():
    figure = charts.sales_and_spend(charts.bucket(ROWS, "day", date(2026, 11, 29), date(2026, 12, 1)), "EUR")
    assert [t.name for t in figure.data] == ["Total sales", "Ad spend"]
    assert figure.data[0].line.color == METRICS["total_sales"].colour
    assert list(figure.data[0].y) == [Decimal(120), Decimal(55), Decimal(99)]
    assert figure.layout.yaxis.title.text == "EUR"


def test_orders_chart_puts_aov_on_the_right_axis():
    figure = charts.orders_and_aov(charts.bucket(ROWS, "day", date(2026, 11, 29), date(2026, 12, 1)), "EUR")
    assert [(t.type, t.name) for t in figure.data] == [("bar", "Orders"), ("scatter", "AOV")]
    assert figure.data[1].yaxis == "y2" and list(figure.data[0].y) == [2, 1, 3]


def test_customers_chart_stacks_new_and_returning():
    figure = charts.new_and_returning(charts.bucket(ROWS, "day", date(2026, 11, 29), date(2026, 12, 1)))
    assert figure.layout.barmode == "stack"
    assert [list(t.y) for t in figure.data] == [[1, 1, 0], [1, 0, 3]]


def test_every_figure_is_one_plotly_validates_and_keeps_its_template():
    # The builders skip Plotly's property checks for speed: a misspelt property must still fail here.
    rows = charts.bucket(ROWS, "day", date(2026, 11, 29), date(2026, 12, 1))
    trend = [{"date": date(2026, 11, 29), "spend": Decimal(4), "purchase_value": Decimal(9), "roas": Decimal(2),
              "currency": "EUR"}]
    for figure in (charts.sales_and_spend(rows, "EUR"), charts.mer_and_roas(rows, "MER on all channels"),
                   charts.orders_and_aov(rows, "EUR"), charts.new_and_returning(rows), charts.campaign_trend(trend)):
        spec = figure.to_dict()
        assert go.Figure(spec).to_dict() == spec and spec["layout"]["template"] == charts.TEMPLATE_JSON
    assert charts.mer_and_roas(rows, "MER on all channels").data[0].name == "MER on all channels"


def test_empty_periods_say_why():
    empty = charts.bucket([], "day", date(2026, 11, 1), date(2026, 11, 3))
    for figure, words in ((charts.sales_and_spend(empty, "EUR"), "No sales"), (charts.mer_and_roas(empty), "No ad"),
                          (charts.orders_and_aov(empty, "EUR"), "No orders"),
                          (charts.new_and_returning(empty), "No customers")):
        assert figure.data == () and words in figure.layout.annotations[0].text


NOW = datetime(2026, 12, 1, 11, 40, tzinfo=UTC)


def _summary(source, at, *, shop_id=1, name="Alpine", percent=None, running=None):
    return SimpleNamespace(shop_id=shop_id, shop_name=name, source=source, last_success_at=at, running=running,
                           percent=None, completeness={"percent": percent})


def test_freshness_is_said_in_the_stores_timezone_and_for_several_the_stalest():
    summaries = [_summary("shopify", NOW - timedelta(minutes=5)), _summary("meta", NOW - timedelta(hours=1)),
                 _summary("shopify", NOW - timedelta(days=1), shop_id=2, name="Beta")]
    text = page_header.freshness_text(summaries, timezone="Europe/Berlin", now=NOW)
    assert text == "Shopify as of 30 Nov 12:40 · Meta as of 11:40 (Europe/Berlin)"
    one = page_header.freshness_text(summaries[:2], timezone="Europe/Berlin", now=NOW)
    assert one == "Shopify as of 12:35 · Meta as of 11:40 (Europe/Berlin)"
    assert page_header.freshness_text([_summary("shopify", None)], timezone="UTC", now=NOW) == (
        "Shopify: not synced yet (UTC)")
    assert page_header.freshness_text([], timezone="UTC", now=NOW) == "No data synced yet"


def test_backfill_warning_names_each_store_still_loading():
    summaries = [_summary("shopify", NOW, shop_id=1, name="Alpine", percent=62.5),
                 _summary("shopify", NOW, shop_id=2, name="Beta", percent=100.0),
                 _summary("shopify", NOW, shop_id=3, name="Coffee", percent=None)]
    stores = page_header.incomplete_backfills(summaries, {1: True, 2: True, 3: False})
    assert stores == [("Alpine", 62.5), ("Coffee", None)]
    key, colour, text = page_header.backfill_warning(stores)
    assert (key, colour) == ("backfill", "warning")
    assert text == ("Order history still loading for Alpine (62.5%), Coffee: figures may be incomplete until "
                    "they are done.")
    assert page_header.backfill_warning([("Alpine", 12)])[2].endswith("(12%): figures may be incomplete until it "
                                                                       "is done.")
    assert page_header.backfill_warning([]) is None


def test_fx_and_no_ad_account_notes():
    assert page_header.fx_warning(False) is None and "earlier day's exchange rate" in page_header.fx_warning(True)[2]
    assert page_header.no_ads_note(["Alpine"])[2].startswith("Alpine has no Meta ad account linked: no ad spend "
                                                            "is counted for it.")
    assert "Alpine, Beta have no Meta ad account" in page_header.no_ads_note(["Alpine", "Beta"])[2]
    assert page_header.no_ads_note([]) is None


def test_period_text_names_the_comparison():
    chosen = selection.parse("?shop=all&preset=custom&start=2026-11-01&end=2026-11-30", today=date(2026, 12, 1))
    assert page_header.period_text(chosen) == "1 Nov – 30 Nov 2026 · compared with 2 Oct – 31 Oct 2026"


def test_admin_links_use_the_stores_handle_and_the_orders_number():
    assert explain.admin_url("alpine-outfitters.myshopify.com", "gid://shopify/Order/77", 7005500000464) == (
        "https://admin.shopify.com/store/alpine-outfitters/orders/7005500000464")
    assert explain.admin_url("beta.myshopify.com", "gid://shopify/Order/77", None) == (
        "https://admin.shopify.com/store/beta/orders/77")


@pytest.mark.parametrize("arg,grain,days", [
    ("2026-11-10", "day", ("2026-11-10", "2026-11-10")),
    ("2026-11-09", "week", ("2026-11-09", "2026-11-15")),
    ("2026-11-01", "month", ("2026-11-03", "2026-11-30")),  # clipped to the selected period
    ("total_sales", "day", ("2026-11-03", "2026-11-30")),
])
def test_explain_covers_the_clicked_bucket_or_the_whole_period(arg, grain, days):
    chosen = selection.parse(f"?preset=custom&start=2026-11-03&end=2026-11-30&grain={grain}", today=date(2026, 12, 1))
    assert explain.days_of(arg, chosen) == tuple(date.fromisoformat(d) for d in days)
    assert explain.days_of("not-a-metric", chosen) is None


def test_a_periods_explain_reads_only_its_latest_days_that_fit_the_table():
    daily = [{"date": date(2026, 11, d), "orders": 100} for d in range(1, 31)]
    assert explain.window_start(daily, date(2026, 11, 1), date(2026, 11, 30), cap=500) == date(2026, 11, 26)
    assert explain.window_start(daily[:3], date(2026, 11, 1), date(2026, 11, 30), cap=500) == date(2026, 11, 1)
    assert explain.window_start([], date(2026, 11, 1), date(2026, 11, 30)) == date(2026, 11, 1)


def test_without_any_spend_the_sales_chart_draws_no_flat_spend_line():
    rows = charts.bucket([_day("2026-11-30", total_sales=55, spend=0)], "day", date(2026, 11, 30), date(2026, 12, 1))
    assert [t.name for t in charts.sales_and_spend(rows, "EUR").data] == ["Total sales"]


def test_sales_by_channel_puts_the_largest_on_top_with_its_money_and_orders():
    figure = charts.sales_by_channel([
        {"channel": "Shopify", "orders": 3, "sales": Decimal("100.00")},
        {"channel": "Amazon", "orders": 1, "sales": Decimal("250.00")},
        {"channel": "Zalando", "orders": 2, "sales": None},  # a missing rate: not drawn as zero
    ], "EUR")
    bar = figure.data[0]
    assert list(bar.y) == ["Shopify", "Amazon"] and list(bar.text) == ["€100.00", "€250.00"]
    assert charts.sales_by_channel([], "EUR").layout.annotations[0].text == "No sales in this period"
