"""Products and customers: the best sellers by net sales or units with their returns, the best customers, and
how many customers come back."""

import dash
import dash_bootstrap_components as dbc
from dash import html

from dashboard import db, formats, marketing_view, page_header, queries, selection
from dashboard.marketing_view import CUSTOMER_COLUMNS, empty_state, grid, kpi, section, toggle

dash.register_page(__name__, path="/products", name="Products & customers",
                   title="Products & customers · Storefront analytics", order=2)


def layout(**query):
    """Render the Products and customers page for the selection in the query string."""
    session = db.get_session()
    chosen, facts, refusal = marketing_view.open_page(session=session, query=query)
    if refusal:
        return refusal
    products = marketing_view.read_products(session=session, chosen=chosen, level="variant", order="net_sales")
    customers = marketing_view.read_customers(session=session, chosen=chosen)
    backfilling = [fact.name for fact in facts if fact.backfilling]
    estimated = any(row["fx_estimated"] for row in [*products, *customers])
    head = [page_header.header(session=session, chosen=chosen, title="Products & customers",
                               fx_estimated=estimated)]
    if not products and not customers:
        if backfilling:
            return html.Div([*head, empty_state(
                "Still loading the order history", f"{', '.join(backfilling)}: orders are still being loaded "
                "from Shopify. Products and customers appear here as they arrive.", id="backfilling")])
        return html.Div([*head, empty_state("No orders in this period", "No products were sold and no customer "
                                            "ordered in these dates. Pick a longer period.", id="no-orders")])
    if backfilling:
        head.append(dbc.Alert(f"Still loading the order history of {', '.join(backfilling)}: these figures will "
                              "grow as it arrives.", color="info", className="py-2 small", id="backfilling"))
    rates = queries.read_repeat_rates(session=session, shop_id=chosen.shop_id, periods=marketing_view.periods(chosen))
    return html.Div([
        *head,
        kpis(rates, chosen),
        products_section(products),
        section("Top customers by net sales", grid("customer-grid", customers, CUSTOMER_COLUMNS),
                download="top-customers", id="customers"),
    ], className="products-page")


def kpis(rates: dict, chosen: selection.Selection) -> dbc.Row:
    """The repeat-purchase rate, with the customers it counts, against the comparison period."""
    current = rates.get("current") or {}
    previous = (rates.get("previous") or {}) if chosen.comparison else None
    note = (f"{formats.count(current.get('repeat_customers'))} of {formats.count(current.get('customers'))} "
            "customers ordered twice or more")
    return dbc.Row([kpi("repeat_rate", current, previous, note=note)], className="g-3 mb-4", id="products-kpis")


def products_section(products: list[dict]) -> dbc.Card:
    """Top variants (or products) by net sales (or units), with a toggle for each."""
    tools = [toggle("product-level", "Show variants or products", {"variant": "Variants", "product": "Products"},
                    "variant"),
             toggle("product-order", "Rank by", {"net_sales": "By net sales", "units_sold": "By units"},
                    "net_sales")]
    table = grid("product-grid", products, marketing_view.product_columns("variant"))
    return section("Top products", table, download="top-products", arg="variant-net_sales", id="products",
                   tools=tools)
