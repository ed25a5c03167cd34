"""Health checks for load balancers and ops: the web's database, and the schedulers' heartbeats."""

from flask import Blueprint, jsonify
from sqlalchemy import text

import settings
from dashboard import db

bp = Blueprint("health", __name__)


@bp.route("/healthz", endpoint="healthz")
def healthz():
    """200 when the database answers; the schedulers' freshness is reported, not required."""
    try:
        session = db.get_session()
        session.execute(text("SELECT 1"))
        fresh = session.execute(
            text("SELECT count(*) FROM app_dashboard.scheduler_heartbeats "
                 "WHERE last_seen_at > now() - make_interval(secs => :stale)"),
            {"stale": settings.SCHEDULER_STALE_SECONDS},
        ).scalar_one()
    except Exception as error:  # the point of a health check is to answer, not to raise
        return jsonify(status="error", database=type(error).__name__), 503
    return jsonify(status="ok", database="ok", schedulers_running=fresh)
