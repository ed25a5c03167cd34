"""On every page: the navbar's sync indicator, the scheduler-down banner, and the one poll that drives both.

The poll runs every STATUS_FAST_POLL_SECONDS while a job runs (or waits for a running scheduler), else
every STATUS_SLOW_POLL_SECONDS; navigating re-checks at once. The status page listens to the same poll.
"""

from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, dcc, html

import settings
from dashboard import db, queries, status

POLL = "sync-poll"


def poll() -> dcc.Interval:
    """The shared poll; it starts fast so a page opened mid-sync moves at once."""
    return dcc.Interval(id=POLL, interval=settings.STATUS_FAST_POLL_SECONDS * 1000)


def indicator() -> dbc.NavItem:
    """The navbar's link to /status; the callback below fills it in."""
    return dbc.NavItem(dbc.NavLink("Sync status", href="/status", id="sync-indicator", className="small"))


def banner() -> html.Div:
    """Where the scheduler-down banner appears."""
    return html.Div(id="scheduler-banner")


def register_callbacks(app: Dash, location: str) -> None:
    """Bind the indicator's callback to this app."""

    @app.callback(
        Output("sync-indicator", "children"),
        Output("sync-indicator", "className"),
        Output("scheduler-banner", "children"),
        Output(POLL, "interval"),
        Input(POLL, "n_intervals"),
        Input(location, "pathname"),
    )
    def refresh_indicator(_ticks, _path):
        """Count syncing and failing stores; say so when no scheduler is running."""
        session = db.get_session()
        summaries = queries.read_sync_status(session=session)
        schedulers_fresh = sum(1 for row in queries.list_schedulers(session=session) if row.fresh)
        words, colour = summarise(summaries, scheduler_running=bool(schedulers_fresh))
        banner_text = status.scheduler_banner(
            fresh=schedulers_fresh, oldest_queued_at=queries.get_oldest_queued_at(session=session),
            timezone=ZoneInfo(settings.REPORTING_TIMEZONE))
        live = any(summary.state.state == status.SYNCING for summary in summaries)
        fast = live and schedulers_fresh  # a stopped scheduler moves nothing: no point polling fast
        seconds = settings.STATUS_FAST_POLL_SECONDS if fast else settings.STATUS_SLOW_POLL_SECONDS
        return (
            [html.Span("●", className=f"me-1 text-{colour}"), words],
            "small text-nowrap",
            dbc.Alert(banner_text, color="danger", className="rounded-0 mb-0 text-center",
                      id="scheduler-down") if banner_text else None,
            seconds * 1000,
        )


def summarise(summaries: list, *, scheduler_running: bool = True) -> tuple[str, str]:
    """The indicator's words and colour from every visible store's sources."""
    def stores(state: str) -> int:
        return len({s.shop_id for s in summaries if s.state.state == state})
    percent = status.overall_percent([s.running for s in summaries if s.running is not None])
    return status.indicator_text(syncing=stores(status.SYNCING), percent=percent, failing=stores(status.FAILING),
                                 delayed=stores(status.DELAYED), scheduler_running=scheduler_running)
