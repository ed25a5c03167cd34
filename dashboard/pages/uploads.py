"""Uploads: admins upload marketplace orders and Shopify Payments payouts as CSV; members of a store see its
batches as they load, their processing log and their bad rows (downloadable)."""

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html
from flask_login import current_user

from dashboard import db, queries, selection, upload_pending
from dashboard.uploads_view import batch_details, batches_table, mapping_form, notices, upload_form

dash.register_page(__name__, path="/uploads", name="Uploads", title="Uploads · Storefront analytics", order=5)


def layout(**query):
    """The upload form (admins), the store's batches, and the chosen batch's log and bad rows."""
    session = db.get_session()
    shops = queries.list_shops(session=session)
    if not shops:
        return dbc.Alert("No store yet: connect one in Settings first.", color="info", id="no-stores")
    chosen = selection.parse(query, today=selection.today())
    rows = queries.list_upload_batches(session=session, shop_id=chosen.shop_id)
    # The chosen batch, else the newest (the shell's selection rewrites the query string without `batch`).
    batch_id = selection.parse_id(query.get("batch")) or (rows[0].id if rows else None)
    return html.Div([
        html.H1("Uploads", className="h3 mb-3"),
        *notices(query),
        *_mapping(query, chosen.shop_id),
        upload_form(shops, chosen.shop_id) if current_user.is_admin else html.Div(),
        html.H2("Batches", className="h5 mt-4"),
        dcc.Interval(id="uploads-poll", interval=1000),
        dcc.Store(id="upload-batch-id", data=batch_id),  # the shell rewrites the query string without it
        html.Div(batches_table(rows), id="upload-batches"),
        html.Div(batch_details(session, batch_id) if batch_id else None, id="upload-batch"),
    ], id="uploads-page")


def _mapping(query: dict, shop_id: int | None) -> list:
    """The mapping step, when the admin's last file was kept because its headers differ from ours."""
    if not current_user.is_admin or shop_id is None or not query.get("upload_pending"):
        return []
    pending = upload_pending.find(query["upload_pending"], shop_id=shop_id, user_id=current_user.id)
    return [mapping_form(pending, shop_id)] if pending else []
