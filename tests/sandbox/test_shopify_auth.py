"""The 2026 credential paths end to end over HTTP: client credentials, OAuth code grant, rotating refresh."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from sandbox.shopify_auth import query_hmac
from tests.sandbox.conftest import gql

TOKEN_URL = "/shopify/tiny.myshopify.com/admin/oauth/access_token"
CLIENT = {"client_id": "tiny-client-id", "client_secret": "tiny-client-secret"}


def test_client_credentials_give_a_token_of_about_a_day(client, now):
    answer = client.post(TOKEN_URL, data=CLIENT | {"grant_type": "client_credentials"}).get_json()
    assert answer["access_token"].startswith("shpat_") and answer["expires_in"] == 86400
    assert gql(client, "{ shop { name } }", token=answer["access_token"])[0] == 200
    now.value += timedelta(hours=24)
    assert gql(client, "{ shop { name } }", token=answer["access_token"])[0] == 401


@pytest.mark.parametrize("form", [CLIENT | {"client_secret": "wrong", "grant_type": "client_credentials"},
                                  {"grant_type": "client_credentials"}])
def test_bad_client_credentials_are_refused(client, form):
    response = client.post(TOKEN_URL, data=form)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_client"


def _authorize(client, scope="read_orders,read_all_orders,write_everything", expiring=True):
    response = client.get("/shopify/tiny.myshopify.com/admin/oauth/authorize", query_string={
        "client_id": "tiny-client-id", "scope": scope, "redirect_uri": "https://app.example/callback",
        "state": "nonce-123", "expiring": "1" if expiring else "0"})
    assert response.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def test_oauth_code_grant_with_signed_callback_and_expiring_token(client, now):
    callback = _authorize(client)
    assert callback["state"] == "nonce-123" and callback["shop"] == "tiny.myshopify.com"
    assert callback["hmac"] == query_hmac(callback, "tiny-client-secret")
    answer = client.post(TOKEN_URL, json=CLIENT | {"code": callback["code"], "expiring": 1}).get_json()
    assert answer["scope"] == "read_orders,read_all_orders"  # only what the store granted
    assert answer["expires_in"] == 3600 and answer["refresh_token"].startswith("shprt_")
    assert gql(client, "{ shop { name } }", token=answer["access_token"])[0] == 200
    again = client.post(TOKEN_URL, json=CLIENT | {"code": callback["code"]})  # a code is single-use
    assert again.status_code == 400 and again.get_json() == {"error": "invalid_grant"}
    now.value += timedelta(hours=1)
    assert gql(client, "{ shop { name } }", token=answer["access_token"])[0] == 401


def test_refresh_tokens_rotate_and_the_old_one_dies_once_the_new_one_is_used(client):
    callback = _authorize(client)
    first = client.post(TOKEN_URL, json=CLIENT | {"code": callback["code"], "expiring": 1}).get_json()
    refresh = CLIENT | {"grant_type": "refresh_token"}
    second = client.post(TOKEN_URL, json=refresh | {"refresh_token": first["refresh_token"]}).get_json()
    assert second["refresh_token"] != first["refresh_token"]
    # the answer could have been lost: the old refresh token still works until its replacement is used
    retry = client.post(TOKEN_URL, json=refresh | {"refresh_token": first["refresh_token"]})
    assert retry.status_code == 200
    third = client.post(TOKEN_URL, json=refresh | {"refresh_token": retry.get_json()["refresh_token"]})
    assert third.status_code == 200
    dead = client.post(TOKEN_URL, json=refresh | {"refresh_token": first["refresh_token"]})
    assert dead.status_code == 400 and dead.get_json() == {"error": "invalid_grant"}


def test_install_link_calls_the_app_with_a_signed_query(client):
    response = client.get("/shopify/tiny.myshopify.com/install", query_string={"app_url": "https://app.example/"})
    query = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}
    assert query["shop"] == "tiny.myshopify.com" and query["hmac"] == query_hmac(query, "tiny-client-secret")
