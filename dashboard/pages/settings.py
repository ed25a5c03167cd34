"""Settings (admins): the connected stores and the users who may see them."""

import dash
import dash_bootstrap_components as dbc
from dash import html
from flask_login import current_user

import settings
from dashboard import accounts, db, queries
from dashboard.components import status_badge

dash.register_page(__name__, path="/settings", name="Settings", title="Settings · Storefront analytics", order=9)


def layout(**query):
    """Stores and users; members get a refusal, whatever the URL."""
    if not current_user.is_admin:
        return dbc.Alert("Settings are for admins of your agency.", color="warning", id="admins-only")
    session = db.get_session()
    shops = queries.list_shops(session=session)
    users = accounts.list_users(session=session)
    store_rows = [
        html.Tr([html.Td(s.name), html.Td(s.shop_domain), html.Td(s.currency), html.Td(s.iana_timezone),
                 html.Td(status_badge(s.status))])
        for s in shops
    ]
    user_rows = [html.Tr([html.Td(u.email), html.Td(u.name), html.Td(u.role)]) for u in users]
    return html.Div(
        [
            html.H1("Settings", className="h3 mb-4"),
            *_connect_result(query),
            html.H2("Stores", className="h5"),
            _table(["Store", "Domain", "Currency", "Timezone", "Status"], store_rows, "No store connected yet."),
            _connect_form(),
            html.H2("Users", className="h5 mt-4"),
            _table(["Email", "Name", "Role"], user_rows, "No users."),
            html.P(
                ["Add users and grant stores with ", html.Code("flask --app app users create"), " and ",
                 html.Code("flask --app app users grant"), "."],
                className="text-body-secondary small",
            ),
        ],
        id="settings-page",
    )


def _connect_result(query: dict) -> list:
    """What the OAuth callback reported (it redirects here with ?connected= or ?connect_error=)."""
    if query.get("connected"):
        return [dbc.Alert(f"Connected {query['connected']}: its recent orders appear within a minute, its "
                          "history follows.", color="success", id="connect-result")]
    if query.get("connect_error"):
        return [dbc.Alert(query["connect_error"], color="danger", id="connect-result")]
    return []


def _connect_form():
    """Install the public app on a store (OAuth); without the app configured, point to the CLI."""
    if not (settings.SHOPIFY_API_KEY and settings.SHOPIFY_API_SECRET):
        return html.P(["Connect a store with ", html.Code("flask --app app shops connect DOMAIN --token shpat_..."),
                       " (see README, Connecting a store)."], className="text-body-secondary small")
    # A plain GET form: the browser leaves for Shopify's approval page and comes back to /shopify/callback.
    return html.Form(
        dbc.InputGroup([dbc.Input(name="shop", placeholder="my-store.myshopify.com", required=True),
                        dbc.Button("Connect a store", type="submit", color="primary")], size="sm"),
        action="/shopify/install", method="GET", id="connect-form", className="mb-3", style={"maxWidth": "32rem"},
    )


def _table(headers, rows, empty: str):
    if not rows:
        return html.P(empty, className="text-body-secondary")
    return dbc.Table([html.Thead(html.Tr([html.Th(h) for h in headers])), html.Tbody(rows)],
                     hover=True, size="sm", className="bg-body")
