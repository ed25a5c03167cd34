"""Dated FX rates and the reporting views the web reads (security_invoker: the reader's RLS applies).

Revision ID: 0011
Revises: 0010

fx_rates holds the European Central Bank's reference rates (base EUR), loaded by `python -m ingest.fx`.
reporting.fx(from, to, day) converts through EUR with the latest rate on or before the day; a figure whose
rate is older than its day says so (`fx_estimated`). Every view carries, beside its money in the shop's
currency, the rate to the agency's reporting currency for its day: all-stores figures multiply by it before
summing, so money of different currencies is never summed raw.
"""

from alembic import op

from migrations.rls import SCHEDULER_ROLE, WEB_ROLE

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

FX = """
CREATE TABLE reporting.fx_rates (
    day       date NOT NULL,
    base      text NOT NULL CHECK (base ~ '^[A-Z]{3}$'),
    quote     text NOT NULL CHECK (quote ~ '^[A-Z]{3}$'),
    rate      numeric NOT NULL CHECK (rate > 0),
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (base, quote, day)
);

-- Units of `currency` per euro on `on_day` (the latest published on or before it), and the rate's own day.
CREATE FUNCTION reporting.per_euro(currency text, on_day date) RETURNS TABLE (rate numeric, rate_day date)
    LANGUAGE sql STABLE AS $$
    SELECT 1::numeric, on_day WHERE currency = 'EUR'
    UNION ALL
    (SELECT r.rate, r.day FROM reporting.fx_rates r
     WHERE currency <> 'EUR' AND r.base = 'EUR' AND r.quote = currency AND r.day <= on_day
     ORDER BY r.day DESC LIMIT 1)
$$;

-- Units of `to_currency` per unit of `from_currency` on `on_day`; no row when either has no rate yet.
CREATE FUNCTION reporting.fx(from_currency text, to_currency text, on_day date)
    RETURNS TABLE (rate numeric, rate_day date) LANGUAGE sql STABLE AS $$
    SELECT 1::numeric, on_day WHERE from_currency = to_currency
    UNION ALL
    SELECT t.rate / f.rate, least(f.rate_day, t.rate_day)
    FROM reporting.per_euro(from_currency, on_day) f, reporting.per_euro(to_currency, on_day) t
    WHERE from_currency <> to_currency
$$;
"""

# fx_estimated: the rate is an earlier day's (or missing, when fx_rate is null).
REPORTING_FX = """a.reporting_currency, rc.rate AS fx_rate,
       coalesce(rc.rate_day < {day}, true) AS fx_estimated"""
REPORTING_JOIN = """CROSS JOIN app_dashboard.agency_settings a
LEFT JOIN LATERAL reporting.fx({currency}, a.reporting_currency, {day}) rc ON true"""

META_COLUMNS = """m.currency AS account_currency, m.spend, m.impressions, m.clicks, m.link_clicks, m.purchases,
       m.purchase_value, sh.currency, sc.rate AS shop_fx_rate,
       round(m.spend * sc.rate, 2) AS spend_shop, round(m.purchase_value * sc.rate, 2) AS purchase_value_shop,
       coalesce(sc.rate_day < m.day, true) AS shop_fx_estimated,
       a.reporting_currency, rc.rate AS fx_rate, coalesce(rc.rate_day < m.day, true) AS fx_estimated"""
META_JOINS = """JOIN app_dashboard.shops sh ON sh.id = m.shop_id
CROSS JOIN app_dashboard.agency_settings a
LEFT JOIN LATERAL reporting.fx(m.currency, sh.currency, m.day) sc ON true
LEFT JOIN LATERAL reporting.fx(m.currency, a.reporting_currency, m.day) rc ON true"""

VIEWS = f"""
CREATE VIEW reporting.daily_revenue WITH (security_invoker = true) AS
SELECT r.shop_id, sh.shop_domain, r.day, sh.currency, r.orders, r.units, r.gross_sales, r.discounts, r.returns,
       r.net_sales, r.shipping, r.taxes, r.duties, r.additional_fees, r.total_sales,
       round((r.gross_sales - r.discounts) / nullif(r.orders, 0), 2) AS aov,
       r.new_customers, r.new_customer_orders, r.new_customer_net_sales,
       r.returning_customers, r.returning_customer_orders, r.returning_customer_net_sales,
       {REPORTING_FX.format(day="r.day")}
FROM reporting.daily_sales r JOIN app_dashboard.shops sh ON sh.id = r.shop_id
{REPORTING_JOIN.format(currency="sh.currency", day="r.day")};

-- Meta's figures per ad account, in its currency, in the shop's (spend_shop, purchase_value_shop: the rate
-- shop_fx_rate, shop_fx_estimated), and the rate from the account's currency to the reporting currency.
CREATE VIEW reporting.marketing_daily WITH (security_invoker = true) AS
SELECT m.shop_id, sh.shop_domain, m.day, m.account_id, {META_COLUMNS}
FROM reporting.daily_marketing m
{META_JOINS};

CREATE VIEW reporting.campaign_daily WITH (security_invoker = true) AS
SELECT m.shop_id, sh.shop_domain, m.day, m.account_id, m.campaign_id, m.campaign_name, m.objective, {META_COLUMNS}
FROM reporting.daily_campaigns m
{META_JOINS};

-- Sales beside spend, per shop and day, in the shop's currency. MER = total sales / spend,
-- ROAS = Meta purchase value / spend, CAC = spend / new customers: null, never zero or infinite, without spend.
-- shop_fx_estimated: spend was converted to the shop's currency at an earlier day's rate.
CREATE VIEW reporting.mer_roas WITH (security_invoker = true) AS
WITH spend AS (
    SELECT shop_id, day, sum(spend_shop) AS spend, sum(purchases) AS purchases,
           sum(purchase_value_shop) AS purchase_value, bool_or(shop_fx_estimated) AS shop_fx_estimated
    FROM reporting.marketing_daily GROUP BY shop_id, day
)
SELECT shop_id, sh.shop_domain, day, sh.currency, coalesce(r.orders, 0) AS orders,
       coalesce(r.total_sales, 0) AS total_sales, coalesce(r.new_customers, 0) AS new_customers,
       coalesce(s.spend, 0) AS spend, coalesce(s.purchases, 0) AS purchases,
       coalesce(s.purchase_value, 0) AS purchase_value,
       round(coalesce(r.total_sales, 0) / nullif(s.spend, 0), 4) AS mer,
       round(s.purchase_value / nullif(s.spend, 0), 4) AS roas,
       round(s.spend / nullif(r.new_customers, 0), 2) AS cac,
       coalesce(s.shop_fx_estimated, false) AS shop_fx_estimated, a.reporting_currency, rc.rate AS fx_rate,
       coalesce(rc.rate_day < day, true) OR coalesce(s.shop_fx_estimated, false) AS fx_estimated
FROM reporting.daily_sales r FULL JOIN spend s USING (shop_id, day)
JOIN app_dashboard.shops sh ON sh.id = shop_id
{REPORTING_JOIN.format(currency="sh.currency", day="day")};

CREATE VIEW reporting.product_daily WITH (security_invoker = true) AS
SELECT p.shop_id, sh.shop_domain, p.day, p.product_id, p.variant_id, p.product_title, p.variant_title, p.sku,
       sh.currency, p.units_sold, p.units_returned, p.net_sales,
       {REPORTING_FX.format(day="p.day")}
FROM reporting.daily_products p JOIN app_dashboard.shops sh ON sh.id = p.shop_id
{REPORTING_JOIN.format(currency="sh.currency", day="p.day")};

-- Money to date is converted at the rate of the customer's last order day.
CREATE VIEW reporting.customer_summary WITH (security_invoker = true) AS
SELECT c.shop_id, sh.shop_domain, c.customer_id, c.display_name, c.email, c.first_order_day, c.last_order_day,
       c.orders, sh.currency, c.net_sales, round(c.net_sales / nullif(c.orders, 0), 2) AS net_sales_per_order,
       {REPORTING_FX.format(day="c.last_order_day")}
FROM reporting.customer_facts c JOIN app_dashboard.shops sh ON sh.id = c.shop_id
{REPORTING_JOIN.format(currency="sh.currency", day="c.last_order_day")};
"""

NAMES = ("daily_revenue", "marketing_daily", "campaign_daily", "mer_roas", "product_daily", "customer_summary")

GRANTS = f"""
GRANT SELECT ON reporting.fx_rates, {", ".join(f"reporting.{n}" for n in NAMES)} TO {WEB_ROLE};
GRANT ALL ON reporting.fx_rates TO {SCHEDULER_ROLE};
GRANT SELECT ON {", ".join(f"reporting.{n}" for n in NAMES)} TO {SCHEDULER_ROLE};
GRANT EXECUTE ON FUNCTION reporting.per_euro(text, date), reporting.fx(text, text, date)
    TO {WEB_ROLE}, {SCHEDULER_ROLE};
"""


def upgrade() -> None:
    op.execute(FX)
    op.execute(VIEWS)
    op.execute(GRANTS)


def downgrade() -> None:
    for name in reversed(NAMES):
        op.execute(f"DROP VIEW reporting.{name}")
    op.execute("DROP FUNCTION reporting.fx(text, text, date), reporting.per_euro(text, date)")
    op.execute("DROP TABLE reporting.fx_rates")
