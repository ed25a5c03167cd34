"""Every read the dashboard makes: through the reporting schema, as the logged-in user (RLS applies)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Row, text
from sqlalchemy.orm import Session

import settings
from dashboard import selection, status
from models import SOURCES

_SHOPS = """
    SELECT shop_id, shop_domain, name, currency, iana_timezone, status
    FROM reporting.shop_directory
"""


def list_shops(*, session: Session) -> list[Row]:
    """The stores this user may see, by name."""
    return list(session.execute(text(_SHOPS + " ORDER BY lower(name), shop_id")))


def get_shop(*, session: Session, shop_id: int) -> Row | None:
    """One store, if this user may see it."""
    return session.execute(text(_SHOPS + " WHERE shop_id = :shop_id"), {"shop_id": shop_id}).first()


# Sync status. app_dashboard's status tables are granted to the web role under the same RLS as reporting.
_JOB_COLUMNS = """
    j.id, j.shop_id, s.name AS shop_name, j.source, j.kind, j.target, j.status, j.attempts, j.max_attempts,
    j.progress_done, j.progress_total, j.progress_label, j.error_class, j.error_message, j.error_hint,
    j.run_after, j.created_at, j.started_at, j.finished_at
"""
_SHOP_FILTER = "(CAST(:shop_id AS bigint) IS NULL OR j.shop_id = :shop_id)"


def list_sync_shops(*, session: Session, shop_id: int | None = None) -> list[Row]:
    """The visible stores with what their status needs: state, interval, completeness counts."""
    return list(session.execute(text("""
        SELECT id AS shop_id, name, shop_domain, status, status_reason, sync_interval_minutes,
               shopify_order_count, warehouse_order_count, completeness_checked_at,
               EXISTS (SELECT FROM app_dashboard.ad_accounts a WHERE a.shop_id = shops.id) AS has_meta
        FROM app_dashboard.shops
        WHERE CAST(:shop_id AS bigint) IS NULL OR id = :shop_id
        ORDER BY lower(name), id
    """), {"shop_id": shop_id}))


def list_latest_jobs(*, session: Session, shop_id: int | None = None) -> list[Row]:
    """The newest job of each (store, source, kind, target) among each store's recent jobs, and every live one."""
    # A window per store keeps this cheap on every poll however long the history grows (sync_jobs_shop_idx).
    return list(session.execute(text(f"""
        WITH recent AS (
            SELECT r.id FROM app_dashboard.shops s CROSS JOIN LATERAL (
                SELECT id FROM app_dashboard.sync_jobs WHERE shop_id = s.id ORDER BY id DESC LIMIT :window) r
            WHERE CAST(:shop_id AS bigint) IS NULL OR s.id = :shop_id
            UNION
            SELECT id FROM app_dashboard.sync_jobs WHERE status IN ('queued', 'running')
        )
        SELECT DISTINCT ON (j.shop_id, j.source, j.kind, j.target) {_JOB_COLUMNS}
        FROM recent JOIN app_dashboard.sync_jobs j USING (id) JOIN app_dashboard.shops s ON s.id = j.shop_id
        WHERE {_SHOP_FILTER}
        ORDER BY j.shop_id, j.source, j.kind, j.target, j.id DESC
    """), {"shop_id": shop_id, "window": settings.STATUS_JOBS_WINDOW}))


def list_last_successes(*, session: Session, shop_id: int | None = None) -> dict[tuple[int, str], object]:
    """When each (store, source) last finished a job successfully (one index probe each: sync_jobs_success_idx)."""
    rows = session.execute(text("""
        SELECT s.id AS shop_id, src.source, last.finished_at
        FROM app_dashboard.shops s CROSS JOIN unnest(CAST(:sources AS text[])) AS src(source)
        CROSS JOIN LATERAL (
            SELECT j.finished_at FROM app_dashboard.sync_jobs j
            WHERE j.shop_id = s.id AND j.source = src.source AND j.status = 'succeeded'
            ORDER BY j.finished_at DESC LIMIT 1) last
        WHERE CAST(:shop_id AS bigint) IS NULL OR s.id = :shop_id
    """), {"shop_id": shop_id, "sources": list(SOURCES)})
    return {(row.shop_id, row.source): row.finished_at for row in rows}


def list_freshness(*, session: Session, shop_id: int | None = None) -> dict[tuple[int, str], object]:
    """How recent the newest change each (store, source) has loaded is (its sync cursors)."""
    rows = session.execute(text("""
        SELECT c.shop_id, c.source, max(c.cursor_at) AS cursor_at
        FROM app_dashboard.sync_cursors c
        WHERE CAST(:shop_id AS bigint) IS NULL OR c.shop_id = :shop_id
        GROUP BY c.shop_id, c.source
    """), {"shop_id": shop_id})
    return {(row.shop_id, row.source): row.cursor_at for row in rows}


def list_meta_coverage(*, session: Session, shop_id: int | None = None) -> list[Row]:
    """Days of Meta insights loaded, per store and ad account (with its name once linked)."""
    return list(session.execute(text("""
        SELECT c.shop_id, c.account_id, a.name, c.first_day, c.last_day, c.days, c.synced_at
        FROM reporting.meta_coverage c
        LEFT JOIN app_dashboard.ad_accounts a ON a.shop_id = c.shop_id AND a.account_id = c.account_id
        WHERE CAST(:shop_id AS bigint) IS NULL OR c.shop_id = :shop_id
        ORDER BY c.shop_id, c.account_id
    """), {"shop_id": shop_id}))


def list_job_history(*, session: Session, shop_id: int | None = None,
                     limit: int = settings.STATUS_HISTORY_LIMIT) -> list[Row]:
    """The latest jobs, newest first, with their outcome and error."""
    return list(session.execute(text(f"""
        SELECT {_JOB_COLUMNS}
        FROM app_dashboard.sync_jobs j JOIN app_dashboard.shops s ON s.id = j.shop_id
        WHERE {_SHOP_FILTER}
        ORDER BY j.id DESC
        LIMIT :limit
    """), {"shop_id": shop_id, "limit": limit}))


def get_job(*, session: Session, job_id: int) -> Row | None:
    """One job, if this user may see its store."""
    return session.execute(text(f"""
        SELECT {_JOB_COLUMNS}, j.params
        FROM app_dashboard.sync_jobs j JOIN app_dashboard.shops s ON s.id = j.shop_id
        WHERE j.id = :job_id
    """), {"job_id": job_id}).first()


def list_events(*, session: Session, shop_id: int | None = None, levels: list[str] | None = None,
                after_id: int | None = None, limit: int = settings.STATUS_EVENTS_LIMIT) -> list[Row]:
    """The event log, newest first; `after_id` returns only lines newer than one already shown."""
    return list(session.execute(text("""
        SELECT e.id, e.shop_id, s.name AS shop_name, e.job_id, e.level, e.message, e.created_at
        FROM app_dashboard.sync_events e LEFT JOIN app_dashboard.shops s ON s.id = e.shop_id
        WHERE (CAST(:shop_id AS bigint) IS NULL OR e.shop_id = :shop_id)
          AND (CAST(:levels AS text[]) IS NULL OR e.level = ANY(CAST(:levels AS text[])))
          AND e.id > coalesce(CAST(:after_id AS bigint), 0)
        ORDER BY e.id DESC
        LIMIT :limit
    """), {"shop_id": shop_id, "levels": levels or None, "after_id": after_id, "limit": limit}))


def list_schedulers(*, session: Session) -> list[Row]:
    """Scheduler processes as last seen, freshest first, with whether they count as running."""
    return list(session.execute(text("""
        SELECT instance_id, hostname, pid, started_at, last_seen_at, jobs_running, stopping,
               extract(epoch FROM now() - last_seen_at) AS age_seconds,
               last_seen_at > now() - make_interval(secs => :stale) AS fresh
        FROM app_dashboard.scheduler_heartbeats
        ORDER BY last_seen_at DESC
    """), {"stale": settings.SCHEDULER_STALE_SECONDS}))


def get_oldest_queued_at(*, session: Session) -> object | None:
    """When the longest-waiting due job of a visible store was queued."""
    return session.execute(text("""
        SELECT min(created_at) FROM app_dashboard.sync_jobs WHERE status = 'queued' AND run_after <= now()
    """)).scalar()


def read_sync_status(*, session: Session, shop_id: int | None = None) -> list:
    """Every visible store and source's status summary (dashboard.status.summarise over the reads above)."""
    return status.summarise(
        shops=list_sync_shops(session=session, shop_id=shop_id),
        latest_jobs=list_latest_jobs(session=session, shop_id=shop_id),
        last_successes=list_last_successes(session=session, shop_id=shop_id),
        freshness=list_freshness(session=session, shop_id=shop_id),
        coverage=list_meta_coverage(session=session, shop_id=shop_id),
        now=datetime.now(UTC),
    )


# -- reports: the pages and `python -m dashboard.export` read these, nothing else -------------------------------
# One store's figures are in its currency. All stores' (shop_id None) are converted to the agency's reporting
# currency day by day before they are summed; a day whose rate is missing sums to null, never to raw money.
# `fx_estimated`: a conversion used an earlier day's rate (a day without a published rate).
REPORTS = ("daily-revenue", "marketing-daily", "mer-roas", "campaigns", "top-products", "top-customers")
_RANGE = "(CAST(:shop_id AS bigint) IS NULL OR shop_id = :shop_id) AND day BETWEEN :start AND :end"
TOP_ROWS = 100


def _rows(view: str, columns: str = "*") -> str:
    """A view's rows in the range, each computed once (OFFSET 0): the aggregates name a converted column several
    times, and an inlined view would convert it again for each. Only `columns` are computed (a rate no column
    needs is not looked up)."""
    return f"(SELECT {columns} FROM {view} WHERE {_RANGE} OFFSET 0) v"


def _money(column: str, all_shops: bool, rate: str = "fx_rate") -> str:
    """The sum of a money column: raw for one store, converted per row (and null if any rate is missing) for all."""
    if not all_shops:
        return f"sum({column})"
    return f"CASE WHEN bool_and({rate} IS NOT NULL) THEN round(sum({column} * {rate}), 2) END"


def _currency(all_shops: bool) -> str:
    return "max(reporting_currency)" if all_shops else "max(currency)"


DAILY_REVENUE_COLUMNS = ("day, orders, units, gross_sales, discounts, returns, net_sales, shipping, taxes, duties, "
                         "additional_fees, total_sales, new_customers, returning_customers")


def _read(all_shops: bool, columns: str) -> str:
    """A report's view columns and its currency's: the rate to the reporting currency only for All stores (one
    store's report then joins no rate at all)."""
    return f"{columns}, " + ("reporting_currency, fx_rate, fx_estimated" if all_shops else "currency")


def _daily_revenue(all_shops: bool) -> str:
    if all_shops:
        return _daily_revenue_all()
    money = ", ".join(f"{_money(c, all_shops)} AS {c}" for c in (
        "gross_sales", "discounts", "returns", "net_sales", "shipping", "taxes", "duties", "additional_fees",
        "total_sales"))
    return f"""
        SELECT day AS date, {_currency(all_shops)} AS currency, sum(orders) AS orders, sum(units) AS units, {money},
               round(({_money("gross_sales", all_shops)} - {_money("discounts", all_shops)})
                     / nullif(sum(orders), 0), 2) AS aov,
               sum(new_customers) AS new_customers, sum(returning_customers) AS returning_customers,
               {"bool_or(fx_estimated)" if all_shops else "false"} AS fx_estimated
        FROM {_rows("reporting.daily_revenue", _read(all_shops, DAILY_REVENUE_COLUMNS))} GROUP BY day ORDER BY day"""


# All stores' money summed per day from reporting.daily_revenue_converted (migration 0017: each store-day's money kept
# converted, unrounded, null without a rate): the sums daily_revenue's rows converted one by one give, no rate joined.
def _converted(column: str) -> str:
    return f"CASE WHEN bool_and(fx_rate IS NOT NULL) THEN round(sum({column}), 2) END"


def _daily_revenue_all() -> str:
    money = ", ".join(f"{_converted(c)} AS {c}" for c in SALES_MONEY)
    return f"""
        SELECT day AS date, max(reporting_currency) AS currency, sum(orders) AS orders, sum(units) AS units, {money},
               round(({_converted("gross_sales")} - {_converted("discounts")}) / nullif(sum(orders), 0), 2) AS aov,
               sum(new_customers) AS new_customers, sum(returning_customers) AS returning_customers,
               bool_or(fx_estimated) AS fx_estimated
        FROM reporting.daily_revenue_converted WHERE day BETWEEN :start AND :end GROUP BY day ORDER BY day"""


# Meta's rows with the reporting currency: each row carries its rates (migration 0017), so All stores' marketing
# needs no store (marketing_daily joins one for its name and currency).
KEPT_MARKETING = "reporting.daily_marketing CROSS JOIN app_dashboard.agency_settings"


def _marketing(all_shops: bool, source: str, keys: str, columns: str, order: str, named: str = "") -> str:
    # One store: Meta's money in the store's currency (spend_shop); all stores: the account's, converted.
    spend, value = ("spend", "purchase_value") if all_shops else ("spend_shop", "purchase_value_shop")
    read = (f"{keys}{named}, {spend}, {value}, impressions, clicks, link_clicks, purchases, "
            + ("reporting_currency, fx_rate, fx_estimated" if all_shops else "currency, shop_fx_estimated"))
    return f"""
        SELECT {columns}, {_currency(all_shops)} AS currency, {_money(spend, all_shops)} AS spend,
               sum(impressions) AS impressions, sum(clicks) AS clicks, sum(link_clicks) AS link_clicks,
               sum(purchases) AS purchases, {_money(value, all_shops)} AS purchase_value,
               round({_money(value, all_shops)} / nullif({_money(spend, all_shops)}, 0), 2) AS roas,
               bool_or({"fx_estimated" if all_shops else "shop_fx_estimated"}) AS fx_estimated
        FROM {_rows(source, read)} GROUP BY {keys} ORDER BY {order}"""


# All stores' campaigns: whole months from reporting.campaign_monthly (spend and purchase value kept converted day
# by day, unrounded), the edge days converted from the daily rows; each campaign's sum rounded once.
def _campaigns_all() -> str:
    keys = "shop_domain, account_id, campaign_id"
    counts = f"{keys}, campaign_name, impressions, clicks, link_clicks, purchases, reporting_currency, fx_estimated"
    rows = " UNION ALL ".join([
        f"SELECT {counts}, spend_reporting AS spend, purchase_value_reporting AS purchase_value "
        f"FROM reporting.campaign_monthly WHERE {IN_WHOLE_MONTHS}",
        *(f"SELECT {counts}, spend * fx_rate, purchase_value * fx_rate FROM reporting.campaign_daily WHERE {edge}"
          for edge in EDGES)])
    spend, value = (f"CASE WHEN bool_and({c} IS NOT NULL) THEN round(sum({c}), 2) END" for c in ("spend",
                                                                                                "purchase_value"))
    return f"""
        SELECT {keys}, max(campaign_name) AS campaign_name, max(reporting_currency) AS currency, {spend} AS spend,
               sum(impressions) AS impressions, sum(clicks) AS clicks, sum(link_clicks) AS link_clicks,
               sum(purchases) AS purchases, {value} AS purchase_value,
               round({value} / nullif({spend}, 0), 2) AS roas, bool_or(fx_estimated) AS fx_estimated
        FROM ({rows}) v GROUP BY {keys} ORDER BY spend DESC NULLS LAST, campaign_id"""


def _mer_roas(all_shops: bool) -> str:
    if all_shops:
        return _mer_roas_all()
    total, spend, value = (_money(c, all_shops) for c in ("total_sales", "spend", "purchase_value"))
    return f"""
        SELECT day AS date, {_currency(all_shops)} AS currency, {total} AS total_sales, {spend} AS spend,
               {value} AS purchase_value, sum(new_customers) AS new_customers,
               round({total} / nullif({spend}, 0), 2) AS mer, round({value} / nullif({spend}, 0), 2) AS roas,
               round({spend} / nullif(sum(new_customers), 0), 2) AS cac,
               bool_or({"fx_estimated" if all_shops else "shop_fx_estimated"}) AS fx_estimated
        FROM (SELECT {_read(all_shops, "day, total_sales, spend, purchase_value, new_customers, shop_fx_estimated")}
              FROM reporting.mer_roas_between(:shop_id, :start, :end) OFFSET 0) v
        GROUP BY day ORDER BY day"""


# All stores' mer-roas as reporting.mer_roas_between's rows summed per day give it, from two per-day sums: the
# store-days' total sales kept converted (daily_revenue_converted), and Meta's rows' money in the store's currency
# times the store's rate to the reporting currency (kept on each row). A day is null when any store-day of it, on
# either side, lacks that rate; estimated when any of its conversions used an earlier day's rate.
def _mer_roas_all() -> str:
    range_ = "day BETWEEN :start AND :end"
    ok = "coalesce(s.ok, true) AND coalesce(m.ok, true)"
    total, spend, value = (f"CASE WHEN {ok} THEN round(coalesce({c}, 0), 2) END"
                           for c in ("s.total_sales", "m.spend", "m.purchase_value"))
    return f"""
        SELECT coalesce(s.day, m.day) AS date, coalesce(s.currency, m.currency) AS currency, {total} AS total_sales,
               {spend} AS spend, {value} AS purchase_value, coalesce(s.new_customers, 0) AS new_customers,
               round({total} / nullif({spend}, 0), 2) AS mer, round({value} / nullif({spend}, 0), 2) AS roas,
               round({spend} / nullif(coalesce(s.new_customers, 0), 0), 2) AS cac,
               coalesce(s.estimated, false) OR coalesce(m.estimated, false) AS fx_estimated
        FROM (SELECT day, max(reporting_currency) AS currency, bool_and(fx_rate IS NOT NULL) AS ok,
                     sum(total_sales) AS total_sales, sum(new_customers) AS new_customers,
                     bool_or(fx_estimated) AS estimated
              FROM reporting.daily_revenue_converted WHERE {range_} GROUP BY day) s
        FULL JOIN (SELECT day, max(reporting_currency) AS currency, bool_and(shop_reporting_fx_rate IS NOT NULL) AS ok,
                          sum(spend_shop * shop_reporting_fx_rate) AS spend,
                          sum(purchase_value_shop * shop_reporting_fx_rate) AS purchase_value,
                          bool_or(shop_reporting_fx_estimated OR shop_fx_estimated) AS estimated
                   FROM {KEPT_MARKETING} WHERE {range_} GROUP BY day) m ON m.day = s.day
        ORDER BY 1"""


# MER on the agency's basis (agency_settings.mer_basis, migration 0016), `basis` read first (get_mer_basis): with
# `mer_sales`, the sales MER divides, and `mer_basis`. On Shopify's sales it is mer-roas as it was; on all channels
# the uploaded marketplace orders' days join mer-roas's (a marketplace-only day too) and their net sales are added.
# total_sales stays Shopify's; ROAS and CAC are unchanged. (Only all channels reads reporting.sales_by_channel:
# planning that view costs ~10 ms, which Shopify's basis should not pay.)
MER_BASIS = "(SELECT mer_basis FROM app_dashboard.agency_settings)"


def _mer_roas_on_basis(all_shops: bool, basis: str) -> str:
    if basis != "all_channels":
        return f"""
            SELECT m.date, m.currency, m.total_sales, m.total_sales AS mer_sales, m.spend, m.purchase_value,
                   m.new_customers, m.mer, m.roas, m.cac, m.fx_estimated, 'shopify' AS mer_basis
            FROM ({_mer_roas(all_shops)}) m ORDER BY m.date"""

    def shown(column: str, zero: str = "0") -> str:  # a marketplace-only day has no mer-roas row: nothing of it
        return f"CASE WHEN m.date IS NULL THEN {zero} ELSE m.{column} END"

    mer_sales = f"({shown('total_sales')} + CASE WHEN c.date IS NULL THEN 0 ELSE c.sales END)"
    return f"""
        WITH m AS ({_mer_roas(all_shops)}), c AS ({_marketplace_days(all_shops)})
        SELECT coalesce(m.date, c.date) AS date, coalesce(m.currency, c.currency) AS currency,
               {shown("total_sales")} AS total_sales, {mer_sales} AS mer_sales, {shown("spend")} AS spend,
               {shown("purchase_value")} AS purchase_value, {shown("new_customers")} AS new_customers,
               round({mer_sales} / nullif({shown("spend")}, 0), 2) AS mer, m.roas, m.cac,
               coalesce(m.fx_estimated, false) OR coalesce(c.fx_estimated, false) AS fx_estimated,
               'all_channels' AS mer_basis
        FROM m FULL JOIN c ON c.date = m.date ORDER BY 1"""


def _marketplace_days(all_shops: bool) -> str:
    """Per day of the range: uploaded marketplace orders' net sales (what MER on all channels adds)."""
    return f"""
        SELECT day AS date, {_currency(all_shops)} AS currency,
               CASE WHEN bool_and(sales IS NOT NULL) THEN {_money("sales", all_shops)} END AS sales,
               bool_or({"fx_estimated" if all_shops else "shop_fx_estimated"}) AS fx_estimated
        FROM reporting.sales_by_channel WHERE channel <> 'Shopify' AND {_RANGE} GROUP BY day"""


def _top_products(all_shops: bool) -> str:
    return _top_products_all() if all_shops else _top_products_one()


# One store, in its currency: the range's whole calendar months from the monthly rollup, its edge days (before
# the first whole month, after the last) from the daily one.
FIRST_WHOLE_MONTH = "(date_trunc('month', CAST(:start AS date) - 1) + interval '1 month')::date"
AFTER_WHOLE_MONTHS = "date_trunc('month', CAST(:end AS date) + 1)::date"
NO_WHOLE_MONTH = f"{FIRST_WHOLE_MONTH} >= {AFTER_WHOLE_MONTHS}"
IN_WHOLE_MONTHS = f"month >= {FIRST_WHOLE_MONTH} AND month < {AFTER_WHOLE_MONTHS}"
EDGES = (f"day >= :start AND day < CASE WHEN {NO_WHOLE_MONTH} THEN CAST(:end AS date) + 1 ELSE {FIRST_WHOLE_MONTH} END",
         f"NOT ({NO_WHOLE_MONTH}) AND day >= {AFTER_WHOLE_MONTHS} AND day <= :end")


def _by_months(columns: str, daily_columns: str, scope: str) -> str:
    """The range's rows: whole months from product_monthly, edge days from product_daily."""
    return " UNION ALL ".join([f"SELECT {columns} FROM reporting.product_monthly WHERE {scope} AND {IN_WHOLE_MONTHS}",
                               *(f"SELECT {daily_columns} FROM reporting.product_daily WHERE {scope} AND {edge}"
                                 for edge in EDGES)])


def _top_products_one() -> str:
    columns = "shop_domain, product_id, variant_id, product_title, variant_title, sku, currency, units_sold, " \
              "units_returned, net_sales"
    return f"""
        SELECT shop_domain, product_id, variant_id, max(product_title) AS product_title,
               max(variant_title) AS variant_title, max(sku) AS sku, max(currency) AS currency,
               sum(units_sold) AS units_sold, sum(units_returned) AS units_returned, sum(net_sales) AS net_sales,
               false AS fx_estimated
        FROM ({_by_months(columns, columns, "shop_id = :shop_id")}) x
        GROUP BY shop_domain, product_id, variant_id ORDER BY net_sales DESC NULLS LAST, product_id, variant_id
        LIMIT {TOP_ROWS}"""


# All stores: whole months and whole weeks of the month come converted (reporting.monthly_products and, migration
# 0017, reporting.weekly_products: days 1-7, 8-14, 15-21, 22-28 and 29 to the end, so a week never crosses a month;
# each keeps its net sales converted day by day), so only the edge days need converting: at most 6 at each end of
# each partial month. Each product's edge-day gains and losses times the lowest and highest rate of its store's
# edge days, added to its converted months and weeks, bound its converted sum; only the products whose upper bound
# reaches the TOP_ROWS-th lower bound (less a cent for rounding) are summed exactly, from their months, weeks and
# edge days. A store whose rates do not cover every edge day it sold on has no bounds: all its products are (so
# is a product with a month or week lacking a rate).
# What a year costs is the grouping of every product-month (28,800 at 50 stores) by product: so the bounds group
# only the kept sums (the edge days' gains and losses apart, joined after), read from the tables, and the
# candidates' rows come from the tables by product, the store's name joined once to the TOP_ROWS summed.
def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _week_of(day: date) -> date:
    """The week of the month holding `day` (its first day)."""
    return day - timedelta(days=(day.day - 1) % 7)


def _first_week(day: date) -> date:
    """The first week of the month starting on or after `day`."""
    return day if _week_of(day) == day else min(_week_of(day) + timedelta(days=7), _next_month(day))


def _days(first: date, after: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((after - first).days)]


def _blocks(start: date, end: date) -> dict:
    """The range cut into whole months [month_from, month_to), and around them, in each partial month's span
    [first, after), whole weeks [week_from, week_to) (empty ranges when none) and the edge days left over."""
    first_whole = start if start.day == 1 else _next_month(start)
    after_whole = end + timedelta(days=1) if (end + timedelta(days=1)).day == 1 else end.replace(day=1)
    after_end = end + timedelta(days=1)
    if first_whole >= after_whole:  # no whole month: one span, the whole range
        first_whole = after_whole = after_end
    params, edge_days = {"month_from": first_whole, "month_to": after_whole}, []
    for n, (first, after) in enumerate(((start, first_whole), (after_whole, after_end))):
        weeks = (_first_week(first), _week_of(after))
        params |= {f"week_from{n}": weeks[0], f"week_to{n}": weeks[1]}
        edge_days += _days(first, min(weeks[0], after)) + _days(max(weeks[1], weeks[0]), after)
    return params | {"edge_days": edge_days}


WHOLE_MONTHS = "month >= :month_from AND month < :month_to"
WHOLE_WEEKS = tuple(f"week >= :week_from{n} AND week < :week_to{n}" for n in range(2))
IS_EDGE_DAY = "day = ANY(CAST(:edge_days AS date[]))"


def _kept_blocks(columns: str, scope: str) -> str:
    """The range's whole months and weeks (`p`), their net sales kept converted."""
    return " UNION ALL ".join([f"SELECT {columns} FROM reporting.monthly_products p WHERE {scope} AND {WHOLE_MONTHS}",
                               *(f"SELECT {columns} FROM reporting.weekly_products p WHERE {scope} AND {weeks}"
                                 for weeks in WHOLE_WEEKS)])


def _top_products_all() -> str:
    keys = "p.shop_id, p.product_id, p.variant_id"
    edge_bound = "CASE WHEN g.gains = 0 AND g.losses = 0 THEN 0 ELSE g.gains * s.{0}_rate + g.losses * s.{1}_rate END"
    same = "p.shop_id = c.shop_id AND p.product_id = c.product_id AND p.variant_id = c.variant_id"
    row = "p.product_title, p.variant_title, p.sku, p.units_sold, p.units_returned"
    rate, rate_day = _to_reporting("p.day", "c.currency", "c.reporting_currency")  # product_daily's fx_rate
    return f"""
        WITH shops AS MATERIALIZED (
            SELECT sh.id, sh.currency, a.reporting_currency, r.low_rate, r.high_rate
            FROM app_dashboard.shops sh CROSS JOIN app_dashboard.agency_settings a
            CROSS JOIN LATERAL (  -- a day without a rate counts only if the store sold on it (not before its first)
                SELECT CASE WHEN sh.currency = a.reporting_currency THEN 1
                            WHEN count(x.rate) = count(*) THEN min(x.rate) END AS low_rate,
                       CASE WHEN sh.currency = a.reporting_currency THEN 1
                            WHEN count(x.rate) = count(*) THEN max(x.rate) END AS high_rate
                FROM unnest(CAST(:edge_days AS date[])) e (day)
                LEFT JOIN reporting.fx_reporting x ON x.currency = sh.currency AND x.day = e.day
                WHERE x.rate IS NOT NULL
                   OR EXISTS (SELECT FROM reporting.daily_products p WHERE p.shop_id = sh.id AND p.day = e.day)) r
        ), kept AS (  -- each product's whole months and weeks: null if one lacks a rate
            SELECT {keys}, CASE WHEN bool_and(p.kept IS NOT NULL) THEN sum(p.kept) END AS kept
            FROM ({_kept_blocks(f"{keys}, p.net_sales_reporting AS kept", "true")}) p
            GROUP BY p.shop_id, p.product_id, p.variant_id
        ), edges AS (  -- each product's edge days, in its store's currency
            SELECT {keys}, sum(greatest(p.net_sales, 0)) AS gains, sum(least(p.net_sales, 0)) AS losses
            FROM reporting.daily_products p WHERE p.{IS_EDGE_DAY}
            GROUP BY p.shop_id, p.product_id, p.variant_id
        ), bounds AS MATERIALIZED (
            SELECT g.shop_id, g.product_id, g.variant_id, s.currency, s.reporting_currency,
                   g.kept + {edge_bound.format("high", "low")} AS high,
                   g.kept + {edge_bound.format("low", "high")} AS low
            FROM (SELECT coalesce(k.shop_id, e.shop_id) AS shop_id, coalesce(k.product_id, e.product_id) AS product_id,
                         coalesce(k.variant_id, e.variant_id) AS variant_id,
                         CASE WHEN k.shop_id IS NULL THEN 0 ELSE k.kept END AS kept,
                         coalesce(e.gains, 0) AS gains, coalesce(e.losses, 0) AS losses
                  FROM kept k FULL JOIN edges e
                      ON e.shop_id = k.shop_id AND e.product_id = k.product_id AND e.variant_id = k.variant_id) g
            JOIN shops s ON s.id = g.shop_id
        ), floor AS (
            SELECT (array_agg(low ORDER BY low DESC) FILTER (WHERE low IS NOT NULL))[{TOP_ROWS}] AS low FROM bounds
        ), candidates AS MATERIALIZED (
            SELECT b.shop_id, b.product_id, b.variant_id, b.currency, b.reporting_currency
            FROM bounds b CROSS JOIN floor f
            WHERE f.low IS NULL OR b.high IS NULL OR b.high >= f.low - 0.01
        ), summed AS (  -- the candidates' exact sums: their months and weeks kept, their edge days' rows converted
            SELECT c.shop_id, c.product_id, c.variant_id, max(v.product_title) AS product_title,
                   max(v.variant_title) AS variant_title, max(v.sku) AS sku, sum(v.units_sold) AS units_sold,
                   sum(v.units_returned) AS units_returned,
                   CASE WHEN bool_and(v.converted IS NOT NULL) THEN round(sum(v.converted), 2) END AS net_sales,
                   bool_or(v.fx_estimated) AS fx_estimated
            FROM candidates c CROSS JOIN LATERAL (
                {_kept_blocks(f"{row}, p.net_sales_reporting AS converted, p.fx_estimated", same)}
                UNION ALL
                SELECT {row}, p.net_sales * {rate}, coalesce({rate_day} < p.day, true)
                FROM reporting.daily_products p
                LEFT JOIN reporting.fx_reporting rx ON rx.currency = c.currency AND rx.day = p.day
                WHERE {same} AND p.{IS_EDGE_DAY}
                OFFSET 0) v
            GROUP BY c.shop_id, c.product_id, c.variant_id
            ORDER BY net_sales DESC NULLS LAST, c.product_id, c.variant_id LIMIT {TOP_ROWS}
        )
        SELECT sh.shop_domain, t.product_id, t.variant_id, t.product_title, t.variant_title, t.sku,
               a.reporting_currency AS currency, t.units_sold, t.units_returned, t.net_sales, t.fx_estimated
        FROM summed t JOIN app_dashboard.shops sh ON sh.id = t.shop_id CROSS JOIN app_dashboard.agency_settings a
        ORDER BY t.net_sales DESC NULLS LAST, t.product_id, t.variant_id"""


def _top_customers(all_shops: bool) -> str:
    # Customers who ordered in the range, by net sales to date (converted at their last order day's rate).
    # net_cents orders as net_sales does (never null) and, a bigint, is an index condition under RLS too.
    if all_shops:
        return _top_customers_all()
    return f"""
        SELECT shop_domain, customer_id, display_name, email, first_order_day, last_order_day, orders,
               currency, net_sales, false AS fx_estimated
        FROM reporting.customer_summary
        WHERE shop_id = :shop_id AND first_order_day <= :end AND last_order_day >= :start
        ORDER BY net_cents DESC, customer_id LIMIT {TOP_ROWS}"""


# All stores: each store's first customers by net sales in its own currency (an index range; FIRSTS_FACTOR
# times its share of TOP_ROWS, so about twice TOP_ROWS in all) give a lower bound `low` of the TOP_ROWS-th
# converted figure (any TOP_ROWS active customers give one; the more of the real top, the higher). A customer
# can reach it only if net sales times the highest rate of its store's currency since the start reach it (less
# a cent for rounding), so only those are read and converted: net sales in cents from the bound's cents up, a
# range of the cents index for the web role as for the scheduler (bigint comparisons are leakproof; numeric
# ones would wait for the RLS policy). Without a bound (too few customers, no rate, a negative bound) every
# customer is read. OFFSET 0 keeps each store's read an index range of its own (joined flat, the planner scans
# every customer). Over a long range the few above the threshold come from the cents index, their dates
# filtered after the OFFSET 0 (the planner, not knowing the threshold, would otherwise take the last-order
# index and walk every active customer); over a short one few customers are active and the last-order index
# finds them.
LONG_RANGE_DAYS = 31
FIRSTS_FACTOR = 2
LOWEST_CENTS, HIGHEST_CENTS = -(2**63), 2**63 - 1


def _top_customers_all(long_range: bool = False) -> str:
    dates = "c.first_order_day <= :end AND c.last_order_day >= :start"
    active = f"c.shop_id = s.id AND {dates}"
    above = "SELECT * FROM reporting.customer_summary c WHERE c.shop_id = s.id AND c.net_cents >= s.threshold"
    return f"""
        WITH rates AS MATERIALIZED (  -- each currency's rates from the start, an index range of its own
            SELECT c.currency, (SELECT max(x.rate) FROM reporting.fx_reporting x
                                WHERE x.currency = c.currency AND x.day >= :start) AS max_rate
            FROM (SELECT DISTINCT currency FROM app_dashboard.shops) c
        ), shops AS MATERIALIZED (
            SELECT sh.id, CASE WHEN sh.currency = a.reporting_currency THEN 1 ELSE r.max_rate END AS max_rate
            FROM app_dashboard.shops sh CROSS JOIN app_dashboard.agency_settings a
            LEFT JOIN rates r ON r.currency = sh.currency
        ), firsts AS MATERIALIZED (
            SELECT c.value FROM shops s CROSS JOIN LATERAL (
                SELECT round(c.net_sales * c.fx_rate, 2) AS value FROM reporting.customer_summary c
                WHERE {active} ORDER BY c.net_cents DESC
                LIMIT (SELECT least({TOP_ROWS}, ceil({FIRSTS_FACTOR} * {TOP_ROWS} / nullif(count(*), 0))) FROM shops)) c
        ), bound AS (
            SELECT (array_agg(value ORDER BY value DESC) FILTER (WHERE value IS NOT NULL))[{TOP_ROWS}] AS low
            FROM firsts
        ), thresholds AS MATERIALIZED (
            SELECT s.id, coalesce(CASE WHEN b.low > 0.01 THEN least(ceil((b.low - 0.01) * 100 / s.max_rate),
                                                                     {HIGHEST_CENTS})::bigint END,
                                  CAST('{LOWEST_CENTS}' AS bigint)) AS threshold
            FROM shops s CROSS JOIN bound b
        )
        SELECT c.shop_domain, c.customer_id, c.display_name, c.email, c.first_order_day, c.last_order_day,
               c.orders, c.reporting_currency AS currency, round(c.net_sales * c.fx_rate, 2) AS net_sales,
               c.fx_estimated
        FROM thresholds s CROSS JOIN LATERAL ({above if long_range else f"{above} AND {dates}"} OFFSET 0) c
        WHERE {dates}
        ORDER BY round(c.net_sales * c.fx_rate, 2) DESC NULLS LAST, c.customer_id LIMIT {TOP_ROWS}"""


def _report_sql(report: str, all_shops: bool, mer_basis: str = "shopify") -> str:
    if report == "daily-revenue":
        return _daily_revenue(all_shops)
    if report == "marketing-daily":
        return _marketing(all_shops, KEPT_MARKETING if all_shops else "reporting.marketing_daily", "day",
                          "day AS date", "day")
    if report == "mer-roas":
        return _mer_roas_on_basis(all_shops, mer_basis)
    if report == "campaigns" and all_shops:
        return _campaigns_all()
    if report == "campaigns":
        keys = "shop_domain, account_id, campaign_id"
        return _marketing(all_shops, "reporting.campaign_daily", keys, f"{keys}, max(campaign_name) AS campaign_name",
                          "spend DESC NULLS LAST, campaign_id", named=", campaign_name")
    if report == "top-products":
        return _top_products(all_shops)
    if report == "top-customers":
        return _top_customers(all_shops)
    raise ValueError(f"unknown report {report!r}")


def read_report(*, session: Session, report: str, shop_id: int | None, start, end) -> list[dict]:
    """One of REPORTS for a store (or all stores when shop_id is None) over [start, end], one dict a row."""
    if report == "top-customers" and shop_id is None:
        sql = _top_customers_all(long_range=(end - start).days >= LONG_RANGE_DAYS)
    else:
        basis = get_mer_basis(session=session) if report == "mer-roas" else "shopify"  # MER's, the agency's
        sql = _report_sql(report, shop_id is None, basis)
    params = {"shop_id": shop_id, "start": start, "end": end}
    if report == "top-products" and shop_id is None:
        params |= _blocks(start, end)
    rows = session.execute(text(sql), params).mappings()
    return [dict(row) for row in rows]


# -- marketing, products and customers ---------------------------------------------------------------------------
# Reads of the Marketing and the Products and customers pages beside REPORTS, one query each. Money as in
# REPORTS: one store's in its currency, all stores' converted to the reporting currency row by row.


def _shop_or_all(alias: str = "") -> str:
    return f"(CAST(:shop_id AS bigint) IS NULL OR {alias}shop_id = :shop_id)"


PRODUCT_LEVELS = ("variant", "product")
PRODUCT_ORDERS = ("net_sales", "units_sold")


def read_store_facts(*, session: Session, shop_id: int | None) -> list[Row]:
    """Each visible store (or the one chosen): whether it has an ad account, whether its history is loading."""
    return list(session.execute(text("""
        SELECT s.id AS shop_id, s.name,
               EXISTS (SELECT FROM app_dashboard.ad_accounts a WHERE a.shop_id = s.id) AS has_ad_account,
               EXISTS (SELECT FROM app_dashboard.sync_jobs j
                       WHERE j.shop_id = s.id AND j.source = 'shopify' AND j.kind = 'HISTORICAL_INIT'
                         AND j.status IN ('queued', 'running')) AS backfilling
        FROM app_dashboard.shops s
        WHERE CAST(:shop_id AS bigint) IS NULL OR s.id = :shop_id
        ORDER BY lower(s.name), s.id
    """), {"shop_id": shop_id}))


def read_marketing_totals(*, session: Session, shop_id: int | None, periods: dict[str, tuple]) -> dict[str, dict]:
    """Meta's totals per named period ({"current": (start, end), ...}) in one query; no rows, no entry."""
    all_shops = shop_id is None
    spend, value = ("spend", "purchase_value") if all_shops else ("spend_shop", "purchase_value_shop")
    names = list(periods)
    params = {"shop_id": shop_id, "names": names, "starts": [periods[n][0] for n in names],
              "ends": [periods[n][1] for n in names]}
    rows = session.execute(text(f"""
        SELECT p.name AS period, {_currency(all_shops)} AS currency, {_money(spend, all_shops)} AS spend,
               sum(impressions) AS impressions, sum(clicks) AS clicks, sum(purchases) AS purchases,
               {_money(value, all_shops)} AS purchase_value,
               bool_or({"fx_estimated" if all_shops else "shop_fx_estimated"}) AS fx_estimated
        FROM unnest(CAST(:names AS text[]), CAST(:starts AS date[]), CAST(:ends AS date[])) AS p(name, lo, hi)
        JOIN reporting.marketing_daily m ON m.day BETWEEN p.lo AND p.hi
        WHERE {_shop_or_all("m.")}
        GROUP BY p.name
    """), params).mappings()
    return {row["period"]: dict(row) for row in rows}


def read_campaign_daily(*, session: Session, shop_id: int | None, account_id: str, campaign_id: str,
                        start, end) -> list[dict]:
    """One campaign's days: spend, purchases, purchase value and ROAS (all stores: converted like REPORTS)."""
    all_shops = shop_id is None
    spend, value = ("spend", "purchase_value") if all_shops else ("spend_shop", "purchase_value_shop")
    rows = session.execute(text(f"""
        SELECT day AS date, {_currency(all_shops)} AS currency, {_money(spend, all_shops)} AS spend,
               sum(impressions) AS impressions, sum(clicks) AS clicks, sum(purchases) AS purchases,
               {_money(value, all_shops)} AS purchase_value,
               round({_money(value, all_shops)} / nullif({_money(spend, all_shops)}, 0), 2) AS roas,
               bool_or({"fx_estimated" if all_shops else "shop_fx_estimated"}) AS fx_estimated
        FROM reporting.campaign_daily
        WHERE {_shop_or_all()} AND account_id = :account_id AND campaign_id = :campaign_id
          AND day BETWEEN :start AND :end
        GROUP BY day ORDER BY day
    """), {"shop_id": shop_id, "account_id": account_id, "campaign_id": campaign_id, "start": start, "end": end})
    return [dict(row) for row in rows.mappings()]


def read_top_products(*, session: Session, shop_id: int | None, start, end, level: str = "variant",
                      order: str = "net_sales") -> list[dict]:
    """The top TOP_ROWS variants (or products) by net sales (or units sold), with units returned."""
    if level not in PRODUCT_LEVELS or order not in PRODUCT_ORDERS:
        raise ValueError(f"unknown product level or order {level!r}, {order!r}")
    if (level, order) == ("variant", "net_sales"):  # the top-products report, with its bounds for All stores
        return read_report(session=session, report="top-products", shop_id=shop_id, start=start, end=end)
    variant, all_shops = level == "variant", shop_id is None
    sql = _top_by_units(variant) if all_shops and order == "units_sold" else _top_summed(all_shops, variant, order)
    return [dict(row) for row in session.execute(text(sql), {"shop_id": shop_id, "start": start,
                                                             "end": end}).mappings()]


# A row's rate found by key, as the views find it: to the reporting currency in fx_reporting (0015's `rate()`),
# else reporting.fx_uncovered's (which the dense rates equal on every day they cover).
def _uncovered(source: str, target: str, day: str, column: str) -> str:
    """reporting.fx_uncovered's rate or rate_day: a day the dense rates do not cover."""
    return f"(SELECT u.{column} FROM reporting.fx_uncovered({source}, {target}, {day}) u)"


def _to_reporting(day: str, currency: str = "sh.currency", reporting: str = "a.reporting_currency",
                  rx: str = "rx") -> tuple[str, str]:
    """The rate from a store's currency to the reporting one on `day`, and that rate's day (0015's `rate()`): by
    key from fx_reporting joined as `rx`."""
    same, found = f"{currency} = {reporting}", f"{rx}.rate IS NOT NULL"
    return (f"CASE WHEN {same} THEN 1::numeric WHEN {found} THEN {rx}.rate "
            f"ELSE {_uncovered(currency, reporting, day, 'rate')} END",
            f"CASE WHEN {same} THEN {day} WHEN {found} THEN {rx}.rate_day "
            f"ELSE {_uncovered(currency, reporting, day, 'rate_day')} END")


def _product_row(all_shops: bool, variant: bool, alias: str = "") -> str:
    """The products table's columns, summed over the range (money converted day by day for All stores)."""
    return f"""{alias}shop_domain, {alias}product_id, {f"{alias}variant_id" if variant else "''"} AS variant_id,
               max({alias}product_title) AS product_title,
               {f"max({alias}variant_title)" if variant else "NULL"} AS variant_title,
               {f"max({alias}sku)" if variant else "NULL"} AS sku, {_currency(all_shops)} AS currency,
               sum({alias}units_sold) AS units_sold, sum({alias}units_returned) AS units_returned,
               {_money(f"{alias}net_sales", all_shops, f"{alias}fx_rate")} AS net_sales,
               {f"bool_or({alias}fx_estimated)" if all_shops else "false"} AS fx_estimated"""


def _top_by_units(variant: bool) -> str:
    # All stores: units need no conversion, so rank variants (or products) from the monthly rollup and the edge
    # days, then sum only the winners' rows: their whole months' net sales come converted day by day (0015's
    # monthly_products.net_sales_reporting), their edge days' are summed per day and converted at the day's rate
    # (exact in numeric). The rollups are read by key (the *_product_idx indexes), the store once per winner.
    keys = ["product_id", "variant_id"] if variant else ["product_id"]
    listed, winners = ", ".join(keys), ", ".join(f"r.{key}" for key in keys)
    same = " AND ".join(f"p.{key} = r.{key}" for key in ("shop_id", *keys))
    ranked = " UNION ALL ".join([
        f"SELECT shop_id, {listed}, units_sold FROM reporting.monthly_products WHERE {_shop_or_all()} "
        f"AND {IN_WHOLE_MONTHS}",
        *(f"SELECT shop_id, {listed}, units_sold FROM reporting.daily_products WHERE {_shop_or_all()} AND {edge}"
          for edge in EDGES)])
    texts = "max(p.product_title) AS product_title, max(p.variant_title) AS variant_title, max(p.sku) AS sku"
    edges = " UNION ALL ".join(f"SELECT * FROM reporting.daily_products p WHERE {same} AND {edge}" for edge in EDGES)
    rate, rate_day = _to_reporting("d.day", "r.currency", "r.reporting_currency", rx="x")
    return f"""
        WITH ranked AS MATERIALIZED (
            SELECT shop_id, {listed}, sum(units_sold) AS units FROM ({ranked}) x
            GROUP BY shop_id, {listed}
            ORDER BY units DESC NULLS LAST, {listed}, shop_id LIMIT {TOP_ROWS}
        ), winners AS MATERIALIZED (
            SELECT x.*, sh.shop_domain, sh.currency, a.reporting_currency
            FROM ranked x JOIN app_dashboard.shops sh ON sh.id = x.shop_id CROSS JOIN app_dashboard.agency_settings a
        )
        SELECT max(r.shop_domain) AS shop_domain, r.product_id, {"r.variant_id" if variant else "''"} AS variant_id,
               max(v.product_title) AS product_title, {"max(v.variant_title)" if variant else "NULL"} AS variant_title,
               {"max(v.sku)" if variant else "NULL"} AS sku, max(r.reporting_currency) AS currency,
               CAST(sum(v.units_sold) AS bigint) AS units_sold, CAST(sum(v.units_returned) AS bigint) AS units_returned,
               CASE WHEN bool_and(v.converted IS NOT NULL) THEN round(sum(v.converted), 2) END AS net_sales,
               bool_or(v.fx_estimated) AS fx_estimated
        FROM winners r CROSS JOIN LATERAL (
            SELECT {texts}, sum(p.units_sold) AS units_sold, sum(p.units_returned) AS units_returned,
                   CASE WHEN bool_and(p.net_sales_reporting IS NOT NULL) THEN sum(p.net_sales_reporting) END,
                   bool_or(p.fx_estimated)
            FROM reporting.monthly_products p WHERE {same} AND {IN_WHOLE_MONTHS} GROUP BY p.shop_id  -- none: no row
            UNION ALL
            SELECT d.product_title, d.variant_title, d.sku, d.units_sold, d.units_returned, d.net_sales * {rate},
                   coalesce({rate_day} < d.day, true)
            FROM (SELECT p.day, {texts}, sum(p.units_sold) AS units_sold, sum(p.units_returned) AS units_returned,
                         sum(p.net_sales) AS net_sales
                  FROM ({edges}) p GROUP BY p.day) d
            LEFT JOIN reporting.fx_reporting x ON x.currency = r.currency AND x.day = d.day
        ) v (product_title, variant_title, sku, units_sold, units_returned, converted, fx_estimated)
        GROUP BY r.shop_id, {winners}
        ORDER BY units_sold DESC NULLS LAST, {winners} LIMIT {TOP_ROWS}"""


def _top_summed(all_shops: bool, variant: bool, order: str) -> str:
    keys = "product_id" + (", variant_id" if variant else "")
    return f"""
        SELECT {_product_row(all_shops, variant)}
        FROM reporting.product_daily WHERE {_shop_or_all()} AND day BETWEEN :start AND :end
        GROUP BY shop_domain, shop_id, {keys} ORDER BY {order} DESC NULLS LAST, {keys} LIMIT {TOP_ROWS}"""


def read_repeat_rates(*, session: Session, shop_id: int | None, periods: dict[str, tuple]) -> dict[str, dict]:
    """Per named period: customers who ordered in it, those with two or more orders to date, and their ratio.

    From the per-day counts of first and last orders (reporting.customer_days, migration 0018): a period's
    customers are those whose first order came by its end, less those whose last order came before its start
    (no entry for a period without customers)."""
    names, columns, params = list(periods), [], {"shop_id": shop_id}
    for n, name in enumerate(names):
        lo, hi = periods[name]
        if lo > hi:
            raise ValueError(f"period {name!r} ends before it starts: {lo} to {hi}")
        customers, repeat = (f"coalesce(sum({first}) FILTER (WHERE day <= :hi{n}), 0) "
                             f"- coalesce(sum({last}) FILTER (WHERE day < :lo{n}), 0)"
                             for first, last in (("firsts", "lasts"), ("firsts_repeat", "lasts_repeat")))
        columns += [f"{customers} AS c{n}", f"{repeat} AS r{n}"]
        params |= {f"lo{n}": lo, f"hi{n}": hi}
    his = ", ".join(f"CAST(:hi{n} AS date)" for n in range(len(names)))
    rates = ", ".join(f"c{n}, r{n}, round(r{n}::numeric / nullif(c{n}, 0), 4)" for n in range(len(names)))
    row = session.execute(text(f"""
        SELECT {rates} FROM (
            SELECT {", ".join(columns)} FROM reporting.customer_days
            WHERE {_shop_or_all()} AND day <= greatest({his})) counts
    """), params).one()
    out = {}
    for n, name in enumerate(names):
        customers, repeat, rate = row[3 * n:3 * n + 3]
        if customers:
            out[name] = {"period": name, "customers": customers, "repeat_customers": repeat, "repeat_rate": rate}
    return out


# -- uploads and reconciliation (ingest/uploads): batches, their log and bad rows, sales by channel ------------
# Batches, their log and rejected rows are granted to the web under RLS (members of the store see them); the
# reconciliation reads the warehouse through reporting.reconciliation, which admits only the user's stores.
UPLOAD_REJECTS_SHOWN = 50
RECONCILIATION_STATUS = ("CASE WHEN status = 'matched' AND abs(difference) > :tolerance THEN 'difference' "
                         "ELSE status END")


def list_upload_batches(*, session: Session, shop_id: int | None, limit: int = 50) -> list[Row]:
    """A store's latest upload batches (all visible stores' when shop_id is None), newest first, with their job."""
    return list(session.execute(text("""
        SELECT b.id, b.shop_id, s.name AS shop_name, b.kind, b.status, b.filename, b.sha256, b.size_bytes,
               b.rows_total, b.rows_loaded, b.rows_rejected, b.period_start, b.period_end, b.replaced_by, b.error,
               b.created_at, b.updated_at, j.status AS job_status, j.progress_done, j.progress_total,
               j.progress_label, j.error_message AS job_error
        FROM app_dashboard.upload_batches b JOIN app_dashboard.shops s ON s.id = b.shop_id
        LEFT JOIN app_dashboard.sync_jobs j ON j.id = b.job_id
        WHERE CAST(:shop_id AS bigint) IS NULL OR b.shop_id = :shop_id
        ORDER BY b.id DESC LIMIT :limit
    """), {"shop_id": shop_id, "limit": limit}))


def list_upload_log(*, session: Session, batch_id: int) -> list[Row]:
    """A batch's processing log, oldest first."""
    return list(session.execute(text("""
        SELECT step, at, rows, good, bad, details FROM app_dashboard.upload_log WHERE batch_id = :b ORDER BY id
    """), {"b": batch_id}))


def list_upload_rejects(*, session: Session, batch_id: int, limit: int | None = UPLOAD_REJECTS_SHOWN) -> list[Row]:
    """A batch's rejected rows: line, reason and the row as read."""
    return list(session.execute(text("""
        SELECT line_no, reason, raw FROM staging_ingest.upload_rejects WHERE batch_id = :b
        ORDER BY line_no LIMIT :limit
    """), {"b": batch_id, "limit": limit}))


def has_marketplace_sales(*, session: Session, shop_id: int | None, start, end) -> bool:
    """Whether uploaded marketplace orders fall in the range (the view's Shopify half is not read for this)."""
    return session.execute(text(f"""
        SELECT EXISTS (SELECT FROM reporting.sales_by_channel WHERE channel <> 'Shopify' AND {_RANGE})
    """), {"shop_id": shop_id, "start": start, "end": end}).scalar()


def read_sales_by_channel(*, session: Session, shop_id: int | None, start, end) -> list[dict]:
    """Sales per channel (Shopify and each marketplace) over [start, end]: one store's in its currency, all
    stores' converted to the reporting currency day by day (null when a rate is missing)."""
    all_shops = shop_id is None
    return [dict(row) for row in session.execute(text(f"""
        SELECT channel, {_currency(all_shops)} AS currency, sum(orders) AS orders,
               {_money("sales", all_shops)} AS sales, bool_or(fx_estimated) AS fx_estimated
        FROM reporting.sales_by_channel WHERE {_RANGE}
        GROUP BY channel ORDER BY sales DESC NULLS LAST, channel
    """), {"shop_id": shop_id, "start": start, "end": end}).mappings()]


def read_reconciliation(*, session: Session, shop_id: int, start, end,
                        tolerance: float = settings.RECONCILE_TOLERANCE) -> list[dict]:
    """One store's orders against payout transactions over [start, end], one dict an order reference."""
    return [dict(row) for row in session.execute(text(f"""
        SELECT side, {RECONCILIATION_STATUS} AS status, order_ref, day, currency, order_amount, payout_amount, fees,
               difference, payout_lines
        FROM reporting.reconciliation(:shop_id, :start, :end)
        ORDER BY side, status, day, order_ref
    """), {"shop_id": shop_id, "start": start, "end": end, "tolerance": tolerance}).mappings()]
# -- overview --------------------------------------------------------------------------------------------------
# The Overview's reads: the two daily reports above merged per day, per-store totals for All stores, what a
# store's header needs (backfill done?), and the ledger that explains a day (reporting.sales_ledger, 0012).
LEDGER_COLUMNS = ("shop_domain", "currency", "day", "order_name", "order_id", "legacy_id", "booked", "orders",
                  "new_customer", "units", "gross_sales", "discounts", "returns", "net_sales", "shipping",
                  "taxes", "duties", "additional_fees", "total_sales")


# The Overview's reads: what daily-revenue and mer-roas give over each period, and for all stores each store's
# reporting.mer_roas totals, in one statement; each rollup's rows in each period read by one range scan (the day
# filter inside the rollup, as reporting.mer_roas_between has it) and summed per day and, for all stores, per store
# in the same pass (grouping sets). No rate is looked up: the money comes converted (migration 0017). Meta's is in
# the store's currency per account-row (spend_shop, rounded per row as marketing_daily's); for all stores each
# store-day's sales are in the reporting currency (daily_revenue_converted, unrounded, null without a rate) and each
# Meta row carries its store's rate to it (shop_reporting_fx_rate): Meta's money is summed per rate, then converted
# (multiplying by a 20-digit rate costs more than reading the row). Sums of amounts times a rate are exact in
# numeric, so summing per day, store or rate first changes no figure; and a mer-roas sum rounded to the cent is
# daily-revenue's rounded sum when both are known.
SALES_MONEY = ("gross_sales", "discounts", "returns", "net_sales", "shipping", "taxes", "duties", "additional_fees",
               "total_sales")
SALES_COUNTS = ("orders", "units", "new_customers", "returning_customers")
SALES_COLUMNS = ("date", "currency", "orders", "units", *SALES_MONEY, "aov", "new_customers", "returning_customers",
                 "fx_estimated")
# Per scope (all stores?): the sales rollup, and for sales and Meta rows their rate to the figures' currency (one
# store: its own, so 1) and whether one of their rates was an earlier day's.
OVERVIEW_SALES = {True: ("reporting.daily_revenue_converted", "fx_rate", "fx_estimated"),
                  False: ("reporting.daily_sales", "1::numeric", "false")}
OVERVIEW_META = {True: ("shop_reporting_fx_rate", "shop_reporting_fx_estimated OR shop_fx_estimated"),
                 False: ("1::numeric", "shop_fx_estimated")}


def _bounds(periods: dict[str, tuple]) -> dict:
    """The parameters _in_periods names: lo0, hi0 for the first period, lo1, hi1 for the next..."""
    return {f"{bound}{n}": dates[k] for n, dates in enumerate(periods.values()) for k, bound in enumerate(("lo", "hi"))}


def _in_periods(source: str, columns: str, count: int) -> str:
    """`source`'s rows in each period (one range scan each), tagged with the period's position."""
    return " UNION ALL ".join(f"SELECT {n} AS period, shop_id, day, {columns} FROM {source} "
                              f"WHERE {_shop_or_all()} AND day BETWEEN :lo{n} AND :hi{n}" for n in range(count))


def _overview(all_shops: bool, count: int) -> str:
    """Per period and day (and per period and store, for all stores: `day` null) the Overview's figures."""
    def money(column: str) -> str:  # a sales column as daily-revenue sums it (one store: rate 1, in cents)
        return f"CASE WHEN bool_and(rate IS NOT NULL) THEN round(sum({column}), 2) END"

    def mer(column: str) -> str:  # a mer-roas sum: null when a sales or Meta row of it has no rate
        return f"CASE WHEN coalesce(s.ok, true) AND coalesce(m.ok, true) THEN round(coalesce({column}, 0), 2) END"

    def grouped(rows: str, keys: str = "") -> str:  # per period and day, and for all stores per period and store
        sets = f"GROUPING SETS ((period, day{keys}), (period, shop_id{keys}))" if all_shops else f"period, day{keys}"
        return f"{'shop_id' if all_shops else 'NULL::bigint AS shop_id'} FROM ({rows}) x GROUP BY {sets}"

    source, rate, estimated = OVERVIEW_SALES[all_shops]
    sales = _in_periods(source, f"{', '.join((*SALES_COUNTS, *SALES_MONEY))}, {rate} AS rate, "
                                f"{estimated} AS estimated", count)
    ads = _in_periods("reporting.daily_marketing", "spend_shop, purchase_value_shop, {} AS rate, {} AS estimated"
                      .format(*OVERVIEW_META[all_shops]), count)
    currency = ("(SELECT reporting_currency FROM app_dashboard.agency_settings)" if all_shops else
                "(SELECT currency FROM app_dashboard.shops WHERE id = :shop_id)")
    raw = (f"""LEFT JOIN (SELECT period, shop_id, sum(total_sales) AS total_sales
                          FROM ({_in_periods("reporting.daily_sales", "total_sales", count)}) x
                          GROUP BY period, shop_id) r ON r.period = s.period AND r.shop_id = s.shop_id"""
           if all_shops else "LEFT JOIN (SELECT NULL::numeric AS total_sales) r ON false")
    return f"""
        WITH sold AS (
            SELECT period, day, sum(orders) AS orders, sum(units) AS units,
                   {", ".join(f"{money(c)} AS {c}" for c in SALES_MONEY)},
                   round(({money("gross_sales")} - {money("discounts")}) / nullif(sum(orders), 0), 2) AS aov,
                   sum(new_customers) AS new_customers, sum(returning_customers) AS returning_customers,
                   bool_and(rate IS NOT NULL) AS ok, bool_or(estimated) AS estimated,
                   {grouped(sales)}
        ), spent AS (  -- Meta's money summed per rate, then converted
            SELECT period, day, sum(spend * rate) AS spend, sum(purchase_value * rate) AS purchase_value,
                   sum(spend) AS spend_shop, bool_and(rate IS NOT NULL) AS ok, bool_or(estimated) AS estimated, shop_id
            FROM (SELECT period, day, rate, sum(spend_shop) AS spend, sum(purchase_value_shop) AS purchase_value,
                         bool_or(estimated) AS estimated, {grouped(ads, ", rate")}) m
            GROUP BY period, day, shop_id
        )
        SELECT coalesce(s.period, m.period) AS period, coalesce(s.day, m.day) AS date,
               coalesce(s.shop_id, m.shop_id) AS shop_id, coalesce(s.day, m.day) IS NULL AS per_store,
               {currency} AS currency, s.period IS NOT NULL AS has_sales, s.orders, s.units,
               {", ".join(f"s.{c}" for c in SALES_MONEY)}, s.aov, s.new_customers, s.returning_customers,
               s.estimated AS fx_estimated, {mer("s.total_sales")} AS mer_total_sales, {mer("m.spend")} AS spend,
               {mer("m.purchase_value")} AS purchase_value,
               coalesce(s.estimated, false) OR coalesce(m.estimated, false) AS mer_fx_estimated,
               coalesce(r.total_sales, 0) AS store_total_sales, coalesce(m.spend_shop, 0) AS store_spend
        FROM sold s FULL JOIN spent m ON m.period = s.period AND coalesce(m.day, '-infinity') = coalesce(s.day,
             '-infinity') AND coalesce(m.shop_id, 0) = coalesce(s.shop_id, 0)
        {raw}
        ORDER BY 1, 2"""


def read_overview(*, session: Session, shop_id: int | None, periods: dict[str, tuple],
                  shops: list[Row] | None = None, basis: str | None = None) -> tuple[dict, dict]:
    """Per named period: the Overview's days (daily-revenue and mer-roas side by side, one row per day with anything
    in it, as read_report's two reports give them) and, for all stores, each visible store's totals (total sales and
    ad spend in its currency and in the reporting one, as reporting.mer_roas sums them). One statement; `shops`
    is list_shops's answer and `basis` get_mer_basis's, when the caller has them."""
    names, all_shops = list(periods), shop_id is None
    all_channels = (basis or get_mer_basis(session=session)) == "all_channels"
    params = {"shop_id": shop_id} | _bounds(periods)
    days: dict[str, list[dict]] = {name: [] for name in names}
    totals: dict[tuple, dict] = {}
    for row in session.execute(text(_overview(all_shops, len(names))), params).mappings():
        if row["per_store"]:
            totals[names[row["period"]], row["shop_id"]] = {
                "reporting_currency": row["currency"], "total_sales": row["store_total_sales"],
                "spend": row["store_spend"], "total_sales_reporting": row["mer_total_sales"],
                "spend_reporting": row["spend"], "fx_estimated": row["mer_fx_estimated"]}
            continue
        marketing = {"spend": row["spend"], "purchase_value": row["purchase_value"],
                     "mer_sales": row["mer_total_sales"]}  # Shopify's total sales; all channels add below
        if row["has_sales"]:
            day = {key: row[key] for key in SALES_COLUMNS} | marketing
            day["fx_estimated"] = bool(row["fx_estimated"]) or bool(row["mer_fx_estimated"])
        else:  # spend only: the day's sales are mer-roas's (zero, or unknown without a rate)
            day = {"date": row["date"], "currency": row["currency"], **marketing,
                   "fx_estimated": bool(row["mer_fx_estimated"]), "total_sales": row["mer_total_sales"]}
        days[names[row["period"]]].append(day)
    stores = {}
    if all_shops:
        nothing = {"reporting_currency": None, "total_sales": Decimal(0), "spend": Decimal(0),  # no day in it
                   "total_sales_reporting": None, "spend_reporting": None, "fx_estimated": False}
        shops = list_shops(session=session) if shops is None else shops
        stores = {name: [{"shop_id": shop.shop_id, "name": shop.name, "currency": shop.currency,
                          **totals.get((name, shop.shop_id), nothing)} for shop in shops] for name in names}
    if all_channels:
        _add_marketplace(session=session, shop_id=shop_id, periods=periods, days=days, stores=stores)
    return days, stores


def _add_marketplace(*, session: Session, shop_id: int | None, periods: dict[str, tuple], days: dict,
                     stores: dict) -> None:
    """MER on all channels: each day's `mer_sales` (and each store's `marketplace_sales`) gain the uploaded
    marketplace orders' net sales; a day with marketplace sales alone joins the days."""
    all_shops = shop_id is None
    for name, (start, end) in periods.items():
        sold = {row.date: row for row in session.execute(text(_marketplace_days(all_shops)),
                                                          {"shop_id": shop_id, "start": start, "end": end})}
        for day in days[name]:
            extra = sold.pop(day["date"], None)
            if extra is not None:
                day["mer_sales"] = None if day["mer_sales"] is None or extra.sales is None else (
                    day["mer_sales"] + extra.sales)
                day["fx_estimated"] = day["fx_estimated"] or bool(extra.fx_estimated)
        days[name] += [{"date": row.date, "currency": row.currency, "total_sales": Decimal(0), "spend": Decimal(0),
                        "purchase_value": Decimal(0), "mer_sales": row.sales, "fx_estimated": bool(row.fx_estimated)}
                       for row in sold.values()]
        days[name].sort(key=lambda day: day["date"])
        if name in stores:
            added = read_store_marketplace_sales(session=session, start=start, end=end)
            for store in stores[name]:
                store["marketplace_sales"] = added.get(store["shop_id"], Decimal(0))


def read_daily_overview(*, session: Session, shop_id: int | None, start, end) -> list[dict]:
    """Sales (daily-revenue) and marketing (mer-roas) side by side, one row per day with anything in it."""
    return read_overview(session=session, shop_id=shop_id, periods={"current": (start, end)})[0]["current"]


def list_backfills(*, session: Session, shop_id: int | None = None) -> dict[int, bool]:
    """Whether each visible store's Shopify history (HISTORICAL_INIT) has ever finished."""
    rows = session.execute(text("""
        SELECT s.id AS shop_id, EXISTS (
            SELECT FROM app_dashboard.sync_jobs j WHERE j.shop_id = s.id AND j.source = 'shopify'
              AND j.kind = 'HISTORICAL_INIT' AND j.status = 'succeeded') AS done
        FROM app_dashboard.shops s WHERE CAST(:shop_id AS bigint) IS NULL OR s.id = :shop_id
    """), {"shop_id": shop_id})
    return {row.shop_id: row.done for row in rows}


def read_sales_ledger(*, session: Session, shop_id: int | None, start, end, limit: int | None = None) -> list[dict]:
    """The orders and reversals booked per day over [start, end] (one row per store, day and order)."""
    rows = session.execute(text(f"""
        SELECT {", ".join(LEDGER_COLUMNS)} FROM reporting.sales_ledger(CAST(:shop_id AS bigint), :start, :end)
        {"LIMIT :limit" if limit else ""}
    """), {"shop_id": shop_id, "start": start, "end": end, "limit": limit}).mappings()
    return [dict(row) for row in rows]


def get_timezone(*, session: Session, shop_id: int | None) -> str:
    """The store's IANA timezone (what "today" means for it); All stores, or one not visible: the agency's."""
    if shop_id is None:
        return settings.REPORTING_TIMEZONE
    shop = get_shop(session=session, shop_id=shop_id)
    return shop.iana_timezone if shop is not None else settings.REPORTING_TIMEZONE


def get_mer_basis(*, session: Session) -> str:
    """Which sales MER divides: "shopify" (Shopify's total sales) or "all_channels" (plus marketplace orders)."""
    return session.execute(text(f"SELECT {MER_BASIS}")).scalar() or "shopify"


def read_store_marketplace_sales(*, session: Session, start, end) -> dict[int, object]:
    """Per visible store with uploaded marketplace orders over [start, end]: their net sales in the reporting
    currency (None when a rate is missing), what MER on all channels adds to the store's total sales."""
    return dict(session.execute(text("""
        SELECT shop_id, CASE WHEN bool_and(fx_rate IS NOT NULL AND sales IS NOT NULL)
                             THEN round(sum(sales * fx_rate), 2) END
        FROM reporting.sales_by_channel WHERE channel <> 'Shopify' AND day BETWEEN :start AND :end
        GROUP BY shop_id
    """), {"start": start, "end": end}).all())


def get_reporting_currency(*, session: Session) -> str:
    """The agency's reporting currency (All stores' money)."""
    return session.execute(text("SELECT reporting_currency FROM app_dashboard.agency_settings")).scalar()


def read_selection(*, session: Session, query) -> selection.Selection:
    """The selection in a URL's query, its presets in the selected store's timezone (All stores: the agency's)."""
    return selection.parse_local(query, timezone_of=lambda shop_id: get_timezone(session=session, shop_id=shop_id))

