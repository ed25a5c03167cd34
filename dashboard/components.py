"""Small building blocks shared by pages."""

from datetime import date

import dash_bootstrap_components as dbc
from dash import html

STATUS_COLOURS = {"active": "success", "paused": "secondary", "disconnected": "danger"}


def format_range(start: date, end: date) -> str:
    """`1 Oct – 30 Oct 2026`, with the year once when both ends share it."""
    if start.year == end.year:
        return f"{start:%-d %b} – {end:%-d %b %Y}"
    return f"{start:%-d %b %Y} – {end:%-d %b %Y}"


def status_badge(status: str) -> dbc.Badge:
    """A store's connection status as a coloured badge."""
    return dbc.Badge(status.capitalize(), color=STATUS_COLOURS.get(status, "secondary"), className="ms-2")


def store_card(shop) -> dbc.Card:
    """A store's name, domain, currency and timezone."""
    return dbc.Card(
        dbc.CardBody(
            [
                html.H3([shop.name, status_badge(shop.status)], className="card-title"),
                html.Div(shop.shop_domain, className="text-body-secondary small"),
                html.Div(f"{shop.currency} · {shop.iana_timezone}", className="small mt-2"),
            ]
        ),
        className="store-card h-100 shadow-sm",
        id={"type": "store-card", "shop": shop.shop_id},
    )
