"""The OAuth install over HTTP: our routes, the sandbox's authorize redirect, and forged callbacks refused."""

import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

import settings
from ingest.shopify.auth import query_signature
from tests.conftest import scalar
from tests.web import login


def _install(client, shop: str) -> str:
    """Start the install; return the state nonce our app sent to Shopify."""
    response = client.get(f"/shopify/install?shop={shop}")
    assert response.status_code == 302
    return response.headers["Location"]


def _approve(authorize: str) -> str:
    """The merchant approves on (shopify_world) Shopify, which redirects the browser to our callback."""
    response = requests.get(authorize, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/shopify/callback"
    return f"{location.path}?{location.query}"


def _query(path: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}


def _signed(params: dict) -> str:
    params = params | {"timestamp": str(int(time.time()))}
    return "/shopify/callback?" + urlencode(params | {"hmac": query_signature(params, settings.SHOPIFY_API_SECRET)})


def _shops(sessions) -> int:
    return scalar(sessions, "SELECT count(*) FROM app_dashboard.shops")


@pytest.fixture
def admin(client, make_user):
    make_user("boss@agency.test", role="admin")
    login(client, "boss@agency.test")
    return client


def test_install_then_callback_connects_the_store(shopify_world, admin, owner_sessions):
    store = shopify_world.stores[0]
    authorize = _install(admin, store["shop_domain"])
    assert authorize.startswith(f"{shopify_world.base_url}/shopify/{store['shop_domain']}/admin/oauth/authorize?")
    assert _query(authorize)["redirect_uri"] == "http://localhost/shopify/callback"
    response = admin.get(_approve(authorize))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/settings?connected={store['shop_domain']}"
    assert _shops(owner_sessions) == 1
    assert scalar(owner_sessions, "SELECT kind FROM app_dashboard.shop_credentials") == "oauth"
    assert scalar(owner_sessions, "SELECT count(*) FROM app_dashboard.sync_jobs") == 2


def test_a_replayed_callback_is_refused(shopify_world, admin, owner_sessions):
    callback = _approve(_install(admin, shopify_world.stores[0]["shop_domain"]))
    assert admin.get(callback).status_code == 302
    assert admin.get(callback).status_code == 403  # the nonce served once


def test_a_callback_with_a_bad_hmac_is_refused(shopify_world, admin, owner_sessions):
    callback = _approve(_install(admin, shopify_world.stores[0]["shop_domain"]))
    params = _query(callback)
    params["hmac"] = "0" * 64
    assert admin.get("/shopify/callback?" + urlencode(params)).status_code == 400
    assert _shops(owner_sessions) == 0


def test_a_callback_with_another_state_is_refused(shopify_world, admin, owner_sessions):
    callback = _approve(_install(admin, shopify_world.stores[0]["shop_domain"]))
    forged = _query(callback) | {"state": "guessed"}
    del forged["hmac"]
    assert admin.get(_signed(forged)).status_code == 403
    assert _shops(owner_sessions) == 0


def test_a_callback_for_another_shop_is_refused(shopify_world, admin, owner_sessions):
    callback = _approve(_install(admin, shopify_world.stores[0]["shop_domain"]))
    forged = _query(callback) | {"shop": shopify_world.stores[1]["shop_domain"]}
    del forged["hmac"]
    assert admin.get(_signed(forged)).status_code == 403
    assert _shops(owner_sessions) == 0


def test_a_callback_without_an_install_started_here_is_refused(shopify_world, admin, owner_sessions):
    params = {"code": "abc", "shop": shopify_world.stores[0]["shop_domain"], "state": "nonce"}
    assert admin.get(_signed(params)).status_code == 403
    assert _shops(owner_sessions) == 0


def test_members_may_not_install(shopify_world, client, make_user):
    make_user("ana@agency.test")
    login(client, "ana@agency.test")
    assert client.get(f"/shopify/install?shop={shopify_world.stores[0]['shop_domain']}").status_code == 403
    assert client.get("/shopify/callback?shop=x").status_code == 403


def test_logged_out_callers_are_sent_to_login(client):
    response = client.get("/shopify/callback?shop=my-store.myshopify.com&code=abc")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


def test_install_needs_the_app_configured_and_a_valid_shop(admin, monkeypatch):
    monkeypatch.setattr(settings, "SHOPIFY_API_KEY", "key")
    monkeypatch.setattr(settings, "SHOPIFY_API_SECRET", "secret")
    response = admin.get("/shopify/install?shop=example.com")
    assert response.status_code == 400 and b"myshopify.com" in response.data
    monkeypatch.setattr(settings, "SHOPIFY_API_KEY", None)
    response = admin.get("/shopify/install?shop=my-store")
    assert response.status_code == 400 and b"SHOPIFY_API_KEY" in response.data


def test_a_store_that_grants_too_little_is_not_connected(shopify_world, admin, owner_sessions, monkeypatch):
    monkeypatch.setattr(settings, "SHOPIFY_SCOPES", (*settings.SHOPIFY_SCOPES, "read_inventory"))
    response = admin.get(_approve(_install(admin, shopify_world.stores[0]["shop_domain"])))
    assert response.status_code == 302
    assert "read_inventory" in _query(response.headers["Location"])["connect_error"]
    assert _shops(owner_sessions) == 0
