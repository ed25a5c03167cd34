"""The Settings page's sections and callbacks (admins only: every callback checks on the server).

Callbacks are bound to the app in `register_callbacks` (not `dash.callback`: tests build several apps).
Every component id starts with `settings-`, which is how the tests find every settings callback.
"""

import time
from datetime import date

import dash_bootstrap_components as dbc
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate
from flask import abort
from flask_login import current_user

import settings
from dashboard import admin, db, selection, status
from dashboard.components import status_badge
from dashboard.metrics import MER_BASES, MER_BASIS_LABELS
from database import session_scope
from ingest.meta import connect as meta_connect
from ingest.shopify import connect as shopify_connect

PREFIX = "settings-"
# What a refused request says; anything else is a bug and shows as one.
USER_ERRORS = (admin.AdminError, shopify_connect.ConnectError, meta_connect.ConnectError)
RESYNC_MODES = {"incremental": "Incremental now", "full": "Full history", "range": "Date range"}


def require_admin() -> None:
    """403 unless the logged-in user is an admin: the server decides, not the hidden buttons."""
    if not current_user.is_authenticated or not current_user.is_admin:
        abort(403, "Settings are for admins.")


def _apply(action, **kwargs):
    """Run one admin service in a writer transaction, as the logged-in admin."""
    with session_scope(db.writer_sessions()) as session:
        return action(session=session, by=current_user.id, **kwargs)


def _alert(message, color: str = "success") -> dbc.Alert:
    return dbc.Alert(message, color=color, dismissable=True, className="mt-2 mb-0 small")


def _clicked() -> None:
    # Pattern-matched buttons re-rendered by the poll arrive with n_clicks None: not a click.
    if not ctx.triggered or not ctx.triggered[0]["value"]:
        raise PreventUpdate


def _table(headers, rows, empty: str, table_id: str):
    if not rows:
        return html.P(empty, className="text-body-secondary small", id=table_id)
    return dbc.Table([html.Thead(html.Tr([html.Th(h) for h in headers])), html.Tbody(rows)],
                     hover=True, size="sm", className="bg-body align-middle small", id=table_id)


# -- sections -----------------------------------------------------------------------------------------------------


def stores_table(rows):
    """The stores, their status and their running job's progress, with a Cancel button."""
    body = [html.Tr([
        html.Td([html.Div(r.name, className="fw-semibold"), html.Div(r.shop_domain, className="text-body-secondary")]),
        html.Td([status_badge(r.status), html.Div(r.status_reason or "", className="text-body-secondary")]),
        html.Td(f"every {_minutes(r.sync_interval_minutes)}"),
        html.Td(sync_cell(r), style={"minWidth": "16rem"}),
    ]) for r in rows]
    return _table(["Store", "Status", "Syncs", "Sync"], body, "No store connected yet.", "settings-stores-table")


def sync_cell(row):
    """A small progress bar of the store's live job, or how its last job ended."""
    bar_id = f"settings-progress-{row.shop_id}"
    if row.job_id is not None:
        if row.job_status == "queued":
            bar = dbc.Progress(value=100, label="Queued", striped=True, color="secondary", id=bar_id)
        else:
            percent = round(100 * row.progress_done / row.progress_total) if row.progress_total else 100
            bar = dbc.Progress(value=max(percent, 5), label=f"{percent}%" if row.progress_total else "Running",
                               striped=True, animated=True, id=bar_id)
        parts = [_source(row.source, row.target), status.job_name(row.kind), row.progress_label]
        what = " · ".join(filter(None, parts))
        cancel = dbc.Button("Cancelling…" if row.cancelling else "Cancel", size="sm", color="link",
                            disabled=row.cancelling, className="p-0 ms-2",
                            id={"type": "settings-cancel", "job": row.job_id})
        return [bar, html.Div([html.Span(what, className="text-body-secondary"), cancel])]
    outcomes = {"succeeded": ("success", "Done"), "failed": ("danger", "Failed"), "cancelled": ("warning", "Cancelled")}
    if row.last_status not in outcomes:
        return html.Span("No sync yet", className="text-body-secondary")
    color, label = outcomes[row.last_status]
    bar = dbc.Progress(value=100, label=label, color=color, id=bar_id)
    if row.last_status != "failed":
        return bar
    return [bar, html.Div([html.Span(f"Syncing {status.job_name(row.last_kind)} failed: {row.last_error}"),
                           html.Div(row.last_hint or "", className="text-body-secondary")], className="text-danger")]


def _minutes(minutes: int) -> str:
    return f"{minutes // 60} h" if minutes >= 60 and minutes % 60 == 0 else f"{minutes} min"


def _source(source: str, target: str) -> str:
    return "Shopify" if source == "shopify" else f"Meta {target}".strip()


def has_live_job(rows) -> bool:
    return any(r.job_id is not None for r in rows)


def manage_store_card(shop_options):
    """Rename, interval, pause/resume, resync and disconnect for the chosen store."""
    intervals = [{"label": f"every {_minutes(m)}", "value": str(m)} for m in settings.SYNC_INTERVAL_MINUTES]
    modes = [{"label": label, "value": value} for value, label in RESYNC_MODES.items()]
    return dbc.Card(dbc.CardBody([
        html.H3("Manage a store", className="h6"),
        dbc.Row([
            dbc.Col(dbc.Select(id="settings-store", options=shop_options, placeholder="Choose a store", size="sm"),
                    md=4),
            dbc.Col(dbc.InputGroup([dbc.Input(id="settings-name", placeholder="Name"),
                                    dbc.Button("Rename", id="settings-rename", color="secondary")], size="sm"), md=4),
            dbc.Col(dbc.InputGroup([dbc.Select(id="settings-interval", options=intervals, placeholder="Sync interval"),
                                    dbc.Button("Save", id="settings-save-interval", color="secondary")], size="sm"),
                    md=4),
        ], className="g-2 mb-2"),
        dbc.Row([
            dbc.Col(dbc.Select(id="settings-resync-source", options=[], placeholder="Source", size="sm"), md=2),
            dbc.Col(dbc.Select(id="settings-resync-mode", options=modes, value="incremental", size="sm"), md=2),
            dbc.Col(dbc.InputGroup([dbc.InputGroupText("from"), dbc.Input(id="settings-resync-since", type="date"),
                                    dbc.InputGroupText("to"), dbc.Input(id="settings-resync-until", type="date")],
                                   size="sm"), md=6),
            dbc.Col(dbc.Button("Resync", id="settings-resync", color="primary", size="sm", className="w-100"), md=2),
        ], className="g-2 mb-2"),
        html.Div([
            dbc.Button("Pause syncing", id="settings-pause", color="secondary", outline=True, size="sm"),
            dbc.Button("Resume syncing", id="settings-resume", color="secondary", outline=True, size="sm"),
            dbc.Button("Disconnect…", id="settings-disconnect", color="danger", outline=True, size="sm",
                       className="ms-auto"),
        ], className="d-flex gap-2"),
        html.Div(id="settings-store-feedback"),
    ]), className="mb-3 shadow-sm")


def connect_card(oauth_form):
    """Connect a store with a custom app's token, or a Dev Dashboard app's client ID and secret (or OAuth)."""
    return dbc.Card(dbc.CardBody([
        html.H3("Connect a store", className="h6"),
        html.P("Give either an Admin API access token (custom app), or a client ID and secret. The webhook secret "
               "is the app's API secret, when webhooks are signed with something other than the client secret.",
               className="text-body-secondary small"),
        dbc.Row([
            dbc.Col(dbc.Input(id="settings-domain", placeholder="my-store.myshopify.com", size="sm"), md=4),
            dbc.Col(dbc.Input(id="settings-token", type="password", placeholder="Access token (shpat_…)",
                              size="sm", autoComplete="off"), md=4),
            dbc.Col(dbc.Input(id="settings-webhook-secret", type="password", placeholder="Webhook secret (optional)",
                              size="sm", autoComplete="off"), md=4),
            dbc.Col(dbc.Input(id="settings-client-id", placeholder="or client ID", size="sm", autoComplete="off"),
                    md=4),
            dbc.Col(dbc.Input(id="settings-client-secret", type="password", placeholder="and client secret",
                              size="sm", autoComplete="off"), md=4),
            dbc.Col(dbc.Button("Connect", id="settings-connect", color="primary", size="sm", className="w-100"),
                    md=4),
        ], className="g-2"),
        dcc.Loading(html.Div(id="settings-connect-feedback"), type="dot"),
        oauth_form,
    ]), className="mb-3 shadow-sm")


def disconnect_modal():
    """Disconnecting asks for the domain, typed, and whether to keep the data."""
    return dbc.Modal([
        dbc.ModalHeader(dbc.ModalTitle("Disconnect a store")),
        dbc.ModalBody([
            html.P(["Syncs stop and the store's credentials are deleted. Type ",
                    html.Code(id="settings-disconnect-domain"), " to confirm."]),
            dbc.Input(id="settings-disconnect-typed", placeholder="store domain", autoComplete="off"),
            dbc.RadioItems(id="settings-disconnect-purge", className="mt-3", value="keep", options=[
                {"label": "Keep its data (reconnect later to carry on)", "value": "keep"},
                {"label": "Delete the store and all its data", "value": "purge"}]),
            html.Div(id="settings-disconnect-feedback"),
        ]),
        dbc.ModalFooter([
            dbc.Button("Close", id="settings-disconnect-close", color="secondary", outline=True),
            dbc.Button("Disconnect", id="settings-disconnect-confirm", color="danger"),
        ]),
    ], id="settings-disconnect-modal", is_open=False)


def ad_accounts_table(rows):
    body = [html.Tr([html.Td(r.shop), html.Td(r.account_id), html.Td(r.name), html.Td(r.currency or ""),
                     html.Td(dbc.Button("Unlink", size="sm", color="link", className="p-0 text-danger",
                                        id={"type": "settings-unlink", "shop": r.shop_id, "account": r.account_id}))])
            for r in rows]
    return _table(["Store", "Ad account", "Name", "Currency", ""], body, "No Meta ad account linked.",
                  "settings-ad-accounts-table")


def meta_card(shop_options):
    """Link ad accounts to a store with a token (linking again replaces the token)."""
    return dbc.Card(dbc.CardBody([
        html.H3("Link Meta ad accounts", className="h6"),
        html.P("A system-user or long-lived token with ads_read. Linking an account again replaces its token.",
               className="text-body-secondary small"),
        dbc.Row([
            dbc.Col(dbc.Select(id="settings-meta-store", options=shop_options, placeholder="Store", size="sm"), md=3),
            dbc.Col(dbc.Input(id="settings-meta-token", type="password", placeholder="Meta access token", size="sm",
                              autoComplete="off"), md=4),
            dbc.Col(dbc.Input(id="settings-meta-accounts", placeholder="act_123, act_456", size="sm"), md=3),
            dbc.Col(dbc.Button("Link", id="settings-meta-link", color="primary", size="sm", className="w-100"), md=2),
        ], className="g-2"),
        dcc.Loading(html.Div(id="settings-meta-feedback"), type="dot"),
    ]), className="mb-3 shadow-sm")


def users_table(users_with_grants, shop_names):
    body = [html.Tr([html.Td(u.email), html.Td(u.name), html.Td(u.role),
                     html.Td("all stores" if u.role == "admin" else
                             ", ".join(shop_names.get(s, "?") for s in grants) or "none"),
                     html.Td(f"{u.last_login_at:%-d %b %Y %H:%M}" if u.last_login_at else "never"),
                     html.Td(dbc.Button("Sign out everywhere", size="sm", color="link", className="p-0 text-danger",
                                        id={"type": "settings-sign-out", "user": u.id}))])
            for u, grants in users_with_grants]
    return _table(["Email", "Name", "Role", "Stores", "Last login", ""], body, "No users.", "settings-users-table")


def users_card(user_options, shop_checklist):
    """Create or invite a user; change a user's role and the stores they see."""
    roles = [{"label": "Member", "value": "member"}, {"label": "Admin", "value": "admin"}]
    return dbc.Card(dbc.CardBody([
        html.H3("Add a user", className="h6"),
        dbc.Row([
            dbc.Col(dbc.Input(id="settings-new-email", type="email", placeholder="email", size="sm"), md=3),
            dbc.Col(dbc.Input(id="settings-new-name", placeholder="name", size="sm"), md=3),
            dbc.Col(dbc.Select(id="settings-new-role", options=roles, value="member", size="sm"), md=2),
            dbc.Col(dbc.Input(id="settings-new-password", type="password", size="sm", autoComplete="new-password",
                              placeholder="password (empty: generate)"), md=2),
            dbc.Col(dbc.Button("Add", id="settings-user-create", color="primary", size="sm", className="w-100"), md=2),
        ], className="g-2 mb-3"),
        html.H3("Role and stores", className="h6"),
        dbc.Row([
            dbc.Col(dbc.Select(id="settings-user", options=user_options, placeholder="Choose a user", size="sm"), md=3),
            dbc.Col(dbc.Select(id="settings-role", options=roles, placeholder="Role", size="sm"), md=2),
            dbc.Col(dbc.Checklist(id="settings-grants", options=shop_checklist, value=[], inline=True), md=5),
            dbc.Col(dbc.Button("Save", id="settings-user-save", color="secondary", size="sm", className="w-100"),
                    md=2),
        ], className="g-2"),
        html.Div(id="settings-users-feedback"),
    ]), className="mb-3 shadow-sm")


def agency_card(currency: str, mer_basis: str):
    options = [{"label": c, "value": c} for c in settings.REPORTING_CURRENCIES]
    return dbc.Card(dbc.CardBody([
        html.H3("Reporting currency", className="h6"),
        html.P("All-stores figures are converted to it with each day's rate.", className="text-body-secondary small"),
        dbc.InputGroup([dbc.Select(id="settings-currency", options=options, value=currency),
                        dbc.Button("Save", id="settings-currency-save", color="secondary")],
                       size="sm", style={"maxWidth": "20rem"}),
        html.Div(id="settings-agency-feedback"),
        # A fieldset of radio buttons: its legend names the group, each choice has its label, arrow keys move.
        html.Fieldset([
            html.Legend("MER's sales", className="h6 mt-4 mb-1"),
            html.P("MER = sales ÷ ad spend. ROAS stays Meta's purchase value ÷ ad spend either way.",
                   className="text-body-secondary small mb-1"),
            dbc.RadioItems(id="settings-mer-basis", value=mer_basis, className="small",
                           options=[{"label": label, "value": value} for value, label in MER_BASES.items()]),
        ]),
        dbc.Button("Save", id="settings-mer-basis-save", color="secondary", size="sm", className="mt-2"),
        html.Div(id="settings-mer-feedback"),
    ]), className="mb-3 shadow-sm")


def audit_table(rows):
    body = [html.Tr([html.Td(f"{r.at:%-d %b %H:%M:%S}", className="text-nowrap"), html.Td(r.email or "?"),
                     html.Td(r.action), html.Td(r.shop or ""), html.Td(_details(r.details))]) for r in rows]
    return _table(["When (UTC)", "Who", "What", "Store", "Details"], body, "Nothing changed yet.",
                  "settings-audit-table")


def _details(details: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in (details or {}).items() if v not in (None, "", [], {}))


# -- reads for the page -------------------------------------------------------------------------------------------


def read_page() -> dict:
    """Everything the page shows, read as the logged-in admin."""
    session = db.get_session()
    rows = admin.list_store_rows(session=session)
    shop_names = {r.shop_id: r.name for r in rows}
    users = admin.list_users_with_grants(session=session)
    return dict(
        rows=rows,
        shop_options=[{"label": r.name, "value": str(r.shop_id)} for r in rows],
        shop_checklist=[{"label": r.name, "value": r.shop_id} for r in rows],
        user_options=[{"label": f"{u.email} ({u.role})", "value": str(u.id)} for u, _ in users],
        users=users_table(users, shop_names),
        accounts=ad_accounts_table(admin.list_ad_accounts(session=session)),
        audit=audit_table(admin.list_audit(session=session)),
        currency=admin.get_reporting_currency(session=session),
        mer_basis=admin.get_mer_basis(session=session),
    )


def _refreshed() -> float:
    return time.time()  # a new value for settings-refresh makes the tables re-read


def _date(value: object) -> date | None:
    return selection.parse_date(value)


# Every callback value comes from the browser and may be anything: these read what a form field should hold.
def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _ids(values: object) -> list[int]:
    return [i for i in map(selection.parse_id, values) if i is not None] if isinstance(values, list) else []


def _triggered(key: str) -> object:
    return ctx.triggered_id.get(key) if isinstance(ctx.triggered_id, dict) else None


# -- callbacks ----------------------------------------------------------------------------------------------------


def register_callbacks(app: Dash) -> None:  # noqa: C901  (one short function per callback)
    """Bind the settings callbacks to this app; each checks admin on the server first."""
    refresh = Output("settings-refresh", "data", allow_duplicate=True)
    store_feedback = Output("settings-store-feedback", "children", allow_duplicate=True)

    @app.callback(
        Output("settings-stores", "children"), Output("settings-poll", "disabled"),
        Output("settings-audit", "children"), Output("settings-ad-accounts", "children"),
        Output("settings-users", "children"), Output("settings-store", "options"),
        Output("settings-meta-store", "options"), Output("settings-user", "options"),
        Output("settings-grants", "options"),
        Input("settings-poll", "n_intervals"), Input("settings-refresh", "data"),
        prevent_initial_call=True,
    )
    def settings_refresh(_ticks, _refresh):
        """Re-read the page while a job runs (the poll stops when none does) and after every change."""
        require_admin()
        page = read_page()
        return (stores_table(page["rows"]), not has_live_job(page["rows"]), page["audit"], page["accounts"],
                page["users"], page["shop_options"], page["shop_options"], page["user_options"],
                page["shop_checklist"])

    @app.callback(
        Output("settings-name", "value"), Output("settings-interval", "value"),
        Output("settings-resync-source", "options"), Output("settings-resync-source", "value"),
        Input("settings-store", "value"),
        prevent_initial_call=True,
    )
    def settings_choose_store(shop_id):
        """Fill the store's name, interval and resync sources (Shopify and its ad accounts)."""
        require_admin()
        shop_id = selection.parse_id(shop_id)
        if not shop_id:
            raise PreventUpdate
        row = next((r for r in admin.list_store_rows(session=db.get_session()) if r.shop_id == shop_id), None)
        if row is None:
            raise PreventUpdate
        accounts = [a for a in admin.list_ad_accounts(session=db.get_session()) if a.shop_id == row.shop_id]
        sources = [{"label": "Shopify", "value": "shopify"}] + [
            {"label": f"Meta {a.account_id}", "value": f"meta:{a.account_id}"} for a in accounts]
        return row.name, str(row.sync_interval_minutes), sources, "shopify"

    @app.callback(
        store_feedback, refresh,
        Input("settings-rename", "n_clicks"), Input("settings-save-interval", "n_clicks"),
        Input("settings-pause", "n_clicks"), Input("settings-resume", "n_clicks"),
        Input("settings-resync", "n_clicks"),
        State("settings-store", "value"), State("settings-name", "value"), State("settings-interval", "value"),
        State("settings-resync-source", "value"), State("settings-resync-mode", "value"),
        State("settings-resync-since", "value"), State("settings-resync-until", "value"),
        prevent_initial_call=True,
    )
    def settings_store_action(_r, _i, _p, _u, _s, shop_id, name, interval, source, mode, since, until):
        """Rename, set the interval, pause, resume or resync the chosen store."""
        require_admin()
        shop_id, trigger = selection.parse_id(shop_id), ctx.triggered_id
        name, interval, source, mode = _text(name), _text(interval), _text(source), _text(mode)
        if not shop_id:
            return _alert("Choose a store first.", "warning"), no_update
        try:
            if trigger == "settings-rename":
                _apply(admin.rename_store, shop_id=shop_id, name=name)
                message = f"Renamed to {name.strip()}."
            elif trigger == "settings-save-interval":
                minutes = int(interval) if interval.isascii() and interval.isdigit() and len(interval) < 6 else 0
                _apply(admin.set_sync_interval, shop_id=shop_id, minutes=minutes)
                message = f"Syncs every {_minutes(minutes)} from now on."
            elif trigger == "settings-pause":
                _apply(admin.pause_store, shop_id=shop_id)
                message = "Paused: no scheduled syncs until you resume."
            elif trigger == "settings-resume":
                _apply(admin.resume_store, shop_id=shop_id)
                message = "Resumed."
            else:
                message = _resync(shop_id, source, mode, since, until)
        except USER_ERRORS as error:
            return _alert(str(error), "danger"), no_update
        return _alert(message), _refreshed()

    def _resync(shop_id, source, mode, since, until) -> str:
        kind, _, target = (source or "shopify").partition(":")
        job_id, created = _apply(admin.resync, shop_id=shop_id, source=kind, mode=mode, target=target,
                                 since=_date(since), until=_date(until))
        if created:
            return f"{RESYNC_MODES.get(mode, mode)} queued (job {job_id})."
        return f"Already queued or running (job {job_id}): nothing added."

    @app.callback(
        Output("settings-connect-feedback", "children"), refresh,
        Output("settings-token", "value"), Output("settings-client-secret", "value"),
        Output("settings-webhook-secret", "value"),
        Input("settings-connect", "n_clicks"),
        State("settings-domain", "value"), State("settings-token", "value"), State("settings-client-id", "value"),
        State("settings-client-secret", "value"), State("settings-webhook-secret", "value"),
        prevent_initial_call=True,
    )
    def settings_connect(_n, domain, token, client_id, client_secret, webhook_secret):
        """Connect a store with a token or a client ID and secret (secrets are cleared from the form)."""
        require_admin()
        domain, token, client_id = _text(domain), _text(token), _text(client_id)
        client_secret, webhook_secret = _text(client_secret), _text(webhook_secret)
        cleared = ("", "", "")
        if bool(token) == bool(client_id or client_secret):
            return (_alert("Give either an access token, or a client ID and secret.", "warning"), no_update,
                    *cleared)
        credential = {"access_token": token} if token else {"client_id": client_id or "",
                                                            "client_secret": client_secret or ""}
        try:
            shop = _apply(admin.connect_store, domain=domain or "", webhook_secret=webhook_secret or None,
                          **credential)
        except USER_ERRORS as error:
            return _alert(str(error), "danger"), no_update, *cleared
        return (_alert(f"Connected {shop.shop_domain}: its recent orders appear within a minute, its history "
                       "follows."), _refreshed(), *cleared)

    @app.callback(
        Output("settings-disconnect-modal", "is_open"), Output("settings-disconnect-domain", "children"),
        Output("settings-disconnect-typed", "value"), Output("settings-disconnect-feedback", "children"),
        Input("settings-disconnect", "n_clicks"), Input("settings-disconnect-close", "n_clicks"),
        State("settings-store", "value"),
        prevent_initial_call=True,
    )
    def settings_open_disconnect(_open, _close, shop_id):
        """Open the typed-confirmation dialog for the chosen store, or close it."""
        require_admin()
        if ctx.triggered_id == "settings-disconnect-close":
            return False, no_update, "", None
        shop_id = selection.parse_id(shop_id)
        row = next((r for r in admin.list_store_rows(session=db.get_session()) if r.shop_id == shop_id), None)
        if row is None:
            raise PreventUpdate
        return True, row.shop_domain, "", None

    @app.callback(
        Output("settings-disconnect-feedback", "children", allow_duplicate=True),
        Output("settings-disconnect-modal", "is_open", allow_duplicate=True), store_feedback, refresh,
        Input("settings-disconnect-confirm", "n_clicks"),
        State("settings-store", "value"), State("settings-disconnect-typed", "value"),
        State("settings-disconnect-purge", "value"),
        prevent_initial_call=True,
    )
    def settings_disconnect(_n, shop_id, typed, keep_or_purge):
        """Disconnect the chosen store after the typed confirmation; purge its data if asked."""
        require_admin()
        purge = keep_or_purge == "purge"
        try:
            _apply(admin.disconnect_store, shop_id=selection.parse_id(shop_id) or 0, confirm=_text(typed), purge=purge)
        except USER_ERRORS as error:
            return _alert(str(error), "danger"), no_update, no_update, no_update
        message = "Store and its data deleted." if purge else "Disconnected; its data is kept."
        return None, False, _alert(message), _refreshed()

    @app.callback(
        store_feedback, refresh,
        Input({"type": "settings-cancel", "job": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def settings_cancel(_clicks):
        """Cancel a job from its progress bar."""
        require_admin()
        _clicked()
        job_id = selection.parse_id(_triggered("job"))
        if job_id is None:
            raise PreventUpdate
        try:
            message = _apply(admin.cancel_job, job_id=job_id)
        except USER_ERRORS as error:
            return _alert(str(error), "danger"), no_update
        return _alert(message, "info"), _refreshed()

    @app.callback(
        Output("settings-meta-feedback", "children"), refresh, Output("settings-meta-token", "value"),
        Input("settings-meta-link", "n_clicks"),
        State("settings-meta-store", "value"), State("settings-meta-token", "value"),
        State("settings-meta-accounts", "value"),
        prevent_initial_call=True,
    )
    def settings_meta_link(_n, shop_id, token, account_ids):
        """Check the token with Meta, then link the ad accounts to the store."""
        require_admin()
        ids = [a.strip() for a in _text(account_ids).replace(";", ",").split(",") if a.strip()]
        shop_id = selection.parse_id(shop_id)
        if not shop_id:
            return _alert("Choose a store.", "warning"), no_update, ""
        try:
            linked = _apply(admin.link_ad_accounts, shop_id=shop_id, token=_text(token), account_ids=ids)
        except USER_ERRORS as error:
            return _alert(str(error), "danger"), no_update, ""
        return _alert(f"Linked {', '.join(linked)}; their history is being fetched."), _refreshed(), ""

    @app.callback(
        Output("settings-meta-feedback", "children", allow_duplicate=True), refresh,
        Input({"type": "settings-unlink", "shop": ALL, "account": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def settings_meta_unlink(_clicks):
        """Unlink an ad account from its store."""
        require_admin()
        _clicked()
        shop_id, account_id = selection.parse_id(_triggered("shop")), _triggered("account")
        if shop_id is None or not isinstance(account_id, str):
            raise PreventUpdate
        try:
            _apply(admin.unlink_ad_account, shop_id=shop_id, account_id=account_id)
        except USER_ERRORS as error:
            return _alert(str(error), "danger"), no_update
        return _alert(f"Unlinked {account_id}; its past figures stay."), _refreshed()

    @app.callback(
        Output("settings-users-feedback", "children"), refresh, Output("settings-new-password", "value"),
        Input("settings-user-create", "n_clicks"),
        State("settings-new-email", "value"), State("settings-new-name", "value"),
        State("settings-new-role", "value"), State("settings-new-password", "value"),
        prevent_initial_call=True,
    )
    def settings_create_user(_n, email, name, role, password):
        """Create a user; with no password given, show the generated one once."""
        require_admin()
        try:
            user, generated = _apply(admin.create_user, email=_text(email), name=_text(name),
                                     role=_text(role) or "member", password=_text(password) or None)
        except USER_ERRORS as error:
            return _alert(str(error), "danger"), no_update, ""
        if generated is None:
            return _alert(f"Added {user.email}."), _refreshed(), ""
        shown = [f"Added {user.email}. Their password, shown this once: ", html.Code(generated, id="settings-otp"),
                 " (give it to them safely; they can ask an admin for a new one)."]
        return _alert(shown, "info"), _refreshed(), ""

    @app.callback(
        Output("settings-role", "value"), Output("settings-grants", "value"),
        Input("settings-user", "value"),
        prevent_initial_call=True,
    )
    def settings_choose_user(user_id):
        """Show the chosen user's role and stores."""
        require_admin()
        user_id = selection.parse_id(user_id)
        found = next(((u, g) for u, g in admin.list_users_with_grants(session=db.get_session())
                      if u.id == user_id), None)
        if found is None:
            raise PreventUpdate
        return found[0].role, found[1]

    @app.callback(
        Output("settings-users-feedback", "children", allow_duplicate=True), refresh,
        Input("settings-user-save", "n_clicks"),
        State("settings-user", "value"), State("settings-role", "value"), State("settings-grants", "value"),
        prevent_initial_call=True,
    )
    def settings_save_user(_n, user_id, role, shop_ids):
        """Change a user's role, then make their store access exactly the ticked stores."""
        require_admin()
        user_id, role = selection.parse_id(user_id), _text(role)
        if not user_id:
            return _alert("Choose a user.", "warning"), no_update
        try:
            _apply(admin.set_role, user_id=user_id, role=role)
            if role != "admin":
                granted, revoked = _apply(admin.set_grants, user_id=user_id, shop_ids=_ids(shop_ids))
            else:
                granted, revoked = [], []
        except USER_ERRORS as error:
            return _alert(str(error), "danger"), no_update
        return _alert(f"Saved: {len(granted)} store(s) granted, {len(revoked)} revoked."), _refreshed()

    @app.callback(
        Output("settings-users-feedback", "children", allow_duplicate=True), refresh,
        Input({"type": "settings-sign-out", "user": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def settings_sign_out(_clicks):
        """End every session of a user, in every browser ("remember me" included)."""
        require_admin()
        _clicked()
        user_id = selection.parse_id(_triggered("user"))
        if user_id is None:
            raise PreventUpdate
        try:
            email = _apply(admin.sign_out_everywhere, user_id=user_id)
        except USER_ERRORS as error:
            return _alert(str(error), "danger"), no_update
        return _alert(f"{email} is signed out everywhere."), _refreshed()

    @app.callback(
        Output("settings-agency-feedback", "children"), refresh,
        Input("settings-currency-save", "n_clicks"), State("settings-currency", "value"),
        prevent_initial_call=True,
    )
    def settings_currency(_n, currency):
        """Set the agency's reporting currency."""
        require_admin()
        try:
            currency = _text(currency)
            _apply(admin.set_reporting_currency, currency=currency)
        except USER_ERRORS as error:
            return _alert(str(error), "danger"), no_update
        return _alert(f"All-stores figures are now in {currency}."), _refreshed()

    @app.callback(
        Output("settings-mer-feedback", "children"), refresh,
        Input("settings-mer-basis-save", "n_clicks"), State("settings-mer-basis", "value"),
        prevent_initial_call=True,
    )
    def settings_mer_basis(_n, basis):
        """Set which sales MER divides: Shopify's alone, or all channels'."""
        require_admin()
        try:
            _apply(admin.set_mer_basis, basis=_text(basis))
        except USER_ERRORS as error:
            return _alert(str(error), "danger"), no_update
        return _alert(f"The Overview and the exports now show {MER_BASIS_LABELS[basis]}."), _refreshed()
