"""`GET /api/sync/<shop>/status`: a store's sync status as JSON, for the logged-in user (RLS decides)."""

from flask import Blueprint, abort, jsonify

from dashboard import db, queries, selection

bp = Blueprint("sync_api", __name__)


@bp.route("/api/sync/<shop>/status")
def shop_status(shop: str):
    """Per source: state, progress percentage, last success, freshness, completeness, running job."""
    shop_id = selection.parse_id(shop)
    if shop_id is None:
        return jsonify(error="not a store id: a store id is a positive integer"), 400
    session = db.get_session()
    found = queries.get_shop(session=session, shop_id=shop_id)
    if found is None:
        abort(404)  # not granted and not there look the same: nothing about another tenant leaks
    summaries = queries.read_sync_status(session=session, shop_id=shop_id)
    return jsonify(shop_id=found.shop_id, name=found.name, status=found.status,
                   sources=[summary.to_json() for summary in summaries])
