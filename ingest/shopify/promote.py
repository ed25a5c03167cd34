"""Set-based promotion of landed Shopify lines into core_warehouse: one INSERT ... SELECT per table.

Rules: a row is replaced only by a payload whose `updatedAt` is not older (webhooks and pages arrive late
and twice); children without an `updatedAt` of their own take their order's, read from the warehouse, so
they are promoted in a second pass once every order of the batch is in. Sales agreements, sales and refund
line items are Shopify's audit trail and never change once written.
"""

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

SRC = """staging_ingest.shopify_lines l
    WHERE l.batch_id = :batch AND l.line_no BETWEEN :lo AND :hi AND l.typename {typename}"""


def money(path: str, currency: str = "shopMoney") -> str:
    return f"(p #>> '{{{path},{currency},amount}}')::numeric"


def ts(key: str) -> str:
    return f"(p->>'{key}')::timestamptz"


def tags(key: str) -> str:
    return f"ARRAY(SELECT jsonb_array_elements_text(coalesce(p->'{key}', '[]'::jsonb)))"


ORDER_MONEY = {
    "subtotal": "subtotalPriceSet", "total_discounts": "totalDiscountsSet", "total_shipping": "totalShippingPriceSet",
    "total_tax": "totalTaxSet", "total_tip": "totalTipReceivedSet", "total_price": "totalPriceSet",
    "total_refunded": "totalRefundedSet", "total_refunded_shipping": "totalRefundedShippingSet",
    "total_outstanding": "totalOutstandingSet", "current_subtotal": "currentSubtotalPriceSet",
    "current_total_discounts": "currentTotalDiscountsSet", "current_total_tax": "currentTotalTaxSet",
    "current_total_price": "currentTotalPriceSet", "original_total_price": "originalTotalPriceSet",
    "current_total_duties": "currentTotalDutiesSet", "original_total_duties": "originalTotalDutiesSet",
    "current_total_additional_fees": "currentTotalAdditionalFeesSet",
    "original_total_additional_fees": "originalTotalAdditionalFeesSet",
    "total_received": "totalReceivedSet", "net_payment": "netPaymentSet",
}

ORDER_COLUMNS = {
    "order_id": "p->>'id'",
    "legacy_id": "(p->>'legacyResourceId')::bigint",
    "name": "p->>'name'",
    "created_at": ts("createdAt"),
    "processed_at": ts("processedAt"),
    "updated_at": ts("updatedAt"),
    "cancelled_at": ts("cancelledAt"),
    "cancel_reason": "p->>'cancelReason'",
    "closed_at": ts("closedAt"),
    "is_test": "coalesce((p->>'test')::boolean, false)",
    "confirmed": "(p->>'confirmed')::boolean",
    "edited": "(p->>'edited')::boolean",
    "currency": "p->>'currencyCode'",
    "presentment_currency": "p->>'presentmentCurrencyCode'",
    "taxes_included": "(p->>'taxesIncluded')::boolean",
    "financial_status": "p->>'displayFinancialStatus'",
    "fulfillment_status": "p->>'displayFulfillmentStatus'",
    "customer_id": "p #>> '{customer,id}'",
    "email": "p->>'email'",
    "phone": "p->>'phone'",
    "source_name": "p->>'sourceName'",
    "number": "(p->>'number')::integer",
    "confirmation_number": "p->>'confirmationNumber'",
    "po_number": "p->>'poNumber'",
    "source_identifier": "p->>'sourceIdentifier'",
    "sales_channel": "p #>> '{app,name}'",
    "retail_location_id": "p #>> '{retailLocation,id}'",
    "staff_member_id": "p #>> '{staffMember,id}'",
    "customer_locale": "p->>'customerLocale'",
    "return_status": "p->>'returnStatus'",
    "fully_paid": "(p->>'fullyPaid')::boolean",
    "requires_shipping": "(p->>'requiresShipping')::boolean",
    "tax_exempt": "(p->>'taxExempt')::boolean",
    "duties_included": "(p->>'dutiesIncluded')::boolean",
    "total_weight_grams": "(p->>'totalWeight')::bigint",
    "current_line_items_quantity": "(p->>'currentSubtotalLineItemsQuantity')::integer",
    "landing_page_url": "p #>> '{customerJourneySummary,firstVisit,landingPage}'",
    "referrer_url": "p #>> '{customerJourneySummary,firstVisit,referrerUrl}'",
    "first_visit_source": "p #>> '{customerJourneySummary,firstVisit,source}'",
    "utm_source": "p #>> '{customerJourneySummary,firstVisit,utmParameters,source}'",
    "utm_medium": "p #>> '{customerJourneySummary,firstVisit,utmParameters,medium}'",
    "utm_campaign": "p #>> '{customerJourneySummary,firstVisit,utmParameters,campaign}'",
    "tags": tags("tags"),
    "note": "p->>'note'",
    "discount_codes": tags("discountCodes"),
    "payment_gateways": tags("paymentGatewayNames"),
    "line_items_quantity": "(p->>'subtotalLineItemsQuantity')::integer",
    "billing_country_code": "p #>> '{billingAddress,countryCodeV2}'",
    "billing_province_code": "p #>> '{billingAddress,provinceCode}'",
    "billing_city": "p #>> '{billingAddress,city}'",
    "shipping_country_code": "p #>> '{shippingAddress,countryCodeV2}'",
    "shipping_province_code": "p #>> '{shippingAddress,provinceCode}'",
    "shipping_city": "p #>> '{shippingAddress,city}'",
    "shipping_zip": "p #>> '{shippingAddress,zip}'",
    **{f"{column}_shop": money(field) for column, field in ORDER_MONEY.items()},
    **{f"{column}_presentment": money(field, "presentmentMoney") for column, field in ORDER_MONEY.items()},
}


def upsert_parts(table: str, key: tuple[str, ...], columns: dict[str, str], source: str, *, order_by: str = "",
                 guard: str | None = None) -> tuple[str, str]:
    """An upsert as (select, insert): `SELECT DISTINCT ON (key) ...`, and the INSERT reading it as `{src}`."""
    names = ", ".join(columns)
    keys = ", ".join(columns[k] for k in key)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in key)
    where = f" WHERE {guard}" if guard else ""
    insert = (f"INSERT INTO core_warehouse.{table} AS t (shop_id, {names}, raw) "
              f"SELECT * FROM {{src}} ON CONFLICT (shop_id, {', '.join(key)}) DO UPDATE SET {updates}, "
              f"raw = EXCLUDED.raw{where}")
    select = (f"SELECT DISTINCT ON ({keys}) :shop, {', '.join(columns.values())}, raw "
              f"FROM {source} ORDER BY {keys}{', ' + order_by if order_by else ''}")
    return select, insert


def upsert(table: str, key: tuple[str, ...], columns: dict[str, str], source: str, *, order_by: str = "",
           guard: str | None = None) -> str:
    """INSERT ... SELECT DISTINCT ON (key) ... ON CONFLICT (shop_id, key) DO UPDATE [WHERE guard]."""
    select, insert = upsert_parts(table, key, columns, source, order_by=order_by, guard=guard)
    return f"WITH src AS ({select}) {insert.replace('{src}', 'src')}"


def upsert_together(lines: str, first: tuple[str, str], *others: tuple[str, str]) -> str:
    """Several upserts fed by the same lines, read (and decompressed) once; returns the first one's row count."""
    ctes = [f"lines AS MATERIALIZED ({lines})"]
    for n, (select, insert) in enumerate((first, *others)):
        ctes += [f"src{n} AS ({select})", f"up{n} AS ({insert.replace('{src}', f'src{n}')})"]
    return f"WITH {', '.join(ctes)} SELECT count(*) FROM src0"


def match(typename: str) -> str:
    """The condition on `__typename`: exact, or a suffix such as '%Sale' (ProductSale, ShippingLineSale...)."""
    return f"LIKE '{typename}'" if typename.startswith("%") else f"= '{typename}'"


# `payload #> '{}'` hands back the payload detoasted once per line, and OFFSET 0 keeps the planner from
# inlining it into every column's expression: otherwise a large order line (stored compressed) is
# decompressed once per column read from it, about 80 times (most of the orders statement's time).
# Lines are chosen by the `typename` column (computed at COPY), so other lines are never decompressed.
def chunk(typename: str, condition: str = "") -> str:
    """A batch's lines lo..hi of a type meeting `condition`: payload detoasted once (`p`) and as stored (`raw`).

    `raw` is what the warehouse keeps: still compressed as landed, so it is not compressed a second time.
    """
    rows = f"(SELECT l.payload #> '{{}}' AS p, l.payload AS raw FROM {SRC.format(typename=match(typename))} OFFSET 0)"
    return f"(SELECT p, raw FROM {rows} lines WHERE {condition})" if condition else rows


def lines_of(typename: str, condition: str = "") -> str:
    return f"{chunk(typename, condition)} x"


def with_order(typename: str) -> str:
    """Child lines joined to their order in the warehouse, whose `updated_at` guards them."""
    return (f"(SELECT c.p, c.raw, w.updated_at AS order_updated_at FROM {chunk(typename)} c "
            f"JOIN core_warehouse.orders w ON w.shop_id = :shop AND w.order_id = c.p->>'__parentId') x")


FULL_ORDER = "p ? 'createdAt'"  # the order_sales part's Order lines carry only id and updatedAt
ORDER_LIST_ITEMS = "(SELECT item AS p, item AS raw, c.p AS o FROM lines c, jsonb_array_elements(c.p->'{key}') item) x"
LIST_GUARD = "t.order_updated_at <= EXCLUDED.order_updated_at"

ORDER_PARTS = upsert_parts("orders", ("order_id",), ORDER_COLUMNS, "lines x", order_by=f"{ts('updatedAt')} DESC",
                           guard="t.updated_at <= EXCLUDED.updated_at")

TRANSACTION_PARTS = upsert_parts("transactions", ("transaction_id",), {
    "transaction_id": "p->>'id'", "order_id": "o->>'id'", "order_updated_at": "(o->>'updatedAt')::timestamptz",
    "parent_id": "p #>> '{parentTransaction,id}'", "kind": "p->>'kind'", "status": "p->>'status'",
    "gateway": "p->>'gateway'", "is_test": "(p->>'test')::boolean", "amount_shop": money("amountSet"),
    "amount_presentment": money("amountSet", "presentmentMoney"),
    "presentment_currency": "p #>> '{amountSet,presentmentMoney,currencyCode}'",
    "created_at": ts("createdAt"), "processed_at": ts("processedAt"),
}, ORDER_LIST_ITEMS.replace("{key}", "transactions"), order_by="(o->>'updatedAt')::timestamptz DESC",
    guard=LIST_GUARD)

REFUND_PARTS = upsert_parts("refunds", ("refund_id",), {
    "refund_id": "p->>'id'", "order_id": "o->>'id'", "order_updated_at": "(o->>'updatedAt')::timestamptz",
    "created_at": ts("createdAt"), "processed_at": ts("processedAt"), "updated_at": ts("updatedAt"),
    "note": "p->>'note'", "total_refunded_shop": money("totalRefundedSet"),
    "total_refunded_presentment": money("totalRefundedSet", "presentmentMoney"),
}, ORDER_LIST_ITEMS.replace("{key}", "refunds"), order_by="(o->>'updatedAt')::timestamptz DESC", guard=LIST_GUARD)

# Orders with their transactions and refunds (lists inside the order line): one read of the lines for all three.
ORDERS = upsert_together(chunk("Order", FULL_ORDER), ORDER_PARTS, TRANSACTION_PARTS, REFUND_PARTS)

AGREEMENTS = upsert("order_agreements", ("agreement_id",), {
    "agreement_id": "p->>'id'", "order_id": "p->>'__parentId'", "kind": "p->>'__typename'",
    "reason": "p->>'reason'", "happened_at": ts("happenedAt"),
}, lines_of("%Agreement"))

SALES = upsert("order_sales", ("sale_id",), {
    "sale_id": "p->>'id'", "agreement_id": "p->>'__parentId'", "kind": "p->>'__typename'",
    "action_type": "p->>'actionType'", "line_type": "p->>'lineType'", "quantity": "(p->>'quantity')::integer",
    "line_item_id": "p #>> '{lineItem,id}'", "total_amount_shop": money("totalAmount"),
    "discount_before_taxes_shop": f"coalesce({money('totalDiscountAmountBeforeTaxes')}, 0)",
    "discount_after_taxes_shop": f"coalesce({money('totalDiscountAmountAfterTaxes')}, 0)",
    "tax_shop": f"coalesce({money('totalTaxAmount')}, 0)",
    "total_amount_presentment": money("totalAmount", "presentmentMoney"),
}, lines_of("%Sale"))

REFUND_LINE_ITEMS = upsert("refund_line_items", ("refund_line_item_id",), {
    "refund_line_item_id": "p->>'id'", "refund_id": "p->>'__parentId'", "line_item_id": "p #>> '{lineItem,id}'",
    "quantity": "(p->>'quantity')::integer", "restock_type": "p->>'restockType'",
    "restocked": "(p->>'restocked')::boolean", "price_shop": money("priceSet"),
    "subtotal_shop": money("subtotalSet"), "total_tax_shop": money("totalTaxSet"),
}, lines_of("RefundLineItem"))

CUSTOMERS = upsert("customers", ("customer_id",), {
    "customer_id": "p->>'id'", "legacy_id": "(p->>'legacyResourceId')::bigint", "first_name": "p->>'firstName'",
    "last_name": "p->>'lastName'", "display_name": "p->>'displayName'", "email": "p->>'email'",
    "phone": "p->>'phone'", "state": "p->>'state'", "tags": tags("tags"),
    "number_of_orders": "(p->>'numberOfOrders')::bigint",
    "country_code": "p #>> '{defaultAddress,countryCodeV2}'",
    "province_code": "p #>> '{defaultAddress,provinceCode}'", "city": "p #>> '{defaultAddress,city}'",
    "created_at": ts("createdAt"), "updated_at": ts("updatedAt"),
}, lines_of("Customer"), order_by=f"{ts('updatedAt')} DESC",
    guard="t.updated_at <= EXCLUDED.updated_at AND t.redacted_at IS NULL")

PRODUCTS = upsert("products", ("product_id",), {
    "product_id": "p->>'id'", "legacy_id": "(p->>'legacyResourceId')::bigint", "title": "p->>'title'",
    "handle": "p->>'handle'", "vendor": "p->>'vendor'", "product_type": "p->>'productType'",
    "category": "p #>> '{category,fullName}'", "status": "p->>'status'", "tags": tags("tags"),
    "is_gift_card": "(p->>'isGiftCard')::boolean", "total_inventory": "(p->>'totalInventory')::bigint",
    "image_url": "p #>> '{featuredImage,url}'", "created_at": ts("createdAt"), "updated_at": ts("updatedAt"),
    "published_at": ts("publishedAt"),
}, lines_of("Product"), order_by=f"{ts('updatedAt')} DESC", guard="t.updated_at <= EXCLUDED.updated_at")

VARIANTS = upsert("product_variants", ("variant_id",), {
    "variant_id": "p->>'id'", "product_id": "p->>'__parentId'", "title": "p->>'title'", "sku": "p->>'sku'",
    "barcode": "p->>'barcode'", "price": "(p->>'price')::numeric",
    "compare_at_price": "(p->>'compareAtPrice')::numeric",
    "inventory_quantity": "(p->>'inventoryQuantity')::bigint", "inventory_item_id": "p #>> '{inventoryItem,id}'",
    "unit_cost": "(p #>> '{inventoryItem,unitCost,amount}')::numeric",
    "unit_cost_currency": "p #>> '{inventoryItem,unitCost,currencyCode}'",
    "created_at": ts("createdAt"), "updated_at": ts("updatedAt"),
}, lines_of("ProductVariant"), order_by=f"{ts('updatedAt')} DESC", guard="t.updated_at <= EXCLUDED.updated_at")

CHILD_GUARD = "t.order_updated_at <= EXCLUDED.order_updated_at"
LINE_ITEMS = upsert("order_line_items", ("line_item_id",), {
    "line_item_id": "p->>'id'", "order_id": "p->>'__parentId'", "order_updated_at": "order_updated_at",
    "name": "p->>'name'", "title": "p->>'title'", "variant_title": "p->>'variantTitle'", "sku": "p->>'sku'",
    "vendor": "p->>'vendor'", "product_id": "p #>> '{product,id}'", "variant_id": "p #>> '{variant,id}'",
    "quantity": "(p->>'quantity')::integer", "current_quantity": "(p->>'currentQuantity')::integer",
    "is_gift_card": "(p->>'isGiftCard')::boolean", "requires_shipping": "(p->>'requiresShipping')::boolean",
    "taxable": "(p->>'taxable')::boolean", "original_unit_price_shop": money("originalUnitPriceSet"),
    "original_total_shop": money("originalTotalSet"), "discounted_total_shop": money("discountedTotalSet"),
    "total_discount_shop": money("totalDiscountSet"),
    "tax_shop": "(SELECT sum((t #>> '{priceSet,shopMoney,amount}')::numeric) "
                "FROM jsonb_array_elements(coalesce(p->'taxLines', '[]'::jsonb)) t)",
    "original_total_presentment": money("originalTotalSet", "presentmentMoney"),
}, with_order("LineItem"), guard=CHILD_GUARD)

SHIPPING_LINES = upsert("order_shipping_lines", ("shipping_line_id",), {
    "shipping_line_id": "p->>'id'", "order_id": "p->>'__parentId'", "order_updated_at": "order_updated_at",
    "title": "p->>'title'", "code": "p->>'code'", "source": "p->>'source'",
    "original_price_shop": money("originalPriceSet"), "discounted_price_shop": money("discountedPriceSet"),
    "tax_shop": "(SELECT sum((t #>> '{priceSet,shopMoney,amount}')::numeric) "
                "FROM jsonb_array_elements(coalesce(p->'taxLines', '[]'::jsonb)) t)",
}, with_order("ShippingLine"), guard=CHILD_GUARD)

DISCOUNT_APPLICATIONS = upsert("order_discount_applications", ("order_id", "position"), {
    "order_id": "p->>'__parentId'", "position": "(p->>'index')::integer", "order_updated_at": "order_updated_at",
    "kind": "p->>'__typename'", "code": "coalesce(p->>'code', p->>'title')",
    "allocation_method": "p->>'allocationMethod'", "target_type": "p->>'targetType'",
    "target_selection": "p->>'targetSelection'", "value_amount": "(p #>> '{value,amount}')::numeric",
    "value_percentage": "(p #>> '{value,percentage}')::numeric",
}, with_order("%Application"), guard=CHILD_GUARD)  # DiscountCodeApplication, ManualDiscountApplication...

# A customer erased on request (customers/redact) stays erased: their orders lose the personal fields again
# whenever a later load brings them back.
SCRUB_REDACTED = """
UPDATE core_warehouse.orders o
SET email = NULL, phone = NULL, billing_city = NULL, shipping_city = NULL, shipping_zip = NULL,
    raw = o.raw - 'email' - 'phone' - 'billingAddress' - 'shippingAddress'
FROM core_warehouse.customers c
WHERE c.shop_id = :shop AND c.redacted_at IS NOT NULL AND o.shop_id = :shop AND o.customer_id = c.customer_id
  AND (o.email IS NOT NULL OR o.phone IS NOT NULL OR o.raw ? 'email' OR o.raw ? 'billingAddress')
"""

# What each bulk part lands, in the order it must be promoted. Pass 1 needs nothing else; pass 2 needs orders.
FIRST_PASS = {
    "orders": (ORDERS, SCRUB_REDACTED),
    "order_sales": (AGREEMENTS, SALES, REFUND_LINE_ITEMS),
    "customers": (CUSTOMERS,),
    "products": (PRODUCTS, VARIANTS),
}
SECOND_PASS = {"orders": (LINE_ITEMS, SHIPPING_LINES, DISCOUNT_APPLICATIONS)}


# The second pass joins each child line to its order. When the statistics do not know the shop's orders yet
# (a new database's first load, or a new store's backfill into a database whose statistics predate it) the
# planner guesses a handful of orders for the shop and scans them for every child line: quadratic, 0.9 s
# for a 1,300-order store where the lookups by key take 0.1 s, and minutes for a 40,000-order store loaded
# after another. Analyzing then costs milliseconds to a second; autovacuum keeps the statistics from there on.
def analyze_new_orders(*, session: Session, shop_id: int, orders: int) -> None:
    """Give the orders table statistics when the planner expects far fewer of the shop's orders than the
    first pass just promoted (in a transaction of its own: ANALYZE's lock would otherwise wait for, or hold
    up, another load's)."""
    plan = session.execute(text("EXPLAIN (FORMAT JSON) SELECT 1 FROM core_warehouse.orders WHERE shop_id = :s"),
                           {"s": shop_id}).scalar_one()
    if plan[0]["Plan"]["Plan Rows"] * 2 < orders:
        session.execute(text("ANALYZE core_warehouse.orders"))


# The rollups' statement triggers and flush read these tables by key while a backfill fills them (migrations
# 0010-0021). Statistics taken before a backfill's first chunks made the planner expect one sale of the shop and
# loop over all of them once per agreement of a chunk (73 s for a chunk of 11,000 agreements, where probes by
# key take 0.05 s). Autovacuum catches up only after a minute; a table that more than doubled in size since its
# statistics were taken is analyzed at once instead, about twice per table over a backfill. Only the columns the
# rollups join and filter on: a whole orders row's hundred columns and payload took 1.6 s to analyze at 50,000
# orders, its keys a tenth of that (autovacuum still analyzes every column later).
ROLLUP_READS = {
    "orders": "shop_id, order_id, customer_id, created_at, is_test, deleted_at",
    "order_agreements": "shop_id, agreement_id, order_id, happened_at",
    "order_sales": "shop_id, sale_id, agreement_id, line_type",
    "order_line_items": "shop_id, line_item_id, order_id",
}
ANALYZE_FROM_BYTES = 512 * 1024  # below this a plan cannot go far wrong


def analyze_grown(*, session: Session) -> list[str]:
    """ANALYZE the keys of the tables of ROLLUP_READS whose size more than doubled since their statistics; return
    the tables (in a transaction of its own, as analyze_new_orders). Sizes, not the statistics system's row counts:
    those reach it a second after a transaction, and a chunk may take less."""
    grown = session.execute(text(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'core_warehouse' AND c.relname = ANY(:tables) "
        "AND pg_relation_size(c.oid) >= :least "
        "AND pg_relation_size(c.oid) > 2 * c.relpages::bigint * current_setting('block_size')::bigint "
        "ORDER BY c.relname"),
        {"tables": list(ROLLUP_READS), "least": ANALYZE_FROM_BYTES}).scalars().all()
    for table in grown:
        session.execute(text(f"ANALYZE core_warehouse.{table} ({ROLLUP_READS[table]})"))
    return list(grown)


def lines(*, session: Session, shop_id: int, batch_id: int, parts: Iterable[str], lo: int, hi: int,
          second_pass: bool = False) -> int:
    """Promote lines lo..hi of a batch for the given parts; return how many orders were in them."""
    orders = 0
    params = {"shop": shop_id, "batch": batch_id, "lo": lo, "hi": hi}
    for part in parts:
        for statement in (SECOND_PASS.get(part, ()) if second_pass else FIRST_PASS[part]):
            result = session.execute(text(statement), params)
            if statement is ORDERS:
                orders += result.scalar_one()
    return orders
