"""Overview: the selected stores and period (sales and ads charts join as their data arrives)."""

import dash
import dash_bootstrap_components as dbc
from dash import html
from flask_login import current_user

from dashboard import db, queries, selection
from dashboard.components import format_range, store_card

dash.register_page(__name__, path="/", name="Overview", title="Overview · Storefront analytics", order=0)


def layout(**query):
    """Render the overview for the selection in the query string."""
    shops = queries.list_shops(session=db.get_session())
    if not shops:
        return no_stores()
    chosen = selection.parse(query, today=selection.today())
    shown = [shop for shop in shops if chosen.shop_id in (None, shop.shop_id)]
    if not shown:
        return dbc.Alert("This store does not exist or you have no access to it.", color="warning", id="no-access")
    title = "All stores" if chosen.shop_id is None else shown[0].name
    comparison = chosen.comparison
    subtitle = format_range(chosen.start, chosen.end) + (
        f" · compared with {format_range(*comparison)}" if comparison else ""
    )
    return html.Div(
        [
            html.H1(title, className="h3 mb-1", id="page-title"),
            html.P(subtitle, className="text-body-secondary", id="period"),
            dbc.Row([dbc.Col(store_card(shop), md=6, lg=4) for shop in shown], className="g-3"),
        ]
    )


def no_stores():
    """What a user sees before any store is connected (or granted to them)."""
    if current_user.is_admin:
        action = html.P(["Connect your first Shopify store in ", dbc.Button(
            "Settings", href="/settings", color="primary", size="sm", id="go-settings"), "."])
    else:
        action = html.P("Ask an admin of your agency to give you access to a store.")
    return dbc.Alert([html.H2("No store connected yet", className="h5"), action], color="info", id="no-stores")
