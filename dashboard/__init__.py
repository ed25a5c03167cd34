"""The Dash app: the shell, the pages, and the static files it serves itself (no CDN)."""

from pathlib import Path

import xstatic.pkg.bootstrap
from dash import Dash
from flask import Flask, jsonify, request, send_from_directory

from dashboard import admin_ui, downloads, layout, marketing_view, status_view, uploads_view

HERE = Path(__file__).resolve().parent
BOOTSTRAP_DIR = Path(xstatic.pkg.bootstrap.BASE_DIR)


def create_dash(server: Flask) -> Dash:
    """Mount the Dash app on the Flask server."""
    server.add_url_rule("/vendor/<path:filename>", "vendor", _vendor)
    app = Dash(
        __name__,
        server=server,
        use_pages=True,
        pages_folder=str(HERE / "pages"),
        assets_folder=str(HERE.parent / "assets"),
        external_stylesheets=["/vendor/bootstrap/css/bootstrap.min.css"],
        title="Storefront analytics",
        update_title=None,
        suppress_callback_exceptions=True,
        serve_locally=True,
    )
    app.layout = layout.shell
    server.before_request(refuse_malformed_location)
    layout.register_callbacks(app)
    admin_ui.register_callbacks(app)
    status_view.register_callbacks(app)
    downloads.register_callbacks(app, layout.LOCATION)
    marketing_view.register_callbacks(app, layout.LOCATION)
    uploads_view.register_callbacks(app)
    server.extensions["dash"] = app
    return app


def refuse_malformed_location():
    """400 for a callback whose URL values are not text: Dash's own page router would fail on them with a 500."""
    if request.path != "/_dash-update-component" or not request.is_json:
        return None
    body = request.get_json(silent=True)
    items = [item for key in ("inputs", "state") for item in (body.get(key) or [] if isinstance(body, dict) else [])]
    if any(isinstance(item, dict) and item.get("id") == layout.LOCATION
           and not isinstance(item.get("value"), str | None) for item in items):
        return jsonify(error="the page's URL values must be text"), 400
    return None


def _vendor(filename: str):
    # Bootstrap's CSS from the xstatic-bootstrap package; `dbc.themes.*` would point at a CDN.
    if not filename.startswith("bootstrap/"):
        return "Not found", 404
    return send_from_directory(BOOTSTRAP_DIR, filename.removeprefix("bootstrap/"), max_age=86400)
