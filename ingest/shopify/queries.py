"""The GraphQL documents the Shopify client sends (Admin API 2026-01), built from shared fragments.

The same fragments serve bulk operations and paged queries, so both land the same lines: a node per line,
nested connections' nodes as their own lines with `__parentId` (paged results are flattened to that shape).
A bulk query may hold at most five connections, so orders are fetched by two bulk queries: the order with
its lines, and its sales agreements with the refunds' line items.
"""

MONEY = "shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }"

ORDER_FIELDS = f"""
fragment OrderFields on Order {{
  __typename id legacyResourceId name createdAt processedAt updatedAt cancelledAt cancelReason closedAt
  test confirmed edited currencyCode presentmentCurrencyCode taxesIncluded
  displayFinancialStatus displayFulfillmentStatus returnStatus email phone sourceName sourceIdentifier
  number confirmationNumber poNumber customerLocale fullyPaid unpaid requiresShipping taxExempt dutiesIncluded
  tags note discountCodes paymentGatewayNames subtotalLineItemsQuantity currentSubtotalLineItemsQuantity
  totalWeight customAttributes {{ key value }}
  app {{ name }} retailLocation {{ id }} staffMember {{ id }} customer {{ id }}
  billingAddress {{ countryCodeV2 provinceCode city }}
  shippingAddress {{ countryCodeV2 provinceCode city zip }}
  customerJourneySummary {{
    firstVisit {{ source landingPage referrerUrl utmParameters {{ source medium campaign }} }}
  }}
  subtotalPriceSet {{ {MONEY} }} totalDiscountsSet {{ {MONEY} }} totalShippingPriceSet {{ {MONEY} }}
  totalTaxSet {{ {MONEY} }} totalTipReceivedSet {{ {MONEY} }} totalPriceSet {{ {MONEY} }}
  totalRefundedSet {{ {MONEY} }} totalRefundedShippingSet {{ {MONEY} }} totalOutstandingSet {{ {MONEY} }}
  currentSubtotalPriceSet {{ {MONEY} }} currentTotalDiscountsSet {{ {MONEY} }}
  currentTotalTaxSet {{ {MONEY} }} currentTotalPriceSet {{ {MONEY} }} originalTotalPriceSet {{ {MONEY} }}
  currentTotalDutiesSet {{ {MONEY} }} originalTotalDutiesSet {{ {MONEY} }}
  currentTotalAdditionalFeesSet {{ {MONEY} }} originalTotalAdditionalFeesSet {{ {MONEY} }}
  totalReceivedSet {{ {MONEY} }} netPaymentSet {{ {MONEY} }}
  transactions {{
    id kind status gateway test createdAt processedAt parentTransaction {{ id }} amountSet {{ {MONEY} }}
  }}
  refunds {{
    id createdAt updatedAt note totalRefundedSet {{ {MONEY} }}
  }}
}}
"""

LINE_FIELDS = f"""
fragment LineItemFields on LineItem {{
  __typename id name title variantTitle sku vendor quantity currentQuantity isGiftCard requiresShipping taxable
  product {{ id }} variant {{ id }}
  originalUnitPriceSet {{ {MONEY} }} originalTotalSet {{ {MONEY} }} discountedTotalSet {{ {MONEY} }}
  totalDiscountSet {{ {MONEY} }} taxLines {{ title rate priceSet {{ {MONEY} }} }}
}}
fragment ShippingLineFields on ShippingLine {{
  __typename id title code source originalPriceSet {{ {MONEY} }} discountedPriceSet {{ {MONEY} }}
  taxLines {{ title rate priceSet {{ {MONEY} }} }}
}}
fragment DiscountApplicationFields on DiscountApplication {{
  __typename index allocationMethod targetSelection targetType
  value {{ ... on MoneyV2 {{ amount currencyCode }} ... on PricingPercentageValue {{ percentage }} }}
  ... on DiscountCodeApplication {{ code }}
  ... on ManualDiscountApplication {{ title }}
  ... on AutomaticDiscountApplication {{ title }}
  ... on ScriptDiscountApplication {{ title }}
}}
"""

SALE_FIELDS = f"""
fragment AgreementFields on SalesAgreement {{
  __typename id happenedAt reason
}}
fragment SaleFields on Sale {{
  __typename id actionType lineType quantity
  totalAmount {{ {MONEY} }} totalDiscountAmountBeforeTaxes {{ {MONEY} }}
  totalDiscountAmountAfterTaxes {{ {MONEY} }} totalTaxAmount {{ {MONEY} }}
  ... on ProductSale {{ lineItem {{ id }} }}
}}
fragment RefundLineItemFields on RefundLineItem {{
  __typename id quantity restockType restocked lineItem {{ id }}
  priceSet {{ {MONEY} }} subtotalSet {{ {MONEY} }} totalTaxSet {{ {MONEY} }}
}}
"""

CUSTOMER_FIELDS = """
fragment CustomerFields on Customer {
  __typename id legacyResourceId firstName lastName displayName email phone state tags numberOfOrders
  createdAt updatedAt defaultAddress { countryCodeV2 provinceCode city }
}
"""

PRODUCT_FIELDS = """
fragment ProductFields on Product {
  __typename id legacyResourceId title handle vendor productType status tags isGiftCard totalInventory
  createdAt updatedAt publishedAt category { fullName } featuredImage { url }
}
fragment VariantFields on ProductVariant {
  __typename id title sku barcode price compareAtPrice inventoryQuantity createdAt updatedAt
  inventoryItem { id unitCost { amount currencyCode } }
}
"""

# -- bulk operations: one top-level connection each; `first` is not needed (Shopify ignores it) ----------

BULK_ORDERS = ORDER_FIELDS + LINE_FIELDS + """
query BulkOrders {
  orders(query: "%(search)s", sortKey: CREATED_AT) { edges { node {
    ...OrderFields
    lineItems { edges { node { ...LineItemFields } } }
    shippingLines { edges { node { ...ShippingLineFields } } }
    discountApplications { edges { node { ...DiscountApplicationFields } } }
  } } }
}
"""

BULK_ORDER_SALES = SALE_FIELDS + """
query BulkOrderSales {
  orders(query: "%(search)s", sortKey: CREATED_AT) { edges { node {
    __typename id updatedAt
    agreements { edges { node { ...AgreementFields sales { edges { node { ...SaleFields } } } } } }
    refunds { id refundLineItems { edges { node { ...RefundLineItemFields } } } }
  } } }
}
"""

BULK_CUSTOMERS = CUSTOMER_FIELDS + """
query BulkCustomers {
  customers { edges { node { ...CustomerFields } } }
}
"""

BULK_PRODUCTS = PRODUCT_FIELDS + """
query BulkProducts {
  products { edges { node { ...ProductFields variants { edges { node { ...VariantFields } } } } } }
}
"""

# -- paged queries (RECENT, INCREMENTAL, webhook refetches) -----------------------------------------------

ORDERS_PAGE = ORDER_FIELDS + LINE_FIELDS + SALE_FIELDS + """
query OrdersPage($first: Int!, $after: String, $search: String, $sortKey: OrderSortKeys) {
  orders(first: $first, after: $after, query: $search, sortKey: $sortKey) {
    pageInfo { hasNextPage endCursor }
    nodes {
      ...OrderFields
      lineItems(first: 8) { pageInfo { hasNextPage } nodes { ...LineItemFields } }
      shippingLines(first: 2) { pageInfo { hasNextPage } nodes { ...ShippingLineFields } }
      discountApplications(first: 3) { pageInfo { hasNextPage } nodes { ...DiscountApplicationFields } }
      agreements(first: 3) { pageInfo { hasNextPage } nodes {
        ...AgreementFields sales(first: 8) { pageInfo { hasNextPage } nodes { ...SaleFields } } } }
      refunds { id refundLineItems(first: 6) { pageInfo { hasNextPage } nodes { ...RefundLineItemFields } } }
    }
  }
}
"""

CUSTOMERS_PAGE = CUSTOMER_FIELDS + """
query CustomersPage($first: Int!, $after: String, $search: String) {
  customers(first: $first, after: $after, query: $search, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ...CustomerFields }
  }
}
"""

PRODUCTS_PAGE = PRODUCT_FIELDS + """
query ProductsPage($first: Int!, $after: String, $search: String) {
  products(first: $first, after: $after, query: $search, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ...ProductFields variants(first: 50) { nodes { ...VariantFields } } }
  }
}
"""

SHOP = """
query Shop {
  shop { id name myshopifyDomain currencyCode ianaTimezone plan { publicDisplayName } }
  currentAppInstallation { accessScopes { handle } }
}
"""

FIRST_ORDER = """
query FirstOrder { orders(first: 1, sortKey: CREATED_AT) { nodes { id createdAt } } }
"""

ORDERS_COUNT = """
query OrdersCount($search: String) { ordersCount(query: $search, limit: null) { count precision } }
"""

BULK_RUN = """
mutation BulkRun($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: false) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}
"""

BULK_STATUS = """
query BulkStatus($id: ID!) {
  bulkOperation(id: $id) {
    id status errorCode createdAt completedAt objectCount rootObjectCount fileSize url partialDataUrl
  }
}
"""

BULK_OPERATIONS = """
query BulkOperations($search: String) {
  bulkOperations(first: 25, query: $search, sortKey: CREATED_AT, reverse: true) {
    nodes { id status createdAt query }
  }
}
"""

BULK_CANCEL = """
mutation BulkCancel($id: ID!) {
  bulkOperationCancel(id: $id) { bulkOperation { id status } userErrors { field message } }
}
"""

WEBHOOK_CREATE = """
mutation WebhookCreate($topic: WebhookSubscriptionTopic!, $uri: String!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: { uri: $uri, format: JSON }) {
    webhookSubscription { id topic }
    userErrors { field message }
  }
}
"""

WEBHOOK_LIST = """
query Webhooks { webhookSubscriptions(first: 50) { nodes { id topic uri } } }
"""

# Which of a file's objects a store knows, for `load-bulk`'s check that a file is that store's (by id search).
OWNED = """
query Owned%(Root)s($search: String) { %(root)s(first: 50, query: $search) { nodes { id createdAt } } }
"""

# Nodes per page, so that each paged query's requested cost stays under Shopify's 1000-point limit
# (an order with its nested lists costs ~660 points requested; most of it is refunded after the fact).
PAGE_SIZES = {"orders": 1, "customers": 100, "products": 5}

# Bulk templates take a search string; everything else is sent as is.
BULK_TEMPLATES = {"orders": BULK_ORDERS, "order_sales": BULK_ORDER_SALES, "customers": BULK_CUSTOMERS,
                  "products": BULK_PRODUCTS}
DOCUMENTS = {
    "BulkOrders": BULK_ORDERS % {"search": "created_at:>='2026-01-01T00:00:00Z'"},
    "BulkOrderSales": BULK_ORDER_SALES % {"search": "created_at:>='2026-01-01T00:00:00Z'"},
    "BulkCustomers": BULK_CUSTOMERS, "BulkProducts": BULK_PRODUCTS,
    "OrdersPage": ORDERS_PAGE, "CustomersPage": CUSTOMERS_PAGE, "ProductsPage": PRODUCTS_PAGE,
    "Shop": SHOP, "FirstOrder": FIRST_ORDER, "OrdersCount": ORDERS_COUNT, "BulkRun": BULK_RUN,
    "BulkStatus": BULK_STATUS, "BulkOperations": BULK_OPERATIONS,
    "BulkCancel": BULK_CANCEL, "WebhookCreate": WEBHOOK_CREATE, "WebhookList": WEBHOOK_LIST,
    **{f"Owned{root.title()}": OWNED % {"Root": root.title(), "root": root} for root in ("orders", "customers",
                                                                                          "products")},
}


def bulk_query(part: str, search: str = "") -> str:
    """A bulk query document for one part, its orders limited by a search such as a created_at range."""
    return BULK_TEMPLATES[part] % {"search": search.replace('"', '\\"')} if "%(search)s" in BULK_TEMPLATES[part] \
        else BULK_TEMPLATES[part]

# One order read directly by id (not through the search index, which lags): null once deleted.
ORDER_EXISTS = """
query OrderExists($id: ID!) { order(id: $id) { id } }
"""
