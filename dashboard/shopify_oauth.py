"""Installing the public app on a store: OAuth authorization code grant with expiring offline tokens.

`/shopify/install?shop=...` sends an admin to Shopify to approve the app; Shopify sends the browser back to
`/shopify/callback` with a signed query. Both routes are behind the login gate and for admins only.
"""

import hmac
import secrets
from urllib.parse import urlencode

from flask import Blueprint, abort, redirect, request, session, url_for
from flask_login import current_user

import settings
from dashboard import admin, db
from database import session_scope
from ingest.errors import SyncError
from ingest.shopify.auth import authorize_url, exchange_code, normalize_domain, verify_query_hmac
from ingest.shopify.connect import ConnectError, connect_store

bp = Blueprint("shopify_oauth", __name__)
STATE_KEY = "shopify_oauth"  # in the signed session cookie: the nonce and the shop it was made for


def _require_admin() -> None:
    if not current_user.is_admin:
        abort(403, "Only admins connect stores.")


def _shop_from(params) -> str:
    try:
        return normalize_domain(params.get("shop", ""))
    except ValueError as error:
        abort(400, str(error))


@bp.get("/shopify/install")
def install():
    """Send the admin to Shopify to approve the app on `shop`."""
    _require_admin()
    if not (settings.SHOPIFY_API_KEY and settings.SHOPIFY_API_SECRET):
        abort(400, "The Shopify app is not configured: set SHOPIFY_API_KEY and SHOPIFY_API_SECRET, or connect "
                   "the store with an access token (flask --app app shops connect).")
    # Opened from Shopify's admin the query is signed; a signed query that does not verify is forged.
    if "hmac" in request.args and not verify_query_hmac(request.args.to_dict(), settings.SHOPIFY_API_SECRET):
        abort(400, "The request's signature does not match.")
    domain = _shop_from(request.args)
    state = secrets.token_urlsafe(32)
    session[STATE_KEY] = {"state": state, "shop": domain}
    return redirect(authorize_url(domain, state, url_for("shopify_oauth.callback", _external=True)))


@bp.get("/shopify/callback")
def callback():
    """Check Shopify's signed answer, exchange the code for tokens and connect the store."""
    _require_admin()
    params = request.args.to_dict()
    expected = session.pop(STATE_KEY, None)  # a nonce serves once, whatever happens next
    if not verify_query_hmac(params, settings.SHOPIFY_API_SECRET or ""):
        abort(400, "The callback's signature does not match or is too old.")
    if not expected or not hmac.compare_digest(params.get("state", ""), expected["state"]):
        abort(403, "This callback does not belong to an installation started here: start again from Settings.")
    domain = _shop_from(params)
    if domain != expected["shop"]:
        abort(403, "The callback is for another store than the one being installed.")
    try:
        tokens = exchange_code(domain, params.get("code", ""))
        # Connecting writes shops and credentials, which the web role may not: this one step uses the writer.
        with session_scope(db.writer_sessions()) as db_session:
            shop = connect_store(session=db_session, domain=domain, oauth_tokens=tokens,
                                 granted_to=[current_user.id], requested_by=current_user.id)
            admin.record(session=db_session, by=current_user.id, action="store.connect", shop_id=shop.id,
                         domain=domain, credential="oauth")
    except (ConnectError, SyncError) as error:
        # The Settings page shows the outcome from the query (Dash pages do not render Flask's flashes).
        message = f"{error} {getattr(error, 'hint', '')}".strip()
        return redirect(f"/settings?{urlencode({'connect_error': message})}")
    return redirect(f"/settings?{urlencode({'connected': domain})}")
