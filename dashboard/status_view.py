"""The status page's parts and callbacks: source cards, schedulers, job history, the event log, retry."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import ALL, Dash, Input, Output, Patch, State, ctx, html, no_update
from flask_login import current_user

import settings
from dashboard import admin, db, queries, selection, status
from dashboard.sync_indicator import POLL
from database import session_scope
from models import EVENT_LEVELS

JOB_COLOURS = {"queued": "secondary", "running": "primary", "succeeded": "success", "failed": "danger",
               "cancelled": "dark"}
LEVEL_COLOURS = {"INFO": "info", "WARN": "warning", "ERROR": "danger"}
ALL_STORES = "all"


def version_warnings() -> list:
    """Warn well before a pinned API version retires."""
    return [dbc.Alert(text, color="warning", className="py-2 small", id=f"version-warning-{number}")
            for number, text in enumerate(status.retirement_warnings())]


def _now() -> datetime:
    return datetime.now(UTC)


def _local(moment: datetime | None, fmt: str = "%-d %b %H:%M") -> str:
    if moment is None:
        return "–"
    return moment.astimezone(ZoneInfo(settings.REPORTING_TIMEZONE)).strftime(fmt)


def render_sources(shop_id: int | None):
    """One card per store and source."""
    summaries = queries.read_sync_status(session=db.get_session(), shop_id=shop_id)
    if not summaries:
        return html.P("No store to show.", className="text-body-secondary")
    return dbc.Row([dbc.Col(source_card(summary), md=6, xl=4) for summary in summaries], className="g-3")


def source_card(summary) -> dbc.Card:
    """Badge, last sync, freshness, completeness, and the running job's progress or the failure."""
    now = _now()
    state = summary.state
    last = summary.last_success_at
    facts = [
        ("Last successful sync", f"{_local(last)} ({status.format_ago(last, now=now)})" if last else "never"),
        ("Data up to", _local(summary.data_until)),
        ("Completeness", describe_completeness(summary)),
    ]
    items = [item for label, value in facts for item in (
        html.Dt(label, className="col-5 fw-normal text-body-secondary"), html.Dd(value, className="col-7 mb-1"))]
    body = [html.Dl(items, className="row small mb-2")]
    if state.running is not None:
        body.append(progress(summary, now))
    elif state.state == status.SYNCING:
        body.append(html.Div("Waiting for the scheduler to start the job…", className="small text-body-secondary"))
    if state.failed is not None:
        body.append(failure(state.failed))
    if state.state in (status.PAUSED, status.DISCONNECTED):
        words = summary.reason or f"Syncing is {state.state}."
        body.append(html.Div(words, className="small text-body-secondary sync-reason"))
    header = html.Div(
        [html.Span([summary.shop_name, html.Span(f" · {status.SOURCE_NAMES.get(summary.source, summary.source)}",
                                                 className="text-body-secondary")], className="fw-semibold"),
         dbc.Badge(state.state.capitalize(), color=state.colour, className="source-state")],
        className="d-flex justify-content-between align-items-center",
    )
    return dbc.Card([dbc.CardHeader(header), dbc.CardBody(body)], className="source-card h-100 shadow-sm",
                    id={"type": "source-card", "shop": summary.shop_id, "source": summary.source})


def describe_completeness(summary):
    """`1,234 of 1,240 orders (99.5 %)`, or per ad account its name over `364 days · 2 Dec 2025 – 30 Nov 2026`."""
    facts = summary.completeness
    if summary.source == "shopify":
        if facts.get("percent") is None:
            return "not checked yet"
        return f"{facts['warehouse_orders']:,} of {facts['shopify_orders']:,} orders ({facts['percent']:g} %)"
    if summary.source == "meta":
        accounts = facts.get("accounts") or []
        if not accounts:
            return "no days loaded yet"
        return [html.Div([html.Div(account["name"] or account["account_id"]),
                          html.Div(describe_days(account), className="text-body-secondary")],
                         className="meta-coverage mb-1") for account in accounts]
    return "–"


def describe_days(account: dict) -> list:
    """One ad account's days loaded: `364 days · 2 Dec 2025 – 30 Nov 2026`, or `181 of 183 days · ...` with gaps."""
    first, last = date.fromisoformat(account["first_day"]), date.fromisoformat(account["last_day"])
    span = (last - first).days + 1
    days = f"{account['days']:,} days" if account["days"] == span else f"{account['days']:,} of {span:,} days"
    # A narrow card wraps between the two dates, never inside one.
    return [f"{days} · ", html.Span(f"{first:%-d %b %Y}", className="text-nowrap"), " – ",
            html.Span(f"{last:%-d %b %Y}", className="text-nowrap")]


def progress(summary, now: datetime) -> html.Div:
    """The running job's bar, phase and time left."""
    job = summary.running
    percent = summary.percent
    known = percent is not None  # an unknown total shows a full striped bar: busy, amount unknown
    bar = dbc.Progress(value=percent if known else 100, label=f"{percent}%" if known else "", striped=True,
                       animated=True, className="sync-progress mb-1", color="primary" if known else "info")
    counts = f" · {job.progress_done:,} of {job.progress_total:,}" if job.progress_total else ""
    return html.Div([
        bar,
        html.Div([html.Span(job.progress_label or status.job_name(job.kind), className="sync-phase"), counts, " · ",
                  html.Span(status.format_eta(summary.eta), className="sync-eta")],
                 className="small text-body-secondary"),
    ])


def failure(job) -> dbc.Alert:
    """The error in plain words with its hint; admins get a retry button."""
    words = status.describe_error(job.error_class, job.error_message, job.error_hint)
    note = " It retries by itself." if status.is_retrying(job) else ""
    return dbc.Alert([html.Div(words + note, className="sync-error"), *retry_button(job, "card")], color="danger",
                     className="small py-2 mt-2 mb-0")


def retry_button(job, place: str) -> list:
    """A retry button on a failed job, for admins (the callback checks again: hiding is not enforcing)."""
    if job.status != "failed" or not current_user.is_admin:
        return []
    return [dbc.Button("Retry", size="sm", color="danger", outline=True, className="mt-2" if place == "card" else "",
                       id={"type": "retry-job", "job": job.id, "place": place})]


def render_schedulers():
    """Whether syncing works; for admins, each scheduler instance and how long ago it was seen.

    Hosts, pids and job counts span every tenant, so members get the one sentence only.
    """
    rows = queries.list_schedulers(session=db.get_session())
    if not current_user.is_admin:
        fresh = sum(1 for row in rows if row.fresh and not row.stopping)
        return html.P(status.syncing_sentence(fresh), className="small", id="scheduler-summary")
    if not rows:
        return html.P("No scheduler has ever reported.", className="text-body-secondary small")
    return dbc.Table(
        [html.Thead(html.Tr([html.Th("Instance"), html.Th("Last heartbeat"), html.Th("Jobs running"), html.Th("")])),
         html.Tbody([html.Tr([
             html.Td(f"{row.hostname} (pid {row.pid})"),
             html.Td(f"{status.format_duration(float(row.age_seconds))} ago"),
             html.Td(row.jobs_running),
             html.Td(dbc.Badge("running" if row.fresh and not row.stopping else "stopping" if row.fresh else "stale",
                               color="success" if row.fresh and not row.stopping else "secondary")),
         ]) for row in rows])],
        size="sm", className="bg-body small", id="scheduler-table",
    )


def render_history(shop_id: int | None):
    """The latest jobs with their durations, outcomes and errors."""
    rows = queries.list_job_history(session=db.get_session(), shop_id=shop_id)
    if not rows:
        return html.P("No sync has run yet.", className="text-body-secondary small")
    now = _now()
    seen = set()  # only the newest job of a (store, source, kind, target) offers a retry: a later one replaced it
    latest = {job.id for job in rows if (key := (job.shop_id, job.source, job.kind, job.target)) not in seen
              and not seen.add(key)}
    headers = ["Job", "Store", "Source", "Kind", "Status", "Started", "Duration", "Attempts", "Error", ""]
    return dbc.Table(
        [html.Thead(html.Tr([html.Th(h) for h in headers])),
         html.Tbody([html.Tr([
             html.Td(job.id), html.Td(job.shop_name), html.Td(status.SOURCE_NAMES.get(job.source, job.source)),
             html.Td(status.job_name(job.kind)),
             html.Td(dbc.Badge(job.status, color=JOB_COLOURS.get(job.status, "secondary"))),
             html.Td(_local(job.started_at)), html.Td(status.format_duration(status.job_duration(job, now=now))),
             html.Td(f"{job.attempts}/{job.max_attempts}"),
             html.Td(status.describe_error(job.error_class, job.error_message, job.error_hint), className="small"),
             html.Td(retry_button(job, "history") if job.id in latest else []),
         ], id={"type": "job-row", "job": job.id}) for job in rows])],
        size="sm", hover=True, responsive=True, className="bg-body small", id="history-table",
    )


def event_filters(shops, shop_id: int | None) -> dbc.Row:
    """Level and store filters for the event log."""
    stores = [{"label": "All stores", "value": ALL_STORES}] + [
        {"label": shop.name, "value": str(shop.shop_id)} for shop in shops]
    return dbc.Row([
        dbc.Col(dbc.Checklist(id="event-level", options=list(EVENT_LEVELS), value=list(EVENT_LEVELS), inline=True),
                width="auto"),
        dbc.Col(dbc.Select(id="event-shop", options=stores, value=str(shop_id) if shop_id else ALL_STORES,
                           size="sm"), md=3),
    ], className="g-3 align-items-center mb-2")


def event_table() -> dbc.Table:
    """The event log's table; its rows follow new events."""
    head = html.Thead(html.Tr([html.Th("Time"), html.Th("Level"), html.Th("Store"), html.Th("Message")]))
    return dbc.Table([head, html.Tbody(id="event-rows")], size="sm", className="bg-body small", id="event-table")


def event_row(event) -> html.Tr:
    return html.Tr([
        html.Td(_local(event.created_at, "%-d %b %H:%M:%S"), className="text-nowrap"),  # a live log: seconds
        html.Td(dbc.Badge(event.level, color=LEVEL_COLOURS.get(event.level, "secondary"))),
        html.Td(event.shop_name or "–"), html.Td(event.message),
    ], className="event-row")


def register_callbacks(app: Dash) -> None:
    """The status page's callbacks, bound to this app (Dash re-imports page modules for every app)."""

    @app.callback(
        Output("status-sources", "children"),
        Output("job-history", "children"),
        Output("schedulers", "children"),
        Input(POLL, "n_intervals"),
        Input("retry-result", "children"),
        State("status-shop", "data"),
        prevent_initial_call=True,
    )
    def refresh_status(_ticks, _retried, shop_id):
        """Redraw the cards, the history and the schedulers on every poll (RLS limits what `shop_id` shows)."""
        shop_id = selection.parse_id(shop_id)  # the browser sends it back: it may say anything
        return render_sources(shop_id), render_history(shop_id), render_schedulers()


    @app.callback(
        Output("event-rows", "children"),
        Output("event-last-id", "data"),
        Input(POLL, "n_intervals"),
        Input("event-level", "value"),
        Input("event-shop", "value"),
        State("event-last-id", "data"),
    )
    def follow_events(_ticks, levels, shop, last_id):
        """Show the newest events; on a poll, add only the lines newer than those shown."""
        # Every value comes from the browser: a store id, level names and the last event id, or else nothing.
        shop_id = selection.parse_id(shop)
        levels = [level for level in levels if isinstance(level, str)] if isinstance(levels, list) else None
        last_id = 0 if last_id == 0 else selection.parse_id(last_id)
        following = ctx.triggered_id == POLL and last_id is not None
        events = queries.list_events(session=db.get_session(), shop_id=shop_id, levels=levels or None,
                                     after_id=last_id if following else None)
        if not following:
            return [event_row(event) for event in events], events[0].id if events else 0
        if not events:
            return no_update, no_update
        rows = Patch()
        for event in reversed(events):  # oldest first, so the newest ends up on top
            rows.prepend(event_row(event))
        return rows, events[0].id

    @app.callback(
        Output("retry-result", "children"),
        Output(POLL, "interval", allow_duplicate=True),
        Input({"type": "retry-job", "job": ALL, "place": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def retry_job(clicks):
        """Queue the failed job's source and kind again, as the admin who asked (checked here, not in the page)."""
        job_id = selection.parse_id(ctx.triggered_id["job"]) if isinstance(ctx.triggered_id, dict) else None
        if job_id is None or not isinstance(clicks, list) or not any(clicks):
            return no_update, no_update
        if not current_user.is_admin:
            return dbc.Alert("Only admins can retry a sync.", color="danger", id="retry-refused"), no_update
        # Read as the user (RLS: only a store they may see), then queue and audit as an admin change.
        job = queries.get_job(session=db.get_session(), job_id=job_id)
        try:
            if job is None:
                raise admin.AdminError("That job cannot be retried.")
            with session_scope(db.writer_sessions()) as session:
                job_id, created = admin.retry_job(session=session, by=current_user.id, job_id=job.id)
        except admin.AdminError as error:
            return dbc.Alert(str(error), color="warning", id="retry-refused"), no_update
        words = f"Retry queued as job {job_id}." if created else f"Job {job_id} is already queued for it."
        return (dbc.Alert(words, color="success", id="retry-queued", dismissable=True),
                settings.STATUS_FAST_POLL_SECONDS * 1000)
