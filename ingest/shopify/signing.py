"""Webhook signatures: the scheduler stores each shop's signing key; the web asks PostgreSQL yes or no.

Shopify signs a webhook's body with the app's client secret (or a custom app's webhook secret), which can also
mint Admin API tokens, so the web never reads it: the key lies in app_dashboard.webhook_keys, which only the
SECURITY DEFINER function app_dashboard.verify_webhook reads (migration 0006).
"""

import base64
import hashlib
import hmac

from sqlalchemy import text
from sqlalchemy.orm import Session

import settings

SAVE_KEY = ("INSERT INTO app_dashboard.webhook_keys (shop_id, key) VALUES (:s, :k) "
            "ON CONFLICT (shop_id) DO UPDATE SET key = EXCLUDED.key, updated_at = now()")


def save_key(*, session: Session, shop_id: int, secret: str | None) -> None:
    """Store (or forget, given None) the key the shop's webhooks are signed with; as the scheduler role."""
    if secret:
        session.execute(text(SAVE_KEY), {"s": shop_id, "k": secret.encode()})
    else:
        session.execute(text("DELETE FROM app_dashboard.webhook_keys WHERE shop_id = :s"), {"s": shop_id})


def is_signed(*, session: Session, domain: str, raw_body: bytes, header: str | None) -> bool:
    """Whether `header` signs the raw body with the shop's key (checked in PostgreSQL) or the public app's."""
    if not header or not domain:
        return False
    public = settings.SHOPIFY_API_SECRET  # the web holds it anyway, for the OAuth flow
    if public and verify(raw_body, header, [public]):
        return True
    return bool(session.execute(text("SELECT app_dashboard.verify_webhook(:d, :b, :h)"),
                                {"d": domain, "b": raw_body, "h": header.strip()}).scalar())


def verify(raw_body: bytes, header: str | None, secrets: list[str]) -> bool:
    """Whether `header` is the base64 HMAC-SHA256 of the raw body under any of the secrets (rotation)."""
    if not header or not secrets:
        return False
    given = header.strip().encode()
    matches = [hmac.compare_digest(base64.b64encode(hmac.new(s.encode(), raw_body, hashlib.sha256).digest()), given)
               for s in secrets]  # every secret is tried, so the time taken says nothing about which matched
    return any(matches)
