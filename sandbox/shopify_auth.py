"""The credential paths of 2026, as Shopify serves them: custom-app tokens, client credentials, OAuth code grant.

- Legacy custom-app tokens (`shpat_...`): the store spec's own token, never expiring.
- Client credentials grant (Dev Dashboard apps): `POST /admin/oauth/access_token` with
  `grant_type=client_credentials`; the token lasts about a day.
- Authorization code grant (public apps): `/admin/oauth/authorize` redirects back with `code`, `state`, `shop`,
  `timestamp` and a hex `hmac`; the code is exchanged for a token; with `expiring=1` the offline token lasts
  an hour and comes with a refresh token that rotates on every use (the previous one stays valid until the
  new one is used, as since 2026-08-28).
Facts: ../shared/reference/shopify.md section 5.
"""

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

CLIENT_CREDENTIALS_LIFETIME = timedelta(hours=24)
EXPIRING_OFFLINE_LIFETIME = timedelta(hours=1)
REFRESH_LIFETIME = timedelta(days=90)


def query_hmac(params: dict[str, str], secret: str) -> str:
    """Shopify's OAuth query signature: hex HMAC-SHA256 of the sorted `k=v` pairs joined by `&`, hmac excluded."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in ("hmac", "signature"))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


@dataclass
class Grant:
    shop: str
    scopes: tuple[str, ...]
    expires_at: datetime | None = None


@dataclass
class RefreshToken:
    shop: str
    scopes: tuple[str, ...]
    expires_at: datetime
    replaced_by: str | None = None


@dataclass
class Credentials:
    """Every token the sandbox has issued, and the codes and refresh tokens waiting to be used."""

    now: Callable[[], datetime]
    tokens: dict[str, Grant] = field(default_factory=dict)
    codes: dict[str, tuple[str, tuple[str, ...], bool]] = field(default_factory=dict)  # code -> shop, scopes, expiring
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)

    def grant(self, token: str | None) -> Grant | None:
        """The live grant behind a token, or None (unknown, expired or revoked: Shopify answers 401)."""
        found = self.tokens.get(token or "")
        if found is None or token in self.revoked:
            return None
        if found.expires_at is not None and self.now() >= found.expires_at:
            return None
        return found

    def issue(self, shop: str, scopes: tuple[str, ...], lifetime: timedelta | None) -> tuple[str, int | None]:
        token = "shpat_" + secrets.token_hex(16)
        expires = self.now() + lifetime if lifetime else None
        self.tokens[token] = Grant(shop, scopes, expires)
        return token, int(lifetime.total_seconds()) if lifetime else None

    def authorize_redirect(self, *, shop: str, secret: str, redirect_uri: str, state: str, scopes: tuple[str, ...],
                           expiring: bool) -> str:
        """Where the merchant's approval sends the browser: the app's redirect URI with a signed query."""
        code = secrets.token_hex(16)
        self.codes[code] = (shop, scopes, expiring)
        params = {"code": code, "shop": shop, "state": state, "timestamp": str(int(self.now().timestamp())),
                  "host": secrets.token_urlsafe(12)}
        params["hmac"] = query_hmac(params, secret)
        return f"{redirect_uri}?{urlencode(params)}"

    def exchange_code(self, shop: str, code: str, *, expiring: bool) -> dict | None:
        found = self.codes.pop(code, None)
        if found is None or found[0] != shop:
            return None
        expiring = expiring or found[2]
        token, expires_in = self.issue(shop, found[1], EXPIRING_OFFLINE_LIFETIME if expiring else None)
        answer = {"access_token": token, "scope": ",".join(found[1])}
        if expiring:
            answer |= {"expires_in": expires_in, **self._new_refresh(shop, found[1])}
        return answer

    def refresh(self, shop: str, refresh_token: str) -> dict | None:
        found = self.refresh_tokens.get(refresh_token)
        if found is None or found.shop != shop or self.now() >= found.expires_at:
            return None
        # Rotation: a refresh token dies once its replacement is used, not before, so an app whose
        # refresh answer was lost can still use the old one.
        for older in [t for t, r in self.refresh_tokens.items() if r.replaced_by == refresh_token]:
            del self.refresh_tokens[older]
        token, expires_in = self.issue(shop, found.scopes, EXPIRING_OFFLINE_LIFETIME)
        rotated = self._new_refresh(shop, found.scopes)
        found.replaced_by = rotated["refresh_token"]
        return {"access_token": token, "scope": ",".join(found.scopes), "expires_in": expires_in, **rotated}

    def _new_refresh(self, shop: str, scopes: tuple[str, ...]) -> dict:
        refresh_token = "shprt_" + secrets.token_hex(16)
        self.refresh_tokens[refresh_token] = RefreshToken(shop, scopes, self.now() + REFRESH_LIFETIME)
        return {"refresh_token": refresh_token, "refresh_token_expires_in": int(REFRESH_LIFETIME.total_seconds())}
