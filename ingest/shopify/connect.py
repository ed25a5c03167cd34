"""Connecting a store: check the credential, save the shop and its encrypted secrets, grant it, register
webhooks, set the incremental cursors and queue the first syncs.

Every path ends here: the OAuth callback, `flask shops connect` and the embedded default's demo stores.
The compliance webhooks (customers/data_request, customers/redact, shop/redact) are not registered here:
Shopify takes them only from the app's configuration (`compliance_topics` in shopify.app.toml).
"""

import logging
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

import settings
from ingest import crypto, jobs
from ingest.errors import PermanentError, SyncError
from ingest.shopify import queries, signing
from ingest.shopify.auth import Tokens, normalize_domain, request_client_credentials
from ingest.shopify.client import ShopifyClient, StaticToken
from models import Shop, ShopCredential, SyncCursor, User, UserShop

log = logging.getLogger(__name__)

CURSOR_RESOURCES = ("orders", "customers", "products")
# RECENT first: its few days of orders put charts on screen within seconds; the bulk history follows.
FIRST_SYNCS = (("RECENT", 20), ("HISTORICAL_INIT", 10))


class ConnectError(ValueError):
    """The store could not be connected; the message is meant for the person connecting it."""


def connect_store(*, session: Session, domain: str, access_token: str | None = None, client_id: str | None = None,
                  client_secret: str | None = None, oauth_tokens: Tokens | None = None,
                  webhook_secret: str | None = None, granted_to: tuple[int, ...] | list[int] = (),
                  requested_by: int | None = None) -> Shop:
    """Connect (or reconnect) a store with one kind of credential; nothing is saved unless Shopify accepts it."""
    try:
        domain = normalize_domain(domain)
    except ValueError as error:
        raise ConnectError(str(error)) from error
    kind, tokens, client_id, client_secret = _obtain_tokens(domain, access_token, client_id, client_secret,
                                                            oauth_tokens)
    client = ShopifyClient(domain, StaticToken(tokens.access_token))
    info = _check_shop(client)
    shop = _save_shop(session, domain, info["shop"])
    _save_credential(session, shop.id, kind=kind, tokens=tokens, client_id=client_id, client_secret=client_secret,
                     webhook_secret=webhook_secret, scopes=_granted_scopes(info))
    _grant(session, shop.id, granted_to)
    _register_webhooks(session, client, shop.id)
    _init_cursors(session, shop.id)
    for kind_name, priority in FIRST_SYNCS:
        jobs.enqueue(session=session, shop_id=shop.id, source="shopify", kind=kind_name, priority=priority,
                     params={"days": settings.SHOPIFY_RECENT_DAYS} if kind_name == "RECENT" else {},
                     requested_by=requested_by)
    jobs.record_event(session=session, level="INFO", shop_id=shop.id,
                      message=f"Connected {domain} ({kind.replace('_', ' ')})")
    return shop


def _obtain_tokens(domain: str, access_token, client_id, client_secret, oauth_tokens) -> tuple:
    """(kind, tokens, client id, client secret) from exactly one kind of credential."""
    given = [access_token is not None, client_id is not None or client_secret is not None, oauth_tokens is not None]
    if sum(given) != 1:
        raise ConnectError("Give exactly one credential: an access token, a client ID and secret, or OAuth tokens.")
    if access_token is not None:
        if not access_token.strip():
            raise ConnectError("The access token is empty.")
        return "admin_token", Tokens(access_token=access_token.strip()), None, None
    if oauth_tokens is not None:
        return "oauth", oauth_tokens, settings.SHOPIFY_API_KEY, settings.SHOPIFY_API_SECRET
    if not client_id or not client_secret:
        raise ConnectError("Give both the client ID and the client secret.")
    try:
        tokens = request_client_credentials(domain, client_id.strip(), client_secret.strip())
    except SyncError as error:
        raise ConnectError(f"Shopify refused the client ID and secret for {domain}: {error.hint}") from error
    return "client_credentials", tokens, client_id.strip(), client_secret.strip()


def _check_shop(client: ShopifyClient) -> dict:
    """The shop's details and the token's scopes; ConnectError if Shopify refuses it or a scope is missing."""
    try:
        info = client.execute(queries.SHOP)
    except PermanentError as error:
        if "(401)" in str(error) or "(403)" in str(error):
            raise ConnectError(f"Shopify refused this token for {client.shop_domain}: check that it belongs to "
                               "this store and was not revoked.") from error
        raise ConnectError(f"Shopify did not accept the connection: {error} {error.hint}") from error
    except SyncError as error:
        raise ConnectError(f"Shopify could not be reached, try again in a minute: {error}") from error
    missing = _missing_scopes(_granted_scopes(info))
    if missing:
        raise ConnectError(f"This token lacks the access scope(s) {', '.join(missing)}: add them to the app's "
                           "configuration in Shopify, approve the update on the store, then connect again.")
    return info


def _granted_scopes(info: dict) -> tuple[str, ...]:
    return tuple(s["handle"] for s in ((info.get("currentAppInstallation") or {}).get("accessScopes") or []))


def _missing_scopes(granted: tuple[str, ...]) -> list[str]:
    # A write scope implies its read scope (write_orders covers read_orders).
    have = set(granted) | {s.replace("write_", "read_", 1) for s in granted}
    return [s for s in settings.SHOPIFY_SCOPES if s not in have]


def _save_shop(session: Session, domain: str, details: dict) -> Shop:
    """Insert the shop, or update it on reconnect (active again, its old reason cleared)."""
    shop = session.scalar(select(Shop).where(Shop.shop_domain == domain).with_for_update())
    if shop is None:
        shop = Shop(shop_domain=domain)
        session.add(shop)
    shop.name = details["name"]
    shop.currency = details["currencyCode"]
    shop.iana_timezone = details["ianaTimezone"]
    shop.plan = (details.get("plan") or {}).get("publicDisplayName")
    shop.shopify_gid = details["id"]
    shop.status, shop.status_reason = "active", None
    shop.updated_at = datetime.now(UTC)
    session.flush()
    return shop


def _encrypted(value: str | None) -> str | None:
    return crypto.encrypt(value) if value else None


def _save_credential(session: Session, shop_id: int, *, kind: str, tokens: Tokens, client_id: str | None,
                     client_secret: str | None, webhook_secret: str | None, scopes: tuple[str, ...]) -> None:
    """Replace the shop's credential; every secret encrypted."""
    credential = session.get(ShopCredential, shop_id) or ShopCredential(shop_id=shop_id)
    credential.kind = kind
    credential.access_token_enc = crypto.encrypt(tokens.access_token)
    credential.refresh_token_enc = _encrypted(tokens.refresh_token)
    credential.client_id = client_id
    credential.client_secret_enc = _encrypted(client_secret)
    credential.scopes = ",".join(scopes or tokens.scopes)
    credential.expires_at = tokens.expires_at
    credential.refresh_expires_at = tokens.refresh_expires_at
    credential.webhook_secret_enc = _encrypted(webhook_secret)
    credential.updated_at = datetime.now(UTC)
    session.add(credential)
    session.flush()
    signing.save_key(session=session, shop_id=shop_id, secret=webhook_secret or client_secret)


def _grant(session: Session, shop_id: int, granted_to) -> None:
    """Row-level security shows a shop only to users granted it: every admin, and whoever was named."""
    users = set(session.scalars(select(User.id).where(User.role == "admin"))) | set(granted_to)
    if users:
        rows = [{"user_id": user_id, "shop_id": shop_id} for user_id in sorted(users)]
        session.execute(insert(UserShop).values(rows).on_conflict_do_nothing())


def _register_webhooks(session: Session, client: ShopifyClient, shop_id: int) -> None:
    """Subscribe the topics not yet subscribed; a failure is logged, since INCREMENTAL syncs catch up anyway."""
    if not settings.WEBHOOK_BASE_URL:
        return
    uri = f"{settings.WEBHOOK_BASE_URL.rstrip('/')}/webhooks/shopify"
    try:
        listed = client.execute(queries.WEBHOOK_LIST)["webhookSubscriptions"]["nodes"]
        existing = {(s["topic"], s["uri"]) for s in listed}
        problems = []
        for topic in settings.SHOPIFY_WEBHOOK_TOPICS:
            if (topic, uri) not in existing:
                answer = client.execute(queries.WEBHOOK_CREATE, {"topic": topic, "uri": uri})
                problems += [f"{topic}: {e['message']}" for e in answer["webhookSubscriptionCreate"]["userErrors"]]
    except SyncError as error:
        problems = [str(error)]
    if problems:
        log.warning("%s: webhooks not registered: %s", client.shop_domain, "; ".join(problems))
        jobs.record_event(session=session, level="WARN", shop_id=shop_id,
                          message="Some webhooks could not be registered; syncs still catch up on a schedule",
                          details={"problems": problems})


def _init_cursors(session: Session, shop_id: int) -> None:
    """Incremental syncs start from now (RECENT and HISTORICAL_INIT cover the past); kept if already set."""
    rows = [{"shop_id": shop_id, "source": "shopify", "resource": r, "cursor_at": datetime.now(UTC)}
            for r in CURSOR_RESOURCES]
    session.execute(insert(SyncCursor).values(rows).on_conflict_do_nothing())
