"""The Uploads page's parts and its refresh callback (the page module is dashboard/pages/uploads.py)."""

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State, dcc, html
from flask_wtf.csrf import generate_csrf

import settings
from dashboard import db, queries, selection, upload_pending
from dashboard.layout import LOCATION
from ingest.uploads import formats

LIVE = ("received", "parsing")
KIND_NAMES = {"marketplace-orders": "Marketplace orders", "payouts": "Shopify Payments payouts"}


def notices(query: dict) -> list:
    out = []
    if query.get("upload_error"):  # a file waiting for its mapping is a step to take, not a failure
        out.append(dbc.Alert(str(query["upload_error"]), color="warning" if query.get("upload_pending") else "danger",
                             id="upload-error"))
    if query.get("upload_notice"):
        out.append(dbc.Alert(str(query["upload_notice"]), color="info", id="upload-notice"))
    return out


def upload_form(shops, shop_id: int | None) -> dbc.Card:
    """A plain multipart form: the file streams to the server (no base64 in a callback), CSRF in a field."""
    limit = f"{settings.UPLOAD_MAX_BYTES / 1024 / 1024:.0f} MiB"
    templates = [html.A(f"{KIND_NAMES[k]} template", href=f"/uploads/template/{k}.csv", className="me-3 text-nowrap")
                 for k in formats.FORMATS]
    return dbc.Card(dbc.CardBody(html.Form([
        dcc.Input(type="hidden", name="csrf_token", value=generate_csrf()),
        dbc.Row([
            dbc.Col([dbc.Label("Store", html_for="upload-shop"), dbc.Select(
                id="upload-shop", name="shop", value=str(shop_id or shops[0].shop_id),
                options=[{"label": s.name, "value": str(s.shop_id)} for s in shops])], md=3),
            dbc.Col([dbc.Label("What the file holds", html_for="upload-kind"), dbc.Select(
                id="upload-kind", name="kind", value="marketplace-orders",
                options=[{"label": name, "value": kind} for kind, name in KIND_NAMES.items()])], md=3),
            # app.css lets dcc.Input's box grow to Bootstrap's file control (its fixed 34 px clipped the button).
            dbc.Col([dbc.Label(f"CSV file (up to {limit})", html_for="upload-file"),
                     dcc.Input(type="file", name="file", id="upload-file", className="form-control file-input")],
                    md=4),
            dbc.Col(dbc.Button("Upload", type="submit", color="primary", id="upload-submit"), md=2,
                    className="d-flex align-items-end"),
        ], className="g-3"),
        html.P(["Headers are matched ignoring case, spaces and punctuation; when a file names its columns "
                "otherwise, the next step asks which of its columns holds each of ours. ", *templates],
               className="small text-body-secondary mt-3 mb-0"),
    ], action="/uploads/new", method="POST", encType="multipart/form-data", id="upload-form")), className="mb-3")


def mapping_form(pending: upload_pending.Pending, shop_id: int) -> dbc.Card:
    """The mapping step: for each of our columns, a labelled dropdown of the file's headers, pre-filled with the
    header the loader would match; it posts to the same route as the upload, naming the kept file."""
    suggested = upload_pending.suggest(pending.kind, pending.header)
    headers = [{"label": header, "value": header} for header in dict.fromkeys(pending.header) if header]
    absent = [{"label": "— not in the file —", "value": upload_pending.NOT_IN_FILE}]
    # A required column starts on "Choose…" when nothing matched; the browser will not submit it unchosen.
    fields = [dbc.Col([
        dbc.Label([column.header, html.Span(" (required)" if column.required else " (optional)",
                                            className="text-body-secondary small")],
                  html_for=f"map-{column.name}", className="mb-1"),
        dbc.Select(id=f"map-{column.name}", name=f"map-{column.name}", required=column.required, size="sm",
                   options=headers if column.required else absent + headers, value=suggested[column.name],
                   placeholder="Choose the file's column…"),
    ], xs=12, sm=6, lg=4) for column in formats.FORMATS[pending.kind].columns]
    return dbc.Card(dbc.CardBody(html.Form([
        html.H2(f"Map the columns of {pending.filename}", className="h5"),
        html.P(f"Its headers differ from ours ({KIND_NAMES[pending.kind]}). Choose the file's column that holds "
               "each of ours; the file is kept for a day, so it need not be chosen again.",
               className="small text-body-secondary"),
        dcc.Input(type="hidden", name="csrf_token", value=generate_csrf()),
        dcc.Input(type="hidden", name="shop", value=str(shop_id)),
        dcc.Input(type="hidden", name="pending", value=pending.token),
        dbc.Row(fields, className="g-3"),
        html.Div([dbc.Button("Load with this mapping", type="submit", color="primary", id="mapping-submit"),
                  dbc.Button("Cancel", href=f"/uploads?shop={shop_id}", color="link", id="mapping-cancel")],
                 className="d-flex gap-2 mt-3"),
    ], action="/uploads/new", method="POST", id="mapping-form")), className="mb-3 border-primary", id="upload-mapping")


def batches_table(rows) -> html.Div:
    if not rows:
        return html.P("No upload yet.", className="text-body-secondary", id="no-batches")
    head = html.Thead(html.Tr([html.Th(h) for h in ("Batch", "Store", "Kind", "File", "Status", "Rows", "Loaded",
                                                      "Rejected", "Period", "")]))
    body = html.Tbody([html.Tr([
        html.Td(html.A(f"#{b.id}", href=f"/uploads?shop={b.shop_id}&batch={b.id}")), html.Td(b.shop_name),
        html.Td(KIND_NAMES[b.kind]), html.Td(b.filename), html.Td(_status(b), id=f"batch-{b.id}-status"),
        html.Td(_n(b.rows_total)), html.Td(_n(b.rows_loaded)), html.Td(_n(b.rows_rejected)),
        html.Td(f"{b.period_start} – {b.period_end}" if b.period_start else ""),
        html.Td(html.A("bad rows", href=f"/uploads/{b.id}/rejects.csv") if b.rows_rejected else ""),
    ]) for b in rows])
    return dbc.Table([head, body], size="sm", striped=True, responsive=True, id="batches-table")


def _status(batch) -> list:
    color = {"loaded": "success", "partially_loaded": "warning", "failed": "danger", "replaced": "secondary"}
    badge = dbc.Badge(batch.status.replace("_", " "), color=color.get(batch.status, "info"))
    if batch.status in LIVE and batch.progress_total:
        done = 100 * (batch.progress_done or 0) / batch.progress_total
        return [badge, dbc.Progress(value=done, label=batch.progress_label, style={"height": "1rem"})]
    if batch.status == "failed":
        return [badge, html.Div(batch.error or batch.job_error or "", className="small text-danger")]
    return [badge]


def _n(value) -> str:
    return "" if value is None else f"{value:,}"


def batch_details(session, batch_id: int):
    """A batch's processing log and its first bad rows."""
    log = queries.list_upload_log(session=session, batch_id=batch_id)
    if not log:
        return dbc.Alert("This batch does not exist or you have no access to it.", color="warning")
    rejects = queries.list_upload_rejects(session=session, batch_id=batch_id)
    steps = dbc.Table([html.Thead(html.Tr([html.Th(h) for h in ("Step", "At", "Rows", "Good", "Bad", "Details")])),
                       html.Tbody([html.Tr([html.Td(e.step), html.Td(f"{e.at:%Y-%m-%d %H:%M:%S}"),
                                            html.Td(_n(e.rows)), html.Td(_n(e.good)), html.Td(_n(e.bad)),
                                            html.Td(_details(e.details), className="small")]) for e in log])],
                      size="sm", responsive=True, id="batch-log")
    bad = dbc.Table([html.Thead(html.Tr([html.Th("Line"), html.Th("Reason"), html.Th("Row")])),
                     html.Tbody([html.Tr([html.Td(r.line_no), html.Td(r.reason), html.Td(html.Code(r.raw))])
                                 for r in rejects])], size="sm", responsive=True, id="bad-rows") if rejects else \
        html.P("No bad rows.", className="text-body-secondary")
    return html.Div([html.H2(f"Batch #{batch_id}", className="h5 mt-4"), steps,
                     html.H3("Bad rows", className="h6 mt-3"), bad,
                     html.A("Download the bad rows (CSV)", href=f"/uploads/{batch_id}/rejects.csv",
                            id="download-bad-rows") if rejects else None])


def _details(details: dict) -> str:
    """A log step's details as words: `period: 2026-11-03 – 2026-11-30; replaced: none`, not Python's reprs."""
    shown = {k: v for k, v in (details or {}).items() if k not in ("errors", "sha256")}
    return "; ".join(f"{k.replace('_', ' ')}: {_detail(v)}" for k, v in shown.items())


def _detail(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')} {_detail(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list | tuple):
        return " – ".join(_detail(v) for v in value) or "none"
    return _n(value) if isinstance(value, int) and not isinstance(value, bool) else str(value)


def register_callbacks(app: Dash) -> None:
    """Refresh the batches (and the chosen batch) while one is loading."""

    @app.callback(
        Output("upload-batches", "children"),
        Output("upload-batch", "children"),
        Output("uploads-poll", "disabled"),
        Input("uploads-poll", "n_intervals"),
        Input(LOCATION, "search"),
        State("upload-batch-id", "data"),
        prevent_initial_call=True,
    )
    def refresh(_n, search, batch_id):
        query = selection.parse(search or "", today=selection.today())
        batch_id = selection.parse_id(str(batch_id)) if batch_id else None
        session = db.get_session()
        rows = queries.list_upload_batches(session=session, shop_id=query.shop_id)
        batch_id = batch_id or (rows[0].id if rows else None)
        live = any(b.status in LIVE for b in rows)
        return batches_table(rows), batch_details(session, batch_id) if batch_id else None, not live
