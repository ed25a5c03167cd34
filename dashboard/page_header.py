"""A page's header: its title, the period and its comparison (a minimal stand-in until the shared one lands)."""

import dash_bootstrap_components as dbc
from dash import html
from sqlalchemy.orm import Session

from dashboard import selection
from dashboard.components import format_range


def header(*, session: Session, chosen: selection.Selection, title: str, fx_estimated: bool = False) -> html.Div:
    """Title, period and comparison, and a warning when a figure rests on an estimated exchange rate."""
    comparison = chosen.comparison
    period = format_range(chosen.start, chosen.end) + (
        f" · compared with {format_range(*comparison)}" if comparison else "")
    warning = [dbc.Alert("Some amounts use an earlier day's exchange rate (the day's rate is not published yet).",
                         color="warning", className="py-2 small", id="fx-estimated")] if fx_estimated else []
    return html.Div([html.H1(title, className="h3 mb-1", id="page-title"),
                     html.P(period, className="text-body-secondary", id="period"), *warning])
