"""Shopify credentials: shop domains, the token grants, the OAuth query signature, and stored tokens that renew.

Three kinds of credential (reference/shopify.md section 5): a legacy custom app's `shpat_` token (never
expires), a Dev Dashboard app's client id and secret (client credentials grant, a token of about a day), and
a public app's OAuth install (authorization code grant with `expiring=1`: an hour's token and a refresh
token that rotates on every use).
"""

import hashlib
import hmac
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import requests
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

import settings
from database import session_scope
from ingest import crypto
from ingest.errors import PermanentError, TransientError
from ingest.shopify.client import ShopifyClient, http_session
from models import Shop, ShopCredential

SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
REFRESH_HINT = "Shopify no longer accepts the store's refresh token: reconnect it in Settings."
CLIENT_HINT = "Check the app's client ID and secret in the Shopify Dev Dashboard, then connect the store again."


def normalize_domain(text: str) -> str:
    """Return the shop's `name.myshopify.com` from what a person typed; ValueError if it cannot be one."""
    value = (text or "").strip().lower()
    if "://" in value:
        value = urlsplit(value).hostname or ""
    value = value.split("/", 1)[0].rstrip(".")
    if not value:
        raise ValueError("Enter the store's address, e.g. my-store.myshopify.com.")
    if "." not in value:
        value += ".myshopify.com"
    if not value.endswith(".myshopify.com"):
        raise ValueError(f"{text.strip()!r} is not a myshopify.com address: use the store's permanent "
                         "my-store.myshopify.com domain (Shopify admin > Settings > Domains).")
    if not SHOP_DOMAIN.match(value):
        raise ValueError(f"{text.strip()!r} is not a valid store address: it may hold only letters, digits "
                         "and hyphens before .myshopify.com.")
    return value


def oauth_url(domain: str, endpoint: str) -> str:
    """Where a shop's OAuth endpoint (authorize, access_token) lives."""
    return settings.SHOPIFY_OAUTH_URL.format(shop=domain, endpoint=endpoint)


@dataclass(frozen=True)
class Tokens:
    """What Shopify's token endpoint answered."""

    access_token: str
    scopes: tuple[str, ...] = ()
    expires_at: datetime | None = None
    refresh_token: str | None = None
    refresh_expires_at: datetime | None = None


def _in(seconds) -> datetime | None:
    return datetime.now(UTC) + timedelta(seconds=int(seconds)) if seconds else None


def _token_request(domain: str, form: dict, *, refused: str, hint: str) -> Tokens:
    """POST the token endpoint; a 4xx is permanent (with `hint`), a network error or 5xx transient."""
    try:
        response = http_session(retries=2).post(oauth_url(domain, "access_token"), json=form,
                                                timeout=settings.SHOPIFY_TIMEOUT_SECONDS)
    except requests.RequestException as error:
        raise TransientError(f"{domain}: {type(error).__name__}: {error}") from error
    if response.status_code >= 500:
        raise TransientError(f"{domain}: Shopify's token endpoint answered {response.status_code}")
    if response.status_code != 200:
        raise PermanentError(f"{domain}: {refused} ({response.status_code} {response.text[:200]})", hint=hint)
    body = response.json()
    return Tokens(access_token=body["access_token"],
                  scopes=tuple(s for s in (body.get("scope") or "").split(",") if s),
                  expires_at=_in(body.get("expires_in")), refresh_token=body.get("refresh_token"),
                  refresh_expires_at=_in(body.get("refresh_token_expires_in")))


def request_client_credentials(domain: str, client_id: str, client_secret: str) -> Tokens:
    """A Dev Dashboard app's token for a store of its own organisation (client credentials grant)."""
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
    return _token_request(domain, form, refused="Shopify refused the client ID and secret", hint=CLIENT_HINT)


def exchange_code(domain: str, code: str, *, client_id: str | None = None, client_secret: str | None = None) -> Tokens:
    """The public app's expiring offline token and refresh token for an authorization code."""
    form = {"client_id": client_id or settings.SHOPIFY_API_KEY,
            "client_secret": client_secret or settings.SHOPIFY_API_SECRET, "code": code, "expiring": "1"}
    return _token_request(domain, form, refused="Shopify refused the authorization code",
                          hint="Start the installation again from Settings.")


def refresh(domain: str, refresh_token: str, *, client_id: str, client_secret: str) -> Tokens:
    """A new access token and the rotated refresh token (the old one dies once the new one is used)."""
    form = {"grant_type": "refresh_token", "client_id": client_id, "client_secret": client_secret,
            "refresh_token": refresh_token}
    return _token_request(domain, form, refused="Shopify refused the refresh token", hint=REFRESH_HINT)


def authorize_url(domain: str, state: str, redirect_uri: str) -> str:
    """Where to send the merchant to approve the public app: offline access, expiring tokens."""
    query = {"client_id": settings.SHOPIFY_API_KEY, "scope": ",".join(settings.SHOPIFY_SCOPES),
             "redirect_uri": redirect_uri, "state": state, "expiring": "1"}
    return f"{oauth_url(domain, 'authorize')}?{urlencode(query)}"


def query_signature(params: dict[str, str], secret: str) -> str:
    """Shopify's hex HMAC-SHA256 over the sorted `k=v` pairs joined by `&`, hmac and signature left out."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in ("hmac", "signature"))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify_query_hmac(params: dict[str, str], secret: str, *, now: float | None = None,
                      tolerance: float = settings.SHOPIFY_HMAC_TOLERANCE_SECONDS) -> bool:
    """True when Shopify signed this query with `secret` recently (an old signed link is not replayable)."""
    given = params.get("hmac") or ""
    if not secret or not hmac.compare_digest(query_signature(params, secret), given):
        return False
    try:
        timestamp = float(params.get("timestamp", ""))
    except ValueError:
        return False
    return abs((time.time() if now is None else now) - timestamp) <= tolerance


def is_expiring(expires_at: datetime | None) -> bool:
    """True when a token expires within SHOPIFY_TOKEN_RENEW_SECONDS (never for a token without expiry)."""
    if expires_at is None:
        return False
    return expires_at - datetime.now(UTC) <= timedelta(seconds=settings.SHOPIFY_TOKEN_RENEW_SECONDS)


def renew_credential(credential: ShopCredential, domain: str) -> str | None:
    """Ask Shopify for a new token and write it to the (locked) row; None when this kind cannot renew."""
    secret = crypto.decrypt(credential.client_secret_enc) if credential.client_secret_enc else None
    if credential.kind == "client_credentials":
        tokens = request_client_credentials(domain, credential.client_id, secret)
    elif credential.kind == "oauth" and credential.refresh_token_enc:
        tokens = refresh(domain, crypto.decrypt(credential.refresh_token_enc), client_id=credential.client_id,
                         client_secret=secret)
    else:
        return None
    credential.access_token_enc = crypto.encrypt(tokens.access_token)
    credential.expires_at = tokens.expires_at
    if tokens.refresh_token:  # rotation: the new refresh token replaces the old one
        credential.refresh_token_enc = crypto.encrypt(tokens.refresh_token)
        credential.refresh_expires_at = tokens.refresh_expires_at
    if tokens.scopes:
        credential.scopes = ",".join(tokens.scopes)
    credential.updated_at = datetime.now(UTC)
    return tokens.access_token


class CredentialTokens:
    """A shop's stored token for ShopifyClient: renewed before it expires, once per shop however many ask."""

    def __init__(self, sessions: sessionmaker, shop_id: int):
        self.sessions = sessions
        self.shop_id = shop_id
        self._token: str | None = None
        self._expires_at: datetime | None = None
        self._lock = threading.Lock()

    def token(self) -> str:
        """The access token, renewed first when it is about to expire."""
        with self._lock:
            if self._token is None or is_expiring(self._expires_at):
                self._load(force=False)
            return self._token

    def renew(self) -> str | None:
        """A new token after Shopify refused ours (401); None when the credential cannot renew."""
        with self._lock:
            refused = self._token
            if self._load(force=True, refused=refused) == refused:
                return None
            return self._token

    def _load(self, *, force: bool, refused: str | None = None) -> str:
        with session_scope(self.sessions) as session:
            credential, domain = self._read(session, lock=False)
            current = crypto.decrypt(credential.access_token_enc)
            if (force and current != refused) or (not force and not is_expiring(credential.expires_at)):
                return self._keep(current, credential.expires_at)
            # Refresh tokens rotate: one refresh at a time per shop, so lock the row and look again, since
            # whoever held the lock before us may have renewed it already.
            credential, domain = self._read(session, lock=True)
            current = crypto.decrypt(credential.access_token_enc)
            if (force and current != refused) or (not force and not is_expiring(credential.expires_at)):
                return self._keep(current, credential.expires_at)
            fresh = renew_credential(credential, domain)
            if fresh is None:
                return self._keep(current, credential.expires_at)
            expires_at = credential.expires_at
        # Committed (session_scope) before anyone uses it: a crash now cannot lose the rotated refresh token.
        return self._keep(fresh, expires_at)

    def _read(self, session, *, lock: bool) -> tuple[ShopCredential, str]:
        statement = (select(ShopCredential, Shop.shop_domain).join(Shop, Shop.id == ShopCredential.shop_id)
                     .where(ShopCredential.shop_id == self.shop_id))
        if lock:
            statement = statement.with_for_update(of=ShopCredential).execution_options(populate_existing=True)
        row = session.execute(statement).first()
        if row is None:
            raise PermanentError(f"shop {self.shop_id} has no Shopify credential",
                                 hint="Connect the store in Settings.")
        return row[0], row[1]

    def _keep(self, token: str, expires_at: datetime | None) -> str:
        self._token, self._expires_at = token, expires_at
        return token


def client_for_shop(sessions: sessionmaker, shop_id: int) -> ShopifyClient:
    """The Admin API client of a connected shop, with its stored token (used by the sync jobs)."""
    with session_scope(sessions) as session:
        domain = session.scalar(select(Shop.shop_domain).where(Shop.id == shop_id))
    if domain is None:
        raise PermanentError(f"shop {shop_id} does not exist", hint="The store was removed: nothing to sync.")
    return ShopifyClient(domain, CredentialTokens(sessions, shop_id))
