"""Shop domains, the token grants, the OAuth query signature, and stored tokens renewed once per shop."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

import settings
from database import session_scope
from ingest import crypto
from ingest.errors import PermanentError
from ingest.shopify import queries
from ingest.shopify.auth import (
    REFRESH_HINT,
    CredentialTokens,
    authorize_url,
    client_for_shop,
    exchange_code,
    normalize_domain,
    query_signature,
    request_client_credentials,
    verify_query_hmac,
)
from ingest.shopify.connect import connect_store
from models import ShopCredential
from tests.conftest import scalar


@pytest.mark.parametrize("typed", ["my-store", " My-Store.myshopify.com ", "https://my-store.myshopify.com/admin",
                                   "my-store.myshopify.com/", "http://MY-STORE.myshopify.com"])
def test_normalize_domain_accepts_what_people_type(typed):
    assert normalize_domain(typed) == "my-store.myshopify.com"


@pytest.mark.parametrize("typed,says", [("example.com", "not a myshopify.com address"),
                                        ("https://shop.example.com/", "not a myshopify.com address"),
                                        ("my store", "not a valid store address"),
                                        ("my_store.myshopify.com", "not a valid store address"),
                                        ("-store.myshopify.com", "not a valid store address"),
                                        ("", "Enter the store's address"),
                                        ("   ", "Enter the store's address")])
def test_normalize_domain_refuses_typos_and_other_domains(typed, says):
    with pytest.raises(ValueError, match=says):
        normalize_domain(typed)


def test_query_hmac_verifies_only_a_fresh_untampered_query():
    params = {"code": "abc", "shop": "my-store.myshopify.com", "state": "n", "timestamp": str(int(time.time()))}
    signed = params | {"hmac": query_signature(params, "secret")}
    assert verify_query_hmac(signed, "secret")
    assert not verify_query_hmac(signed, "other secret")
    assert not verify_query_hmac(signed | {"shop": "evil.myshopify.com"}, "secret")
    assert not verify_query_hmac(params, "secret")  # no hmac at all
    assert not verify_query_hmac(signed, "secret", now=time.time() + settings.SHOPIFY_HMAC_TOLERANCE_SECONDS + 5)


def test_authorize_url_asks_for_the_scopes_and_expiring_tokens(monkeypatch):
    monkeypatch.setattr(settings, "SHOPIFY_API_KEY", "app-key")
    url = authorize_url("my-store.myshopify.com", "nonce", "https://app.test/shopify/callback")
    assert "/my-store.myshopify.com/admin/oauth/authorize?" in url
    assert "client_id=app-key" in url and "expiring=1" in url and "state=nonce" in url
    assert "scope=" + "%2C".join(settings.SHOPIFY_SCOPES) in url


def test_client_credentials_grant(shopify_world):
    store = shopify_world.stores[0]
    tokens = request_client_credentials(store["shop_domain"], store["client_id"], store["client_secret"])
    assert tokens.access_token.startswith("shpat_") and tokens.expires_at > datetime.now(UTC) + timedelta(hours=23)
    with pytest.raises(PermanentError, match="refused the client ID and secret"):
        request_client_credentials(store["shop_domain"], store["client_id"], "wrong")


def test_the_authorization_code_is_exchanged_once_for_expiring_tokens(shopify_world):
    store = shopify_world.stores[0]
    code = shopify_world.authorize(store)["code"]
    tokens = exchange_code(store["shop_domain"], code)
    assert tokens.refresh_token.startswith("shprt_") and tokens.expires_at < datetime.now(UTC) + timedelta(hours=2)
    with pytest.raises(PermanentError, match="authorization code"):
        exchange_code(store["shop_domain"], code)


def _connect_oauth(shopify_world, sessions) -> int:
    store = shopify_world.stores[0]
    tokens = exchange_code(store["shop_domain"], shopify_world.authorize(store)["code"])
    with session_scope(sessions) as session:
        return connect_store(session=session, domain=store["shop_domain"], oauth_tokens=tokens).id


def _expire_soon(sessions, shop_id) -> None:
    with session_scope(sessions) as session:
        session.execute(update(ShopCredential).where(ShopCredential.shop_id == shop_id)
                        .values(expires_at=datetime.now(UTC) + timedelta(seconds=30)))


def _stored(sessions, shop_id) -> ShopCredential:
    with session_scope(sessions) as session:
        return session.get(ShopCredential, shop_id)


def test_an_expiring_token_is_renewed_before_use_and_the_rotated_refresh_token_saved(shopify_world, scheduler_sessions):
    shop_id = _connect_oauth(shopify_world, scheduler_sessions)
    before = _stored(scheduler_sessions, shop_id)
    tokens = CredentialTokens(scheduler_sessions, shop_id)
    assert tokens.token() == crypto.decrypt(before.access_token_enc)  # not expiring: no renewal
    _expire_soon(scheduler_sessions, shop_id)
    fresh = CredentialTokens(scheduler_sessions, shop_id).token()
    after = _stored(scheduler_sessions, shop_id)
    assert fresh != crypto.decrypt(before.access_token_enc) and fresh == crypto.decrypt(after.access_token_enc)
    assert crypto.decrypt(after.refresh_token_enc) != crypto.decrypt(before.refresh_token_enc)
    assert after.expires_at > datetime.now(UTC) + timedelta(minutes=50)


def test_two_threads_renewing_at_once_refresh_once_and_share_the_token(shopify_world, scheduler_sessions):
    shop_id = _connect_oauth(shopify_world, scheduler_sessions)
    _expire_soon(scheduler_sessions, shop_id)
    issued = shopify_world.issued_tokens(shopify_world.stores[0])
    start = threading.Barrier(2)
    got = []

    def use_token():
        source = CredentialTokens(scheduler_sessions, shop_id)  # one per thread, as two processes would have
        start.wait()
        got.append(source.token())

    threads = [threading.Thread(target=use_token) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 2 and got[0] == got[1]
    assert shopify_world.issued_tokens(shopify_world.stores[0]) == issued + 1
    assert client_for_shop(scheduler_sessions, shop_id).execute(queries.SHOP)["shop"]["myshopifyDomain"]


def test_a_refused_refresh_token_is_a_permanent_error_with_a_hint(shopify_world, scheduler_sessions):
    shop_id = _connect_oauth(shopify_world, scheduler_sessions)
    with session_scope(scheduler_sessions) as session:
        session.execute(update(ShopCredential).where(ShopCredential.shop_id == shop_id)
                        .values(refresh_token_enc=crypto.encrypt("shprt_unknown")))
    _expire_soon(scheduler_sessions, shop_id)
    with pytest.raises(PermanentError) as raised:
        client_for_shop(scheduler_sessions, shop_id).execute(queries.SHOP)
    assert raised.value.hint == REFRESH_HINT


def test_a_revoked_client_credentials_token_is_renewed_after_the_401(shopify_world, scheduler_sessions):
    store = shopify_world.stores[0]
    with session_scope(scheduler_sessions) as session:
        shop_id = connect_store(session=session, domain=store["shop_domain"], client_id=store["client_id"],
                                client_secret=store["client_secret"]).id
    old = crypto.decrypt(_stored(scheduler_sessions, shop_id).access_token_enc)
    client = client_for_shop(scheduler_sessions, shop_id)
    client.execute(queries.SHOP)
    shopify_world.revoke(store)
    assert client.execute(queries.SHOP)["shop"]["name"] == store["name"]
    assert crypto.decrypt(_stored(scheduler_sessions, shop_id).access_token_enc) != old


def test_a_revoked_custom_app_token_cannot_renew(shopify_world, scheduler_sessions):
    store = shopify_world.stores[1]
    with session_scope(scheduler_sessions) as session:
        shop_id = connect_store(session=session, domain=store["shop_domain"], access_token=store["access_token"]).id
    shopify_world.revoke(store)
    with pytest.raises(PermanentError, match="refused the access token"):
        client_for_shop(scheduler_sessions, shop_id).execute(queries.SHOP)
    assert scalar(scheduler_sessions, "SELECT kind FROM app_dashboard.shop_credentials") == "admin_token"
