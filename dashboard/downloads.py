"""CSV downloads: every chart and table offers its rows through one callback and a registry of readers.

A page registers a reader under a name (`@reader("daily-sales")`) and places `button("daily-sales")`; a click
reads the rows for the selection in the URL, as the logged-in user, and sends them as the export CLI prints
them (dashboard.export.to_csv), so a download and `python -m dashboard.export` agree byte for byte.
"""

from collections.abc import Callable

import dash_bootstrap_components as dbc
from dash import MATCH, Dash, Input, Output, State, dcc, html
from sqlalchemy.orm import Session

from dashboard import db, export, queries, selection

# name -> reader(session=, chosen=, arg=) -> rows; `arg` is the button's own detail (a day, a campaign id).
READERS: dict[str, Callable[..., list[dict]]] = {}


def reader(name: str):
    """Register the function that reads a download's rows."""
    def register(function: Callable[..., list[dict]]):
        READERS[name] = function
        return function
    return register


def button(name: str, arg: str = "", label: str = "CSV") -> html.Span:
    """A small download button and its dcc.Download, for the reader registered under `name`."""
    key = {"name": name, "arg": arg}
    return html.Span([
        dbc.Button(["⤓ ", label], id={"type": "csv-button", **key}, color="secondary", outline=True, size="sm",
                   title="Download these rows as CSV", className="csv-button"),
        dcc.Download(id={"type": "csv-download", **key}),
    ])


def filename(name: str, chosen: selection.Selection, arg: str = "") -> str:
    """`daily-sales_shop-3_2026-11-01_2026-11-30.csv`: what, which store, which days."""
    parts = [name, f"shop-{chosen.shop}", *([arg] if arg else []), chosen.start.isoformat(), chosen.end.isoformat()]
    return "_".join(parts) + ".csv"


def read_csv(*, session: Session, name: str, chosen: selection.Selection, arg: str = "") -> str:
    """The CSV text of a registered download for a selection."""
    rows = READERS[name](session=session, chosen=chosen, arg=arg)
    return export.to_csv([{key: export.plain(key, value) for key, value in row.items()} for row in rows])


def register_callbacks(app: Dash, location: str) -> None:
    """The one callback behind every download button."""

    @app.callback(
        Output({"type": "csv-download", "name": MATCH, "arg": MATCH}, "data"),
        Input({"type": "csv-button", "name": MATCH, "arg": MATCH}, "n_clicks"),
        State({"type": "csv-button", "name": MATCH, "arg": MATCH}, "id"),
        State(location, "search"),
        prevent_initial_call=True,
    )
    def download(_clicks, button_id, search):
        if not isinstance(button_id, dict) or button_id.get("name") not in READERS:
            return None  # a hand-made request naming no known download
        name, arg = button_id["name"], str(button_id.get("arg") or "")
        session = db.get_session()
        chosen = queries.read_selection(session=session, query=search or "")  # presets in the store's timezone
        text = read_csv(session=session, name=name, chosen=chosen, arg=arg)
        return dict(content=text, filename=filename(name, chosen, arg), type="text/csv")
