"""Settings (admins): stores, Meta ad accounts, resyncs, users, the agency's currency and MER's basis, and the audit
trail.

The sections and their callbacks live in dashboard.admin_ui; the callbacks check admin on the server.
"""

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html
from flask_login import current_user

import settings
from dashboard import admin_ui

dash.register_page(__name__, path="/settings", name="Settings", title="Settings · Storefront analytics", order=9)


def layout(**query):
    """Every settings section; members get a refusal, whatever the URL."""
    if not current_user.is_admin:
        return dbc.Alert("Settings are for admins of your agency.", color="warning", id="admins-only")
    page = admin_ui.read_page()
    return html.Div(
        [
            dcc.Store(id="settings-refresh"),
            dcc.Interval(id="settings-poll", interval=settings.SETTINGS_POLL_MS,
                         disabled=not admin_ui.has_live_job(page["rows"])),
            html.H1("Settings", className="h3 mb-4"),
            *_connect_result(query),
            html.H2("Stores", className="h5"),
            html.Div(admin_ui.stores_table(page["rows"]), id="settings-stores"),
            admin_ui.manage_store_card(page["shop_options"]),
            admin_ui.connect_card(_oauth_form()),
            admin_ui.disconnect_modal(),
            html.H2("Meta ads", className="h5 mt-4"),
            html.Div(page["accounts"], id="settings-ad-accounts"),
            admin_ui.meta_card(page["shop_options"]),
            html.H2("Users", className="h5 mt-4"),
            html.Div(page["users"], id="settings-users"),
            admin_ui.users_card(page["user_options"], page["shop_checklist"]),
            html.H2("Agency", className="h5 mt-4"),
            admin_ui.agency_card(page["currency"], page["mer_basis"]),
            html.H2("Audit trail", className="h5 mt-4"),
            html.P(f"The latest {settings.AUDIT_ROWS_SHOWN} changes made here.", className="text-body-secondary small"),
            html.Div(page["audit"], id="settings-audit"),
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


def _oauth_form():
    """Install the public app on a store (OAuth), when the app's credentials are configured."""
    if not (settings.SHOPIFY_API_KEY and settings.SHOPIFY_API_SECRET):
        return html.P(["Or from a shell: ", html.Code("flask --app app shops connect DOMAIN --token shpat_..."),
                       " (see README, Connecting a store)."], className="text-body-secondary small mt-3 mb-0")
    # A plain GET form: the browser leaves for Shopify's approval page and comes back to /shopify/callback.
    return html.Form(
        [dbc.Label("Or install the app on a store (OAuth): Shopify asks the store's owner to approve it.",
                   className="small text-body-secondary mt-3"),
         dbc.InputGroup([dbc.Input(name="shop", placeholder="my-store.myshopify.com", required=True),
                         dbc.Button("Install the app", type="submit", color="primary", outline=True)],
                        size="sm", style={"maxWidth": "32rem"})],
        action="/shopify/install", method="GET", id="connect-form",
    )
