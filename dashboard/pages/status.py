"""Sync status: per store and source a state badge, progress, freshness and completeness; job history; events."""

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard import db, queries, selection
from dashboard.status_view import (
    event_filters,
    event_table,
    render_history,
    render_schedulers,
    render_sources,
    version_warnings,
)

dash.register_page(__name__, path="/status", name="Status", title="Sync status · Storefront analytics", order=5)


def layout(shop: str | None = None, **_query):
    """The status of the stores in the selection (`?shop=`), or of every visible store."""
    session = db.get_session()
    shop_id = selection.parse_id(shop)
    if shop_id is not None and queries.get_shop(session=session, shop_id=shop_id) is None:
        return dbc.Alert("This store does not exist or you have no access to it.", color="warning", id="no-access")
    shops = queries.list_shops(session=session)
    return html.Div(
        [
            dcc.Store(id="status-shop", data=shop_id),
            dcc.Store(id="event-last-id"),
            html.H1("Sync status", className="h3 mb-3", id="page-title"),
            *version_warnings(),
            html.Div(id="retry-result"),
            html.Div(render_sources(shop_id), id="status-sources"),
            html.H2("Schedulers", className="h5 mt-4"),
            html.Div(render_schedulers(), id="schedulers"),
            html.H2("Job history", className="h5 mt-4"),
            html.Div(render_history(shop_id), id="job-history"),
            html.H2("Events", className="h5 mt-4"),
            event_filters(shops, shop_id),
            event_table(),
        ],
        id="status-page",
    )


