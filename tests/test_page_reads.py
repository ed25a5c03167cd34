"""The pages' one-statement reads give exactly what their plain forms (the reports, one period at a time) give."""

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from dashboard import queries
from database import session_scope
from ingest import fx
from tests.reporting.warehouse import add_customers, add_order, add_rates, add_spend

PERIODS = {"current": (date(2026, 3, 4), date(2026, 3, 8)), "previous": (date(2026, 2, 27), date(2026, 3, 3))}


def plain_daily_overview(session, shop_id, start, end) -> list[dict]:
    """daily-revenue and mer-roas merged per day: what the Overview read before it asked for both periods at once."""
    days: dict = {}
    for row in queries.read_report(session=session, report="daily-revenue", shop_id=shop_id, start=start, end=end):
        days[row["date"]] = dict(row)
    for row in queries.read_report(session=session, report="mer-roas", shop_id=shop_id, start=start, end=end):
        day = days.setdefault(row["date"], {"date": row["date"], "currency": row["currency"]})
        day.update(spend=row["spend"], purchase_value=row["purchase_value"], mer_sales=row["mer_sales"],
                   fx_estimated=bool(day.get("fx_estimated")) or bool(row["fx_estimated"]))
        day.setdefault("total_sales", row["total_sales"])
    return [days[day] for day in sorted(days)]


def plain_store_totals(session, start, end) -> list[dict]:
    """Each store's totals straight from reporting.mer_roas."""
    return [dict(row) for row in session.execute(text("""
        SELECT sh.shop_id, sh.name, sh.currency, max(m.reporting_currency) AS reporting_currency,
               coalesce(sum(m.total_sales), 0) AS total_sales, coalesce(sum(m.spend), 0) AS spend,
               CASE WHEN bool_and(m.fx_rate IS NOT NULL) THEN round(sum(m.total_sales * m.fx_rate), 2) END
                   AS total_sales_reporting,
               CASE WHEN bool_and(m.fx_rate IS NOT NULL) THEN round(sum(m.spend * m.fx_rate), 2) END AS spend_reporting,
               coalesce(bool_or(m.fx_estimated), false) AS fx_estimated
        FROM reporting.shop_directory sh
        LEFT JOIN reporting.mer_roas m ON m.shop_id = sh.shop_id AND m.day BETWEEN :start AND :end
        GROUP BY sh.shop_id, sh.name, sh.currency ORDER BY lower(sh.name), sh.shop_id
    """), {"start": start, "end": end}).mappings()]


def plain_repeat_rates(session, shop_id, periods) -> dict[str, dict]:
    """Each period joined to every customer of reporting.customer_summary."""
    names = list(periods)
    rows = session.execute(text("""
        SELECT p.name AS period, count(*) AS customers, count(*) FILTER (WHERE c.orders >= 2) AS repeat_customers,
               round(count(*) FILTER (WHERE c.orders >= 2)::numeric / nullif(count(*), 0), 4) AS repeat_rate
        FROM unnest(CAST(:names AS text[]), CAST(:starts AS date[]), CAST(:ends AS date[])) AS p(name, lo, hi)
        JOIN reporting.customer_summary c ON c.first_order_day <= p.hi AND c.last_order_day >= p.lo
        WHERE CAST(:shop_id AS bigint) IS NULL OR c.shop_id = :shop_id
        GROUP BY p.name
    """), {"shop_id": shop_id, "names": names, "starts": [periods[n][0] for n in names],
           "ends": [periods[n][1] for n in names]}).mappings()
    return {row["period"]: dict(row) for row in rows}


def test_repeat_rates_from_first_and_last_order_counts_equal_every_customer_against_every_period(
        scheduler_sessions, make_shop):
    # A customer ordered in [lo, hi] when first <= hi and last >= lo; those with last < lo have first <= hi,
    # so the count is (firsts up to hi) - (lasts before lo). Random customers of 1 to 4 orders in three stores
    # over two months (two timezones), then random periods, inside, around and outside the orders.
    chooser = random.Random(14)
    shops = [make_shop(currency="EUR", timezone="UTC"), make_shop(currency="EUR", timezone="America/New_York"),
             make_shop(currency="GBP", timezone="Asia/Tokyo")]
    first = datetime(2026, 2, 1, tzinfo=UTC)
    for shop in shops:
        add_customers(scheduler_sessions, shop, [
            (f"c{n}", first + timedelta(hours=chooser.randrange(60 * 24)), "10.00")
            for n in range(120) for _ in range(chooser.choice((1, 1, 2, 3, 4)))])
    days = [date(2026, 1, 25) + timedelta(days=d) for d in range(75)]
    with session_scope(scheduler_sessions) as session:
        for _ in range(60):
            periods = {}
            for name in ("current", "previous", "other"):
                lo = chooser.choice(days)
                periods[name] = (lo, lo + timedelta(days=chooser.choice((0, 0, 1, 6, 13, 30, 90))))
            for shop_id in (*shops, None):
                assert queries.read_repeat_rates(session=session, shop_id=shop_id, periods=periods) == \
                    plain_repeat_rates(session, shop_id, periods), (shop_id, periods)
        whole = queries.read_repeat_rates(session=session, shop_id=None, periods={"all": (days[0], days[-1])})
        assert whole["all"]["customers"] == 360 and 0 < whole["all"]["repeat_customers"] < 360
        with pytest.raises(ValueError, match="ends before it starts"):
            queries.read_repeat_rates(session=session, shop_id=None, periods={"bad": (days[1], days[0])})


def test_overview_days_and_store_totals_for_both_periods_equal_the_reports(scheduler_sessions, make_shop):
    # A EUR and a GBP store, USD ad accounts; sales days, spend-only days, a weekend on Friday's rate, a day
    # before any GBP rate (All stores' money unknown), and a store with nothing in the range.
    euro, pound = make_shop(currency="EUR", timezone="UTC"), make_shop(currency="GBP", timezone="UTC")
    make_shop(currency="EUR", timezone="UTC", name="Quiet")
    add_rates(scheduler_sessions, "2026-02-26", USD="1.0800")
    for day, gbp, usd in (("2026-03-02", "0.8400", "1.0900"), ("2026-03-06", "0.8500", "1.1000"),
                          ("2026-03-09", "0.8600", "1.1100")):
        add_rates(scheduler_sessions, day, GBP=gbp, USD=usd)
    for n, (shop, day, gross) in enumerate([(euro, 27, "10000.00"), (euro, 28, "12.50"), (pound, 28, "7654.32"),
                                            (euro, 4, "20.00"), (pound, 4, "30123.10"), (pound, 7, "8.99"),
                                            (euro, 8, "15.00"), (pound, 8, "41.00")]):
        month = 2 if day > 20 else 3
        add_order(scheduler_sessions, shop, f"o{n}", datetime(2026, month, day, 12, tzinfo=UTC), gross=gross,
                  tax="1.00", customer=f"c{n % 3}")
    # The GBP account's spend-only day converts at an earlier day's rate only from pounds to the reporting currency.
    for shop, day, spend, currency in [(euro, "2026-02-28", "3.00", "USD"), (euro, "2026-03-01", "4.00", "USD"),
                                       (pound, "2026-03-05", "6.10", "GBP"), (pound, "2026-03-07", "2.00", "USD"),
                                       (euro, "2026-03-08", "5.55", "USD")]:
        add_spend(scheduler_sessions, shop, day, spend=spend, currency=currency, purchase_value="9.99",
                  account=f"act_{shop}_{currency}")
    with session_scope(scheduler_sessions) as session:
        for shop_id in (euro, pound, None):
            fast, stores = queries.read_overview(session=session, shop_id=shop_id, periods=PERIODS)
            for name, (start, end) in PERIODS.items():
                assert fast[name] == plain_daily_overview(session, shop_id, start, end), (shop_id, name)
        for shop_id in (euro, pound, None):  # and a period without customers: no entry, as before
            some = PERIODS | {"empty": (date(2025, 1, 1), date(2025, 1, 31)), "late": (date(2026, 3, 8),) * 2}
            rates = queries.read_repeat_rates(session=session, shop_id=shop_id, periods=some)
            assert rates == plain_repeat_rates(session, shop_id, some) and "empty" not in rates, shop_id
        for name, (start, end) in PERIODS.items():  # All stores' (the loop's last)
            assert stores[name] == plain_store_totals(session, start, end), name
    assert any(row["total_sales"] is None for row in fast["previous"])  # the day before a GBP rate
    assert any("orders" not in row for row in fast["current"])  # a spend-only day


def test_all_stores_ranked_by_units_equal_every_day_summed_and_converted(scheduler_sessions, make_shop):
    # A EUR and a GBP store, products with two variants sold over two months and their edges, some days returned.
    rates = "".join(f"2026-{m:02d}-{d:02d},{0.80 + (m * 31 + d) % 9 / 100:.4f},{1.05 + d / 100},\n"
                    for m in (2, 3, 4) for d in (2, 9))
    with session_scope(scheduler_sessions) as session:  # the reporting currency is neither store's
        fx.load(session=session, content="Date,GBP,USD,\n" + rates)
        session.execute(text("UPDATE app_dashboard.agency_settings SET reporting_currency = 'USD'"))
    shops = [make_shop(currency="EUR", timezone="UTC"), make_shop(currency="GBP", timezone="UTC")]
    with session_scope(scheduler_sessions) as session:
        for k, shop in enumerate(shops):
            session.execute(text("""
                INSERT INTO reporting.daily_products (shop_id, day, product_id, variant_id, product_title,
                                                      variant_title, sku, units_sold, units_returned, net_sales)
                SELECT :s, d::date, 'p' || :k || n, 'v' || :k || n || v, 'Product ' || n, 'Size ' || v, 'SKU' || v,
                       (n * 7 + v * 3 + extract(day FROM d)::int) % 11, (n + extract(day FROM d)::int) % 5 / 4,
                       ((n * 37 + v * 11 + extract(doy FROM d)::int * 13) % 900 - 150) / 10.0
                FROM generate_series(1, 12) n, generate_series(1, 2) v,
                     generate_series(date '2026-02-20', date '2026-04-10', interval '2 days') d"""),
                {"s": shop, "k": k})
            session.execute(text("""
                INSERT INTO reporting.monthly_products (shop_id, month, product_id, variant_id, product_title,
                    variant_title, sku, units_sold, units_returned, net_sales, net_sales_gains, net_sales_losses)
                SELECT shop_id, date_trunc('month', day), product_id, variant_id, max(product_title),
                       max(variant_title), max(sku), sum(units_sold), sum(units_returned), sum(net_sales),
                       sum(greatest(net_sales, 0)), sum(least(net_sales, 0))
                FROM reporting.daily_products WHERE shop_id = :s GROUP BY 1, 2, 3, 4"""), {"s": shop})  # as the flush,
            session.execute(text("SELECT reporting.reconvert_months(NULL, :s, '-infinity')"), {"s": shop})  # converted
    for start, end in ((date(2026, 2, 25), date(2026, 4, 5)), (date(2026, 3, 1), date(2026, 3, 31)),
                       (date(2026, 3, 10), date(2026, 3, 20))):
        params = {"shop_id": None, "start": start, "end": end}
        with session_scope(scheduler_sessions) as session:
            for level, variant in (("variant", True), ("product", False)):
                ranked = queries.read_top_products(session=session, **params, level=level, order="units_sold")
                summed = session.execute(text(queries._top_summed(True, variant, "units_sold")), params).mappings()
                assert ranked == [dict(row) for row in summed], (start, level)
                assert len(ranked) == (48 if variant else 24) and ranked[0]["net_sales"] is not None
