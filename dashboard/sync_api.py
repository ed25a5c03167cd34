"""`GET /api/sync/<shop>/status`: a store's sync status as JSON, for the logged-in user (RLS decides)."""

from flask import Blueprint, abort, jsonify

from dashboard import db, queries

bp = Blueprint("sync_api", __name__)


@bp.route("/api/sync/<int:shop_id>/status")
def shop_status(shop_id: int):
    """Per source: state, progress percentage, last success, freshness, completeness, running job."""
    session = db.get_session()
    shop = queries.get_shop(session=session, shop_id=shop_id)
    if shop is None:
        abort(404)  # not granted and not there look the same: nothing about another tenant leaks
    summaries = queries.read_sync_status(session=session, shop_id=shop_id)
    return jsonify(shop_id=shop.shop_id, name=shop.name, status=shop.status,
                   sources=[summary.to_json() for summary in summaries])
