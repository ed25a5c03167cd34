"""POST /webhooks/shopify: verify Shopify's HMAC and land the delivery in the inbox; the scheduler does the rest."""

import logging

from flask import Blueprint, Flask, jsonify, request

from dashboard import auth, db
from database import web_session_scope
from ingest.shopify import signing, webhooks

bp = Blueprint("webhooks", __name__)
log = logging.getLogger(__name__)


def init_app(server: Flask) -> None:
    """Mount the route; Shopify signs its deliveries, so no login and no CSRF token (this route only)."""
    auth.csrf.exempt(bp)
    server.register_blueprint(bp)


@bp.post("/webhooks/shopify", endpoint="shopify")
def shopify():
    """401 unless signed with the shop's key; 200 once landed (or already landed), an unreadable body included
    (kept with its reason, refused by the drain); 400 without topic, shop or webhook id."""
    raw_body = request.get_data()  # the raw bytes: the HMAC is over them, not over parsed JSON
    domain = request.headers.get("X-Shopify-Shop-Domain", "")
    with web_session_scope(db.sessions(), user_id=None) as session:
        # PostgreSQL checks the HMAC: the web role never reads a signing key (ingest/shopify/signing.py).
        if not signing.is_signed(session=session, domain=domain, raw_body=raw_body,
                                 header=request.headers.get("X-Shopify-Hmac-Sha256")):
            log.warning("webhook rejected: bad or missing signature (shop %r)", domain)
            return jsonify(error="invalid signature"), 401
        try:
            accepted = webhooks.accept(session=session, headers=request.headers, raw_body=raw_body)
        except ValueError as error:
            return jsonify(error=f"bad delivery: {error}"), 400
    if accepted.refused:  # 200 all the same: Shopify would send the same body again and again, then unsubscribe
        log.warning("webhook from %s kept but refused: %s", domain, accepted.refused)
        return jsonify(status="refused", reason=accepted.refused), 200
    return jsonify(status="accepted" if accepted.new else "duplicate"), 200
