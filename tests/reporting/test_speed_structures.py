"""The structures that make reports fast give the same figures as the plain definitions they replace."""

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from dashboard import queries
from database import session_scope, set_app_user
from ingest import fx
from tests.reporting.warehouse import add_customers, add_order, add_spend, fetch
from tests.test_page_reads import plain_repeat_rates

# Rates on two weekdays a weekend apart, and a reload that changes one of them.
RATES = """Date,USD,GBP,
2026-03-09,1.0900,0.8500,
2026-03-06,1.0850,0.8450,
"""
CHANGED = "Date,USD,\n2026-03-06,1.1000,\n"
SPOT_DAYS = [date(2026, 3, 5), date(2026, 3, 6), date(2026, 3, 8), date(2026, 3, 9), date(2027, 6, 1),
             date(2040, 1, 1)]  # before the first rate, a rate, a weekend, a later rate, far ahead, past the horizon


def conversions(sessions, *, dense: bool) -> list:
    """(from, to, day, rate, rate day) through the views' dense table (or reporting.fx itself)."""
    rows = []
    for source in ("EUR", "USD", "GBP"):
        for target in ("EUR", "USD", "GBP"):
            for day in SPOT_DAYS:
                sql = ("SELECT r.rate, r.rate_day FROM reporting.fx(:f, :t, :d) r" if not dense else
                       "SELECT CASE WHEN :f = :t THEN 1 ELSE t.per_euro / f.per_euro END AS rate, "
                       "CASE WHEN :f = :t THEN CAST(:d AS date) ELSE least(f.rate_day, t.rate_day) END AS rate_day "
                       "FROM reporting.fx_daily f JOIN reporting.fx_daily t ON t.day = f.day "
                       "WHERE f.currency = :f AND t.currency = :t AND f.day = :d "
                       "UNION ALL SELECT 1, CAST(:d AS date) WHERE :f = :t AND NOT EXISTS "
                       "(SELECT FROM reporting.fx_daily WHERE currency = :f AND day = :d)")
                found = fetch(sessions, sql, f=source, t=target, d=day)
                rows.append((source, target, day, *(tuple(found[0].values()) if found else (None, None))))
    return rows


def covered(sessions, day: date) -> bool:
    return bool(fetch(sessions, "SELECT 1 FROM reporting.fx_daily WHERE currency = 'USD' AND day = :d", d=day))


def test_the_dense_rates_equal_reporting_fx_on_every_day_they_cover_and_follow_a_reload(scheduler_sessions):
    for content in (RATES, CHANGED):
        with session_scope(scheduler_sessions) as session:
            fx.load(session=session, content=content)
        dense, direct = conversions(scheduler_sessions, dense=True), conversions(scheduler_sessions, dense=False)
        covered_days = {d for d in SPOT_DAYS if covered(scheduler_sessions, d)}
        assert covered_days == {date(2026, 3, 6), date(2026, 3, 8), date(2026, 3, 9), date(2027, 6, 1)}
        assert [r for r in dense if r[2] in covered_days or r[0] == r[1]] == \
               [r for r in direct if r[2] in covered_days or r[0] == r[1]]
    usd = fetch(scheduler_sessions, "SELECT per_euro FROM reporting.fx_daily WHERE currency = 'USD' "
                "AND day = '2026-03-08'")
    assert str(usd[0]["per_euro"]) == "1.1000"  # the reload's rate reached the weekend after it


def test_views_read_a_day_past_the_dense_rates_through_reporting_fx(scheduler_sessions, make_shop):
    with session_scope(scheduler_sessions) as session:
        fx.load(session=session, content=RATES)
        session.execute(text("UPDATE app_dashboard.agency_settings SET reporting_currency = 'USD'"))
    shop = make_shop(currency="GBP", timezone="UTC")
    add_order(scheduler_sessions, shop, "far", datetime(2040, 1, 1, 12, tzinfo=UTC), gross="10.00")
    row = fetch(scheduler_sessions, "SELECT fx_rate, fx_estimated FROM reporting.daily_revenue WHERE shop_id = :s",
                s=shop)[0]
    direct = fetch(scheduler_sessions, "SELECT rate FROM reporting.fx('GBP', 'USD', '2040-01-01')")[0]
    assert row == {"fx_rate": direct["rate"], "fx_estimated": True}


def brute_force_top_customers(sessions, start: date, end: date) -> list[dict]:
    """The all-stores top customers as the plain definition: every customer converted, then sorted."""
    return fetch(sessions, f"""
        SELECT shop_domain, customer_id, display_name, email, first_order_day, last_order_day, orders,
               reporting_currency AS currency, round(net_sales * fx_rate, 2) AS net_sales, fx_estimated
        FROM reporting.customer_summary WHERE first_order_day <= :end AND last_order_day >= :start
        ORDER BY round(net_sales * fx_rate, 2) DESC NULLS LAST, customer_id LIMIT {queries.TOP_ROWS}""",
                 start=start, end=end)


def test_all_stores_top_customers_equal_every_customer_converted_and_sorted(scheduler_sessions, make_shop):
    # Two stores in two currencies, more customers than the report lists, amounts close enough that the
    # rates reorder them: the bound must keep every customer who can make the list.
    with session_scope(scheduler_sessions) as session:
        fx.load(session=session, content=RATES)
    shops = [make_shop(currency="EUR", timezone="UTC"), make_shop(currency="GBP", timezone="UTC")]
    first = datetime(2026, 3, 6, 9, tzinfo=UTC)
    for n in range(130):
        for k, shop in enumerate(shops):
            at = first + timedelta(days=3 * (n % 2), hours=n % 7)  # Friday or Monday: two GBP rates
            add_order(scheduler_sessions, shop, f"o{n}", at, gross=f"{100 + (n * 37 + k * 11) % 90}.{n % 100:02d}",
                      customer=f"c{n}")
    for start, end in ((date(2026, 3, 1), date(2026, 3, 31)), (date(2026, 3, 9), date(2026, 3, 9)),
                       (date(2026, 3, 1), date(2026, 4, 30))):  # a short range, a day, a long range
        with session_scope(scheduler_sessions) as session:
            fast = queries.read_report(session=session, report="top-customers", shop_id=None, start=start, end=end)
        expected = brute_force_top_customers(scheduler_sessions, start, end)
        assert len(expected) == queries.TOP_ROWS and fast == expected


def tied_stores(sessions, make_shop) -> list[int]:
    """Two EUR stores and a GBP one, 60 customers each, net sales from three amounts: ties within a store,
    across stores (the same euros) and at the list's cut, which falls inside a group of equal figures."""
    with session_scope(sessions) as session:
        fx.load(session=session, content=RATES)
    shops = [make_shop(currency="EUR", timezone="UTC"), make_shop(currency="EUR", timezone="UTC"),
             make_shop(currency="GBP", timezone="UTC")]
    first = datetime(2026, 3, 6, 9, tzinfo=UTC)
    for k, shop in enumerate(shops):
        add_customers(sessions, shop, [(f"c{n:02d}", first + timedelta(days=3 * (n % 2), hours=n % 5),
                                        ("50.00", "75.00", "100.00")[(n + k) % 3]) for n in range(60)]
                      + [(f"c{n:02d}", first + timedelta(days=n % 4), "25.00") for n in range(0, 60, 7)])
    return shops


def plain_top_customers(session, shop_id: int, start: date, end: date) -> list[dict]:
    """One store's top customers as the plain definition: net sales descending, then the customer."""
    return [dict(row) for row in session.execute(text(f"""
        SELECT shop_domain, customer_id, display_name, email, first_order_day, last_order_day, orders, currency,
               net_sales, false AS fx_estimated
        FROM reporting.customer_summary
        WHERE shop_id = :s AND first_order_day <= :end AND last_order_day >= :start
        ORDER BY net_sales DESC NULLS LAST, customer_id LIMIT {queries.TOP_ROWS}"""),
        {"s": shop_id, "start": start, "end": end}).mappings()]


RANGES = ((date(2026, 3, 1), date(2026, 3, 31)), (date(2026, 3, 9), date(2026, 3, 9)),
          (date(2026, 3, 1), date(2026, 4, 30)))  # a short range, a day, a long range


def test_top_customers_with_ties_equal_the_plain_definition(scheduler_sessions, make_shop):
    shops = tied_stores(scheduler_sessions, make_shop)
    for start, end in RANGES:
        with session_scope(scheduler_sessions) as session:
            fast = queries.read_report(session=session, report="top-customers", shop_id=None, start=start, end=end)
            ones = {shop: (queries.read_report(session=session, report="top-customers", shop_id=shop, start=start,
                                               end=end), plain_top_customers(session, shop, start, end))
                    for shop in shops}
        expected = brute_force_top_customers(scheduler_sessions, start, end)
        assert fast == expected and len(expected) >= 90  # the day has 90: no bound, every customer read
        assert len({row["net_sales"] for row in fast}) < len(fast) / 5  # ties decide most of the order
        for shop, (one, plain) in ones.items():
            assert one == plain and len({row["net_sales"] for row in one}) < len(one), shop


def test_a_reader_of_some_stores_gets_their_top_customers_and_repeat_rates_and_no_others(
        scheduler_sessions, web_sessions, make_shop, make_user):
    # The hidden store's customers outspend everyone: any leak would top the list.
    shops = tied_stores(scheduler_sessions, make_shop)
    hidden = make_shop(currency="EUR", timezone="UTC")
    add_customers(scheduler_sessions, hidden, [(f"h{n}", datetime(2026, 3, 6, 12, tzinfo=UTC), "9999.00")
                                               for n in range(120)])
    reader, nobody = make_user("some-stores@example.com", shops=shops[1:]), make_user("no-stores@example.com")
    periods = {"current": (date(2026, 3, 7), date(2026, 3, 31)), "previous": (date(2026, 3, 1), date(2026, 3, 6))}
    for start, end in RANGES:
        with session_scope(web_sessions) as session:
            set_app_user(session, reader)
            fast = queries.read_report(session=session, report="top-customers", shop_id=None, start=start, end=end)
            expected = [dict(row) for row in session.execute(text(f"""
                SELECT shop_domain, customer_id, display_name, email, first_order_day, last_order_day, orders,
                       reporting_currency AS currency, round(net_sales * fx_rate, 2) AS net_sales, fx_estimated
                FROM reporting.customer_summary WHERE first_order_day <= :end AND last_order_day >= :start
                ORDER BY round(net_sales * fx_rate, 2) DESC NULLS LAST, customer_id LIMIT {queries.TOP_ROWS}"""),
                {"start": start, "end": end}).mappings()]
            of_hidden = queries.read_report(session=session, report="top-customers", shop_id=hidden, start=start,
                                            end=end)
            rates = queries.read_repeat_rates(session=session, shop_id=None, periods=periods)
            plain_rates = plain_repeat_rates(session, None, periods)
            hidden_rates = queries.read_repeat_rates(session=session, shop_id=hidden, periods=periods)
        domains = {row["shop_domain"] for row in fast}
        assert fast == expected and fast and of_hidden == [] and hidden_rates == {}
        assert not any(row["customer_id"].startswith("h") for row in fast) and len(domains) == 2
        assert rates == plain_rates and rates["current"]["customers"] < 120
    with session_scope(web_sessions) as session:  # a member of no store: nothing at all
        set_app_user(session, nobody)
        assert queries.read_report(session=session, report="top-customers", shop_id=None, start=RANGES[2][0],
                                   end=RANGES[2][1]) == []
        assert queries.read_repeat_rates(session=session, shop_id=None, periods=periods) == {}


def add_sale(session, shop: int, order: str, at: datetime, product: str, amount: int, action: str = "ORDER") -> None:
    """An order (once) with a line item of `product`, and one sale (or return) of it at `at`."""
    session.execute(text(
        "INSERT INTO core_warehouse.orders (shop_id, order_id, created_at, updated_at, raw) "
        "VALUES (:s, :o, :at, :at, '{}') ON CONFLICT DO NOTHING"), {"s": shop, "o": order, "at": at})
    session.execute(text(
        "INSERT INTO core_warehouse.order_line_items (shop_id, line_item_id, order_id, order_updated_at, "
        "title, product_id, variant_id, quantity, raw) VALUES (:s, :o, :o, :at, 'Mug', :p, :p, 1, '{}') "
        "ON CONFLICT DO NOTHING"), {"s": shop, "o": order, "at": at, "p": product})
    agreement = f"{order}-{action}"
    session.execute(text(
        "INSERT INTO core_warehouse.order_agreements (shop_id, agreement_id, order_id, happened_at, raw) "
        "VALUES (:s, :a, :o, :at, '{}')"), {"s": shop, "a": agreement, "o": order, "at": at})
    session.execute(text(
        "INSERT INTO core_warehouse.order_sales (shop_id, sale_id, agreement_id, action_type, line_type, "
        "quantity, line_item_id, total_amount_shop, tax_shop, raw) "
        "VALUES (:s, :a, :a, :action, 'PRODUCT', :q, :o, :total, 0, '{}')"),
        {"s": shop, "a": agreement, "o": order, "action": action, "q": -1 if action == "RETURN" else 1,
         "total": amount})


def plain_top_products(sessions, shop: int | None, start: date, end: date) -> list[dict]:
    """Top products straight from the daily rollup, every row converted for all stores."""
    net = "CASE WHEN bool_and(fx_rate IS NOT NULL) THEN round(sum(net_sales * fx_rate), 2) END" if shop is None \
        else "sum(net_sales)"
    return fetch(sessions, f"""
        SELECT shop_domain, product_id, variant_id, max(product_title) AS product_title,
               max(variant_title) AS variant_title, max(sku) AS sku,
               max({"reporting_currency" if shop is None else "currency"}) AS currency,
               sum(units_sold) AS units_sold, sum(units_returned) AS units_returned, {net} AS net_sales,
               {"bool_or(fx_estimated)" if shop is None else "false"} AS fx_estimated
        FROM reporting.product_daily
        WHERE (CAST(:s AS bigint) IS NULL OR shop_id = :s) AND day BETWEEN :start AND :end
        GROUP BY shop_domain, product_id, variant_id ORDER BY net_sales DESC NULLS LAST, product_id, variant_id
        LIMIT {queries.TOP_ROWS}""", s=shop, start=start, end=end)


def test_one_store_top_products_from_whole_months_and_edge_days_equal_the_daily_sums(scheduler_sessions,
                                                                                        make_shop):
    shop = make_shop(currency="EUR", timezone="UTC")
    with session_scope(scheduler_sessions) as session:
        for n in range(40):
            at = datetime(2025, 12, 20, 10, tzinfo=UTC) + timedelta(days=3 * n)
            add_sale(session, shop, f"o{n}", at, f"p{n % 5}", 10 + n % 7)
    months = fetch(scheduler_sessions, "SELECT count(DISTINCT month) AS n FROM reporting.monthly_products "
                   "WHERE shop_id = :s", s=shop)
    assert months == [{"n": 5}]  # December 2025 to April 2026
    ranges = [(date(2026, 1, 1), date(2026, 3, 31)), (date(2025, 12, 25), date(2026, 2, 10)),
              (date(2026, 1, 5), date(2026, 1, 20)), (date(2026, 2, 1), date(2026, 2, 27)),
              (date(2026, 3, 16), date(2026, 3, 16)), (date(2025, 12, 1), date(2026, 4, 30))]
    for start, end in ranges:
        with session_scope(scheduler_sessions) as session:
            fast = queries.read_report(session=session, report="top-products", shop_id=shop, start=start, end=end)
        assert fast == plain_top_products(scheduler_sessions, shop, start, end), (start, end)


def test_all_stores_top_products_equal_every_day_converted_and_sorted(scheduler_sessions, make_shop):
    # More products than the report lists in a EUR and a GBP store, sales close in value, some returned on a
    # later day (a product's day can be negative): the bounds must keep every product that can make the list.
    rates = "Date,GBP,\n" + "".join(f"2026-{m:02d}-{d:02d},{0.80 + (m * 31 + d) % 9 / 100:.4f},\n"
                                     for m in (3, 4) for d in range(1, 29))
    with session_scope(scheduler_sessions) as session:
        fx.load(session=session, content=rates)
        session.execute(text("UPDATE app_dashboard.agency_settings SET reporting_currency = 'EUR'"))
    shops = [make_shop(currency="EUR", timezone="UTC"), make_shop(currency="GBP", timezone="UTC")]
    first = datetime(2026, 3, 1, 9, tzinfo=UTC)
    with session_scope(scheduler_sessions) as session:
        for n in range(300):
            shop = shops[n % 2]
            at = first + timedelta(days=n % 50, hours=n % 5)
            add_sale(session, shop, f"o{n}", at, f"p{n % 260}", 100 + (n * 37) % 23)
            if n % 11 == 0:
                add_sale(session, shop, f"o{n}", at + timedelta(days=2), f"p{n % 260}", -(100 + (n * 37) % 23),
                         action="RETURN")
        for n in range(8):  # the GBP store sold on a day before the first rate: no bounds for its products
            add_sale(session, shops[1], f"early{n}", datetime(2026, 2, 21, 9, tzinfo=UTC), f"p{2 * n + 1}", 5000)
    ranges = [(date(2026, 3, 1), date(2026, 4, 20)), (date(2026, 3, 10), date(2026, 3, 31)),
              (date(2026, 2, 20), date(2026, 4, 10)),  # begins before the first rate
              (date(2026, 3, 3), date(2026, 3, 30)), (date(2026, 3, 8), date(2026, 4, 14)),  # weeks, no whole month
              (date(2026, 3, 29), date(2026, 4, 19)), (date(2026, 2, 15), date(2026, 4, 28))]  # the 29th's week
    for start, end in ranges:
        with session_scope(scheduler_sessions) as session:
            fast = queries.read_report(session=session, report="top-products", shop_id=None, start=start, end=end)
        expected = plain_top_products(scheduler_sessions, None, start, end)
        assert len(expected) == queries.TOP_ROWS and fast == expected, (start, end)


def plain_months(sessions) -> list[dict]:
    """Each store's months converted straight from the daily view (every day at its own rate)."""
    return fetch(sessions, """
        SELECT shop_id, date_trunc('month', day)::date AS month, product_id, variant_id,
               CASE WHEN bool_and(fx_rate IS NOT NULL) THEN sum(net_sales * fx_rate) END AS net_sales_reporting,
               bool_or(fx_estimated) AS fx_estimated
        FROM reporting.product_daily GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4""")


def plain_campaign_months(sessions) -> list[dict]:
    """Each campaign's months converted straight from the daily view."""
    return fetch(sessions, """
        SELECT shop_id, date_trunc('month', day)::date AS month, account_id, campaign_id,
               CASE WHEN bool_and(fx_rate IS NOT NULL) THEN sum(spend * fx_rate) END AS spend_reporting,
               CASE WHEN bool_and(fx_rate IS NOT NULL) THEN sum(purchase_value * fx_rate) END
                   AS purchase_value_reporting,
               bool_or(fx_estimated) AS fx_estimated, sum(impressions) AS impressions
        FROM reporting.campaign_daily GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4""")


def kept_campaign_months(sessions) -> list[dict]:
    return fetch(sessions, "SELECT shop_id, month, account_id, campaign_id, spend_reporting, "
                 "purchase_value_reporting, fx_estimated, impressions FROM reporting.monthly_campaigns "
                 "ORDER BY 1, 2, 3, 4")


def plain_campaigns(sessions, start: date, end: date) -> list[dict]:
    """All stores' campaigns from every campaign-day converted (the one-store query's shape, converted)."""
    keys = "shop_domain, account_id, campaign_id"
    sql = queries._marketing(True, "reporting.campaign_daily", keys, f"{keys}, max(campaign_name) AS campaign_name",
                             "spend DESC NULLS LAST, campaign_id", named=", campaign_name")
    return fetch(sessions, sql, shop_id=None, start=start, end=end)


def plain_weeks(sessions) -> list[dict]:
    """Each store's weeks of the month (days 1-7, 8-14, 15-21, 22-28, 29 to the end) summed from the daily view."""
    return fetch(sessions, """
        SELECT shop_id, (day - (extract(day FROM day)::int - 1) % 7) AS week, product_id, variant_id,
               sum(units_sold) AS units_sold, sum(net_sales) AS net_sales,
               CASE WHEN bool_and(fx_rate IS NOT NULL) THEN sum(net_sales * fx_rate) END AS net_sales_reporting,
               bool_or(fx_estimated) AS fx_estimated
        FROM reporting.product_daily GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4""")


def kept_weeks(sessions) -> list[dict]:
    return fetch(sessions, "SELECT shop_id, week, product_id, variant_id, units_sold, net_sales, net_sales_reporting, "
                 "fx_estimated FROM reporting.weekly_products ORDER BY 1, 2, 3, 4")


def kept_months(sessions) -> list[dict]:
    return fetch(sessions, "SELECT shop_id, month, product_id, variant_id, net_sales_reporting, fx_estimated "
                 "FROM reporting.monthly_products ORDER BY 1, 2, 3, 4")


def plain_reporting_rates(sessions) -> list[dict]:
    """Every covered day's rate to the reporting currency from the two dense rows the views used to join."""
    return fetch(sessions, """
        SELECT f.currency, f.day,
               CASE WHEN f.currency = a.reporting_currency THEN 1 ELSE t.per_euro / f.per_euro END AS rate,
               CASE WHEN f.currency = a.reporting_currency THEN f.day ELSE least(f.rate_day, t.rate_day) END
                   AS rate_day
        FROM reporting.fx_daily f CROSS JOIN app_dashboard.agency_settings a
        JOIN reporting.fx_daily t ON t.currency = a.reporting_currency AND t.day = f.day ORDER BY 1, 2""")


META_KEPT = ("shop_fx_rate", "spend_shop", "purchase_value_shop", "shop_fx_estimated", "fx_rate", "fx_estimated",
             "shop_reporting_fx_rate", "shop_reporting_fx_estimated")


def meta_keys(table: str) -> str:
    return "shop_id, day, account_id" + (", campaign_id" if table == "daily_campaigns" else "")


def plain_meta(sessions, table: str) -> list[dict]:
    """Each Meta row's rates and store money by migration 0011's definition (reporting.fx for every row)."""
    keys = ", ".join(f"m.{k}" for k in meta_keys(table).split(", "))
    return fetch(sessions, f"""
        SELECT {keys}, s.rate AS shop_fx_rate, round(m.spend * s.rate, 2) AS spend_shop,
               round(m.purchase_value * s.rate, 2) AS purchase_value_shop,
               coalesce(s.rate_day < m.day, true) AS shop_fx_estimated, r.rate AS fx_rate,
               coalesce(r.rate_day < m.day, true) AS fx_estimated, t.rate AS shop_reporting_fx_rate,
               coalesce(t.rate_day < m.day, true) AS shop_reporting_fx_estimated
        FROM reporting.{table} m JOIN app_dashboard.shops sh ON sh.id = m.shop_id
        CROSS JOIN app_dashboard.agency_settings a
        LEFT JOIN LATERAL reporting.fx(m.currency, sh.currency, m.day) s ON true
        LEFT JOIN LATERAL reporting.fx(m.currency, a.reporting_currency, m.day) r ON true
        LEFT JOIN LATERAL reporting.fx(sh.currency, a.reporting_currency, m.day) t ON true
        ORDER BY {keys}""")


def kept_meta(sessions, table: str) -> list[dict]:
    return fetch(sessions, f"SELECT {meta_keys(table)}, {', '.join(META_KEPT)} FROM reporting.{table} "
                 f"ORDER BY {meta_keys(table)}")


SALES_KEPT = ("orders", "units", "new_customers", "returning_customers", *queries.SALES_MONEY, "fx_rate",
              "fx_estimated")


def plain_sales(sessions) -> list[dict]:
    """Each store-day's sales converted by migration 0011's definition (reporting.fx)."""
    money = ", ".join(f"s.{c} * r.rate AS {c}" for c in queries.SALES_MONEY)
    return fetch(sessions, f"""
        SELECT s.shop_id, s.day, s.orders, s.units, s.new_customers, s.returning_customers, {money},
               r.rate AS fx_rate, coalesce(r.rate_day < s.day, true) AS fx_estimated
        FROM reporting.daily_sales s JOIN app_dashboard.shops sh ON sh.id = s.shop_id
        CROSS JOIN app_dashboard.agency_settings a
        LEFT JOIN LATERAL reporting.fx(sh.currency, a.reporting_currency, s.day) r ON true ORDER BY 1, 2""")


def kept_sales(sessions) -> list[dict]:
    return fetch(sessions, f"SELECT shop_id, day, {', '.join(SALES_KEPT)} FROM reporting.daily_sales_converted "
                 "ORDER BY 1, 2")


def plain_all_stores(sessions, report: str, start: date, end: date) -> list[dict]:
    """All stores' daily-revenue or mer-roas from every row of the view converted, then summed per day."""
    money = {c: queries._money(c, True) for c in (*queries.SALES_MONEY, "spend", "purchase_value")}
    if report == "daily-revenue":
        columns = f"""sum(orders) AS orders, sum(units) AS units,
                      {", ".join(f"{money[c]} AS {c}" for c in queries.SALES_MONEY)},
                      round(({money["gross_sales"]} - {money["discounts"]}) / nullif(sum(orders), 0), 2) AS aov,
                      sum(new_customers) AS new_customers, sum(returning_customers) AS returning_customers"""
    else:
        total, spend, value = money["total_sales"], money["spend"], money["purchase_value"]
        columns = f"""{total} AS total_sales, {spend} AS spend, {value} AS purchase_value,
                      sum(new_customers) AS new_customers, round({total} / nullif({spend}, 0), 2) AS mer,
                      round({value} / nullif({spend}, 0), 2) AS roas,
                      round({spend} / nullif(sum(new_customers), 0), 2) AS cac"""
    view = "reporting.daily_revenue" if report == "daily-revenue" else "reporting.mer_roas"
    return fetch(sessions, f"""
        SELECT day AS date, max(reporting_currency) AS currency, {columns}, bool_or(fx_estimated) AS fx_estimated
        FROM {view} WHERE day BETWEEN :start AND :end GROUP BY day ORDER BY day""", start=start, end=end)


def test_converted_months_and_rates_follow_a_late_rate_a_new_reporting_currency_and_a_store_currency(
        scheduler_sessions, make_shop):
    # A GBP and a USD store selling over March and April, the rates first only for early March (every later
    # day estimated from it), then the missing days arrive, then Settings changes the reporting currency, then
    # a store's currency changes: the kept months and the report must equal the daily rows converted each time.
    with session_scope(scheduler_sessions) as session:
        fx.load(session=session, content="Date,GBP,USD,\n2026-03-02,0.8400,1.0800,\n")
        session.execute(text("UPDATE app_dashboard.agency_settings SET reporting_currency = 'EUR'"))
    shops = [make_shop(currency="GBP", timezone="UTC"), make_shop(currency="USD", timezone="UTC")]
    with session_scope(scheduler_sessions) as session:
        for n in range(240):
            at = datetime(2026, 3, 2, 9, tzinfo=UTC) + timedelta(days=n % 55, hours=n % 5)
            add_sale(session, shops[n % 2], f"o{n}", at, f"p{n % 130}", 100 + (n * 37) % 23)
    for n in range(0, 58, 3):  # Meta spend in a USD account of each store, two campaigns
        day = (date(2026, 3, 2) + timedelta(days=n)).isoformat()
        for k, shop in enumerate(shops):
            add_spend(scheduler_sessions, shop, day, spend=f"{20 + n % 7}.{k}3", currency="USD",
                      purchase_value=f"{n % 5}0.10", campaign=f"c{n % 2}")
    add_spend(scheduler_sessions, shops[0], "2026-03-01", spend="7.77", currency="USD")  # before any rate: null
    late = "Date,GBP,USD,\n" + "".join(f"{date(2026, 3, 3) + timedelta(days=n)},{0.80 + n % 9 / 100:.4f},"
                                       f"{1.05 + n % 11 / 100:.4f},\n" for n in range(59))  # to April 30
    changes = [lambda s: fx.load(session=s, content=late),
               lambda s: s.execute(text("UPDATE app_dashboard.agency_settings SET reporting_currency = 'USD'")),
               lambda s: s.execute(text("UPDATE app_dashboard.shops SET currency = 'EUR' WHERE id = :s"),
                                   {"s": shops[0]})]
    for step, change in enumerate([None, *changes]):
        if change is not None:
            with session_scope(scheduler_sessions) as session:
                change(session)
        assert fetch(scheduler_sessions, "SELECT * FROM reporting.fx_reporting ORDER BY 1, 2") == \
            plain_reporting_rates(scheduler_sessions), step
        months = kept_months(scheduler_sessions)
        assert months == plain_months(scheduler_sessions) and len(months) > 200, step
        weeks = kept_weeks(scheduler_sessions)
        assert weeks == plain_weeks(scheduler_sessions) and len(weeks) > len(months), step
        campaign_months = kept_campaign_months(scheduler_sessions)
        assert campaign_months == plain_campaign_months(scheduler_sessions) and len(campaign_months) == 8, step
        for start, end in ((date(2026, 3, 1), date(2026, 4, 30)), (date(2026, 3, 10), date(2026, 4, 20)),
                           (date(2026, 3, 10), date(2026, 4, 30))):
            with session_scope(scheduler_sessions) as session:
                fast = queries.read_report(session=session, report="top-products", shop_id=None, start=start,
                                           end=end)
            assert fast == plain_top_products(scheduler_sessions, None, start, end), (step, start, end)
            with session_scope(scheduler_sessions) as session:
                fast = queries.read_report(session=session, report="campaigns", shop_id=None, start=start, end=end)
            assert fast == plain_campaigns(scheduler_sessions, start, end) and len(fast) == 4, (step, start, end)
            for report in ("daily-revenue", "mer-roas"):
                with session_scope(scheduler_sessions) as session:
                    fast = queries.read_report(session=session, report=report, shop_id=None, start=start, end=end)
                plain = plain_all_stores(scheduler_sessions, report, start, end)
                assert [{k: v for k, v in row.items() if k not in ("mer_sales", "mer_basis")} for row in fast] == \
                    plain and len(plain) > 40, (step, report, start, end)
        for table in ("daily_marketing", "daily_campaigns"):
            kept = kept_meta(scheduler_sessions, table)
            assert kept == plain_meta(scheduler_sessions, table) and len(kept) == 41, (step, table)
        sales = kept_sales(scheduler_sessions)
        assert sales == plain_sales(scheduler_sessions) and len(sales) > 80, step
    with session_scope(scheduler_sessions) as session:  # a day without any rate sums to null, never raw money
        day = queries.read_report(session=session, report="mer-roas", shop_id=None, start=date(2026, 3, 1),
                                  end=date(2026, 3, 1))
    assert [(row["spend"], row["total_sales"], row["fx_estimated"]) for row in day] == [(None, None, True)]
    assert {m["fx_estimated"] for m in months} == {False}  # every day now has its own rate


def test_mer_roas_over_a_range_equals_the_view_filtered(scheduler_sessions, make_shop):
    with session_scope(scheduler_sessions) as session:
        fx.load(session=session, content=RATES)
    shops = [make_shop(currency="EUR", timezone="UTC"), make_shop(currency="GBP", timezone="UTC")]
    for n, shop in enumerate(shops):
        add_order(scheduler_sessions, shop, f"o{n}", datetime(2026, 3, 6, 10, tzinfo=UTC), gross="40.00")
        for day in ("2026-03-05", "2026-03-06", "2026-03-09"):  # spend on a day without orders too
            add_spend(scheduler_sessions, shop, day, spend=f"{12 + n}.50", currency="USD", purchase_value="30")
    for shop in (shops[1], None):
        for start, end in ((date(2026, 3, 5), date(2026, 3, 9)), (date(2026, 3, 6), date(2026, 3, 6))):
            ranged = fetch(scheduler_sessions, "SELECT * FROM reporting.mer_roas_between(:s, :a, :b) "
                           "ORDER BY shop_id, day", s=shop, a=start, b=end)
            viewed = fetch(scheduler_sessions, "SELECT * FROM reporting.mer_roas WHERE (CAST(:s AS bigint) IS NULL "
                           "OR shop_id = :s) AND day BETWEEN :a AND :b ORDER BY shop_id, day", s=shop, a=start, b=end)
            assert ranged == viewed and viewed, (shop, start, end)
