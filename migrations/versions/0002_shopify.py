"""Shopify ingestion: staging (landed lines, quarantine, webhook inbox), the wide warehouse tables, completeness.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from migrations.rls import SCHEDULER_ROLE, WEB_ROLE, tenant_table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SHOPS = """
ALTER TABLE app_dashboard.shops
    ADD COLUMN shopify_gid             text,
    ADD COLUMN sync_interval_minutes   integer NOT NULL DEFAULT 10 CHECK (sync_interval_minutes > 0),
    ADD COLUMN status_reason           text,
    -- Data completeness: Shopify's order count against the warehouse's, for the same range.
    ADD COLUMN shopify_order_count     bigint,
    ADD COLUMN warehouse_order_count   bigint,
    ADD COLUMN completeness_checked_at timestamptz;
ALTER TABLE app_dashboard.shop_credentials ADD COLUMN webhook_secret_enc text;
"""

STAGING = """
-- One load: a bulk file, a page of results, a drained webhook, a replayed file. Lines point at it.
CREATE TABLE staging_ingest.load_batches (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id     bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    job_id      bigint,
    origin      text NOT NULL,
    parts       text[] NOT NULL,
    lines       bigint NOT NULL DEFAULT 0,
    quarantined bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX load_batches_shop_idx ON staging_ingest.load_batches (shop_id, created_at);

-- Landed JSONL lines exactly as Shopify sent them (kept for replay; pruned by age). No key: COPY speed.
CREATE TABLE staging_ingest.shopify_lines (
    batch_id bigint NOT NULL REFERENCES staging_ingest.load_batches (id) ON DELETE CASCADE,
    line_no  bigint NOT NULL,
    payload  jsonb NOT NULL,
    -- Read once at COPY: promotion picks a range's lines of one type without decompressing every payload.
    typename text GENERATED ALWAYS AS (payload->>'__typename') STORED
);
-- Promotion reads a batch a range of lines at a time: (batch_id, line_no) makes each range an index scan.
CREATE INDEX shopify_lines_batch_idx ON staging_ingest.shopify_lines (batch_id, line_no);

-- Lines that could not be loaded, with the reason; the rest of their file loads.
CREATE TABLE staging_ingest.quarantine (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id    bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    batch_id   bigint REFERENCES staging_ingest.load_batches (id) ON DELETE SET NULL,
    line_no    bigint,
    reason     text NOT NULL,
    raw        text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quarantine_shop_idx ON staging_ingest.quarantine (shop_id, id);

-- Verified webhooks, landed by the web in milliseconds and drained by the scheduler.
CREATE TABLE staging_ingest.webhook_inbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_domain  text NOT NULL,
    topic        text NOT NULL,
    webhook_id   text NOT NULL UNIQUE,
    event_id     text,
    triggered_at timestamptz,
    api_version  text,
    payload      jsonb NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    outcome      text
);
CREATE INDEX webhook_inbox_pending_idx ON staging_ingest.webhook_inbox (id) WHERE processed_at IS NULL;
"""

# Money: numeric, never float. `_shop` is the shop's currency, `_presentment` the customer's.
MONEY = ("subtotal", "total_discounts", "total_shipping", "total_tax", "total_tip", "total_price",
         "total_refunded", "total_refunded_shipping", "total_outstanding", "current_subtotal",
         "current_total_discounts", "current_total_tax", "current_total_price", "original_total_price",
         "current_total_duties", "original_total_duties", "current_total_additional_fees",
         "original_total_additional_fees", "total_received", "net_payment")
ORDER_MONEY = ",\n".join(f"    {m}_shop numeric(20, 2), {m}_presentment numeric(20, 2)" for m in MONEY)

WAREHOUSE = f"""
CREATE TABLE core_warehouse.orders (
    shop_id               bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    order_id              text NOT NULL,
    legacy_id             bigint,
    name                  text,
    created_at            timestamptz NOT NULL,
    processed_at          timestamptz,
    updated_at            timestamptz NOT NULL,
    cancelled_at          timestamptz,
    cancel_reason         text,
    closed_at             timestamptz,
    is_test               boolean NOT NULL DEFAULT false,
    confirmed             boolean,
    edited                boolean,
    currency              text,
    presentment_currency  text,
    taxes_included        boolean,
    financial_status      text,
    fulfillment_status    text,
    customer_id           text,
    email                 text,
    phone                 text,
    source_name           text,
    number                integer,
    confirmation_number   text,
    po_number             text,
    source_identifier     text,
    sales_channel         text,
    retail_location_id    text,
    staff_member_id       text,
    customer_locale       text,
    return_status         text,
    fully_paid            boolean,
    requires_shipping     boolean,
    tax_exempt            boolean,
    duties_included       boolean,
    total_weight_grams    bigint,
    current_line_items_quantity integer,
    landing_page_url      text,
    referrer_url          text,
    first_visit_source    text,
    utm_source            text,
    utm_medium            text,
    utm_campaign          text,
    tags                  text[],
    note                  text,
    discount_codes        text[],
    payment_gateways      text[],
    line_items_quantity   integer,
    billing_country_code  text,
    billing_province_code text,
    billing_city          text,
    shipping_country_code text,
    shipping_province_code text,
    shipping_city         text,
    shipping_zip          text,
{ORDER_MONEY},
    deleted_at            timestamptz,
    raw                   jsonb NOT NULL,
    loaded_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, order_id)
);
CREATE INDEX orders_shop_created_idx ON core_warehouse.orders (shop_id, created_at);
CREATE INDEX orders_shop_updated_idx ON core_warehouse.orders (shop_id, updated_at);
CREATE INDEX orders_shop_customer_idx ON core_warehouse.orders (shop_id, customer_id);

CREATE TABLE core_warehouse.order_line_items (
    shop_id             bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    line_item_id        text NOT NULL,
    order_id            text NOT NULL,
    order_updated_at    timestamptz NOT NULL,
    name                text,
    title               text,
    variant_title       text,
    sku                 text,
    vendor              text,
    product_id          text,
    variant_id          text,
    quantity            integer,
    current_quantity    integer,
    is_gift_card        boolean,
    requires_shipping   boolean,
    taxable             boolean,
    original_unit_price_shop numeric(20, 2),
    original_total_shop      numeric(20, 2),
    discounted_total_shop    numeric(20, 2),
    total_discount_shop      numeric(20, 2),
    tax_shop                 numeric(20, 2),
    original_total_presentment numeric(20, 2),
    raw                 jsonb NOT NULL,
    PRIMARY KEY (shop_id, line_item_id)
);
CREATE INDEX order_line_items_order_idx ON core_warehouse.order_line_items (shop_id, order_id);

CREATE TABLE core_warehouse.order_shipping_lines (
    shop_id            bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    shipping_line_id   text NOT NULL,
    order_id           text NOT NULL,
    order_updated_at   timestamptz NOT NULL,
    title              text,
    code               text,
    source             text,
    original_price_shop   numeric(20, 2),
    discounted_price_shop numeric(20, 2),
    tax_shop              numeric(20, 2),
    raw                jsonb NOT NULL,
    PRIMARY KEY (shop_id, shipping_line_id)
);

CREATE TABLE core_warehouse.order_discount_applications (
    shop_id           bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    order_id          text NOT NULL,
    position          integer NOT NULL,
    order_updated_at  timestamptz NOT NULL,
    kind              text,
    code              text,
    allocation_method text,
    target_type       text,
    target_selection  text,
    value_amount      numeric(20, 2),
    value_percentage  numeric(9, 4),
    raw               jsonb NOT NULL,
    PRIMARY KEY (shop_id, order_id, position)
);

CREATE TABLE core_warehouse.transactions (
    shop_id          bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    transaction_id   text NOT NULL,
    order_id         text NOT NULL,
    order_updated_at timestamptz NOT NULL,
    parent_id        text,
    kind             text,
    status           text,
    gateway          text,
    is_test          boolean,
    amount_shop        numeric(20, 2),
    amount_presentment numeric(20, 2),
    presentment_currency text,
    created_at       timestamptz,
    processed_at     timestamptz,
    raw              jsonb NOT NULL,
    PRIMARY KEY (shop_id, transaction_id)
);
CREATE INDEX transactions_order_idx ON core_warehouse.transactions (shop_id, order_id);

CREATE TABLE core_warehouse.refunds (
    shop_id          bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    refund_id        text NOT NULL,
    order_id         text NOT NULL,
    order_updated_at timestamptz NOT NULL,
    created_at       timestamptz,
    processed_at     timestamptz,
    updated_at       timestamptz,
    note             text,
    total_refunded_shop        numeric(20, 2),
    total_refunded_presentment numeric(20, 2),
    raw              jsonb NOT NULL,
    PRIMARY KEY (shop_id, refund_id)
);
CREATE INDEX refunds_order_idx ON core_warehouse.refunds (shop_id, order_id);

CREATE TABLE core_warehouse.refund_line_items (
    shop_id               bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    refund_line_item_id   text NOT NULL,
    refund_id             text NOT NULL,
    line_item_id          text,
    quantity              integer,
    restock_type          text,
    restocked             boolean,
    price_shop            numeric(20, 2),
    subtotal_shop         numeric(20, 2),
    total_tax_shop        numeric(20, 2),
    raw                   jsonb NOT NULL,
    PRIMARY KEY (shop_id, refund_line_item_id)
);

-- Shopify's audit trail of sales: what its reports date, and how.
CREATE TABLE core_warehouse.order_agreements (
    shop_id      bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    agreement_id text NOT NULL,
    order_id     text NOT NULL,
    kind         text,
    reason       text,
    happened_at  timestamptz NOT NULL,
    raw          jsonb NOT NULL,
    PRIMARY KEY (shop_id, agreement_id)
);
CREATE INDEX order_agreements_order_idx ON core_warehouse.order_agreements (shop_id, order_id);

CREATE TABLE core_warehouse.order_sales (
    shop_id        bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    sale_id        text NOT NULL,
    agreement_id   text NOT NULL,
    kind           text,
    action_type    text NOT NULL,
    line_type      text NOT NULL,
    quantity       integer,
    line_item_id   text,
    total_amount_shop          numeric(20, 2) NOT NULL,
    discount_before_taxes_shop numeric(20, 2) NOT NULL DEFAULT 0,
    discount_after_taxes_shop  numeric(20, 2) NOT NULL DEFAULT 0,
    tax_shop                   numeric(20, 2) NOT NULL DEFAULT 0,
    total_amount_presentment   numeric(20, 2),
    raw            jsonb NOT NULL,
    PRIMARY KEY (shop_id, sale_id)
);
CREATE INDEX order_sales_agreement_idx ON core_warehouse.order_sales (shop_id, agreement_id);

CREATE TABLE core_warehouse.customers (
    shop_id          bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    customer_id      text NOT NULL,
    legacy_id        bigint,
    first_name       text,
    last_name        text,
    display_name     text,
    email            text,
    phone            text,
    state            text,
    tags             text[],
    number_of_orders bigint,
    country_code     text,
    province_code    text,
    city             text,
    created_at       timestamptz,
    updated_at       timestamptz NOT NULL,
    redacted_at      timestamptz,
    raw              jsonb NOT NULL,
    PRIMARY KEY (shop_id, customer_id)
);

CREATE TABLE core_warehouse.products (
    shop_id         bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    product_id      text NOT NULL,
    legacy_id       bigint,
    title           text,
    handle          text,
    vendor          text,
    product_type    text,
    category        text,
    status          text,
    tags            text[],
    is_gift_card    boolean,
    total_inventory bigint,
    image_url       text,
    created_at      timestamptz,
    updated_at      timestamptz NOT NULL,
    published_at    timestamptz,
    raw             jsonb NOT NULL,
    PRIMARY KEY (shop_id, product_id)
);

CREATE TABLE core_warehouse.product_variants (
    shop_id            bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    variant_id         text NOT NULL,
    product_id         text NOT NULL,
    title              text,
    sku                text,
    barcode            text,
    price              numeric(20, 2),
    compare_at_price   numeric(20, 2),
    inventory_quantity bigint,
    inventory_item_id  text,
    unit_cost          numeric(20, 2),
    unit_cost_currency text,
    created_at         timestamptz,
    updated_at         timestamptz NOT NULL,
    raw                jsonb NOT NULL,
    PRIMARY KEY (shop_id, variant_id)
);
CREATE INDEX product_variants_product_idx ON core_warehouse.product_variants (shop_id, product_id);
"""

# Shopify's sales report, per shop-local day, rebuilt from the agreements (reference/shopify.md section 6):
# sales on the day they happened, reversals on theirs; test and deleted orders out; tips and gift cards out.
VIEWS = """
CREATE VIEW core_warehouse.shop_daily_sales WITH (security_invoker = true) AS
WITH sale_days AS (
    SELECT s.shop_id,
           (a.happened_at AT TIME ZONE sh.iana_timezone)::date AS day,
           s.action_type, s.line_type,
           s.total_amount_shop - s.tax_shop + s.discount_before_taxes_shop AS gross,
           s.discount_before_taxes_shop AS discount,
           s.tax_shop AS tax
    FROM core_warehouse.order_sales s
    JOIN core_warehouse.order_agreements a USING (shop_id, agreement_id)
    JOIN core_warehouse.orders o ON o.shop_id = a.shop_id AND o.order_id = a.order_id
    JOIN app_dashboard.shops sh ON sh.id = s.shop_id
    WHERE NOT o.is_test AND o.deleted_at IS NULL
      AND s.line_type IN ('PRODUCT', 'SHIPPING', 'DUTY', 'ADDITIONAL_FEE')
),
amounts AS (
    SELECT shop_id, day,
        sum(gross) FILTER (WHERE line_type = 'PRODUCT' AND action_type <> 'RETURN') AS gross_sales,
        sum(discount) FILTER (WHERE line_type = 'PRODUCT' AND action_type <> 'RETURN') AS discounts,
        -sum(gross - discount) FILTER (WHERE line_type = 'PRODUCT' AND action_type = 'RETURN') AS returns,
        sum(gross - discount) FILTER (WHERE line_type = 'SHIPPING') AS shipping,
        sum(gross - discount) FILTER (WHERE line_type = 'DUTY') AS duties,
        sum(gross - discount) FILTER (WHERE line_type = 'ADDITIONAL_FEE') AS additional_fees,
        sum(tax) AS taxes
    FROM sale_days GROUP BY shop_id, day
),
order_days AS (
    SELECT o.shop_id, (o.created_at AT TIME ZONE sh.iana_timezone)::date AS day, count(*) AS orders
    FROM core_warehouse.orders o JOIN app_dashboard.shops sh ON sh.id = o.shop_id
    WHERE NOT o.is_test AND o.deleted_at IS NULL
    GROUP BY 1, 2
)
SELECT shop_id, day,
       coalesce(d.orders, 0) AS orders,
       coalesce(a.gross_sales, 0)::numeric(20, 2) AS gross_sales,
       coalesce(a.discounts, 0)::numeric(20, 2) AS discounts,
       coalesce(a.returns, 0)::numeric(20, 2) AS returns,
       (coalesce(a.gross_sales, 0) - coalesce(a.discounts, 0) - coalesce(a.returns, 0))::numeric(20, 2) AS net_sales,
       coalesce(a.shipping, 0)::numeric(20, 2) AS shipping,
       coalesce(a.taxes, 0)::numeric(20, 2) AS taxes,
       coalesce(a.duties, 0)::numeric(20, 2) AS duties,
       coalesce(a.additional_fees, 0)::numeric(20, 2) AS additional_fees,
       (coalesce(a.gross_sales, 0) - coalesce(a.discounts, 0) - coalesce(a.returns, 0) + coalesce(a.shipping, 0)
        + coalesce(a.taxes, 0) + coalesce(a.duties, 0) + coalesce(a.additional_fees, 0))::numeric(20, 2)
           AS total_sales
FROM amounts a FULL JOIN order_days d USING (shop_id, day);
"""

TENANT_TABLES = (
    "staging_ingest.load_batches", "staging_ingest.quarantine",
    "core_warehouse.orders", "core_warehouse.order_line_items", "core_warehouse.order_shipping_lines",
    "core_warehouse.order_discount_applications", "core_warehouse.transactions", "core_warehouse.refunds",
    "core_warehouse.refund_line_items", "core_warehouse.order_agreements", "core_warehouse.order_sales",
    "core_warehouse.customers", "core_warehouse.products", "core_warehouse.product_variants",
)

POLICIES = "\n".join(tenant_table(t) for t in TENANT_TABLES) + f"""
-- The inbox has no shop yet (the scheduler resolves the domain): the web may only add to it.
ALTER TABLE staging_ingest.webhook_inbox ENABLE ROW LEVEL SECURITY;
CREATE POLICY scheduler_all ON staging_ingest.webhook_inbox TO {SCHEDULER_ROLE} USING (true) WITH CHECK (true);
CREATE POLICY web_accept ON staging_ingest.webhook_inbox FOR INSERT TO {WEB_ROLE} WITH CHECK (processed_at IS NULL);
"""

# The web verifies webhooks without reading credentials: this function hands it the encrypted signing
# secrets of one shop domain and nothing else.
FUNCTIONS = f"""
CREATE FUNCTION app_dashboard.webhook_secrets(domain text) RETURNS SETOF text
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
        SELECT coalesce(c.webhook_secret_enc, c.client_secret_enc)
        FROM app_dashboard.shop_credentials c JOIN app_dashboard.shops s ON s.id = c.shop_id
        WHERE s.shop_domain = domain AND coalesce(c.webhook_secret_enc, c.client_secret_enc) IS NOT NULL
    $$;
REVOKE ALL ON FUNCTION app_dashboard.webhook_secrets(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_dashboard.webhook_secrets(text) TO {WEB_ROLE}, {SCHEDULER_ROLE};

GRANT USAGE ON SCHEMA staging_ingest TO {WEB_ROLE};
GRANT INSERT (shop_domain, topic, webhook_id, event_id, triggered_at, api_version, payload)
    ON staging_ingest.webhook_inbox TO {WEB_ROLE};
"""


def upgrade() -> None:
    op.execute(SHOPS)
    op.execute(STAGING)
    op.execute(WAREHOUSE)
    op.execute(VIEWS)
    op.execute(POLICIES)
    op.execute(FUNCTIONS)
    # Default privileges from 0001 cover new tables for the scheduler; the view needs its own grant.
    op.execute(f"GRANT SELECT ON core_warehouse.shop_daily_sales TO {SCHEDULER_ROLE}")


def downgrade() -> None:
    for table in ("core_warehouse.shop_daily_sales",):
        op.execute(f"DROP VIEW {table}")
    op.execute("DROP FUNCTION app_dashboard.webhook_secrets(text)")
    for table in reversed(TENANT_TABLES + ("staging_ingest.shopify_lines", "staging_ingest.webhook_inbox")):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    op.execute("ALTER TABLE app_dashboard.shop_credentials DROP COLUMN webhook_secret_enc")
    op.execute("""ALTER TABLE app_dashboard.shops DROP COLUMN shopify_gid, DROP COLUMN sync_interval_minutes,
        DROP COLUMN status_reason, DROP COLUMN shopify_order_count, DROP COLUMN warehouse_order_count,
        DROP COLUMN completeness_checked_at""")
    op.execute(f"REVOKE USAGE ON SCHEMA staging_ingest FROM {WEB_ROLE}")
