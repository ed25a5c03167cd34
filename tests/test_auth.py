"""The gate, login and logout, CSRF, and RLS through hand-crafted Dash callbacks over HTTP."""

import json

import pytest

from tests.web import callback, csrf_token, login

DASH_ENDPOINTS = [
    ("GET", "/_dash-layout"),
    ("GET", "/_dash-dependencies"),
    ("POST", "/_dash-update-component"),
    ("GET", "/_reload-hash"),
    ("GET", "/_dash-component-suites/dash/deps/react@18.3.1.min.js"),
]


@pytest.mark.parametrize("method,path", DASH_ENDPOINTS)
def test_dash_endpoints_answer_401_when_logged_out(client, method, path):
    response = client.open(path, method=method, json={})
    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/", "/settings", "/no-such-page?shop=1"])
def test_pages_redirect_to_login_when_logged_out(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", ["/login", "/healthz", "/vendor/bootstrap/css/bootstrap.min.css", "/assets/app.css"])
def test_public_routes_need_no_login(client, path):
    assert client.get(path).status_code == 200


def test_login_then_logout(client, make_user):
    make_user("ana@agency.test")
    response = login(client, "ana@agency.test", next_path="/settings")
    assert (response.status_code, response.headers["Location"]) == (302, "/settings")
    assert client.get("/_dash-layout").status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/login")})
    assert response.status_code == 302
    assert client.get("/_dash-layout").status_code == 401


def test_login_is_case_insensitive_on_email_and_refuses_a_wrong_password(client, make_user):
    make_user("Ana@Agency.test")
    wrong = login(client, "ana@agency.test", "wrong password")
    assert "Wrong email or password" in wrong.get_data(as_text=True)
    assert client.get("/_dash-layout").status_code == 401
    assert login(client, "ANA@agency.test").status_code == 302


def test_unknown_email_gets_the_same_answer_as_a_wrong_password(client):
    response = login(client, "nobody@agency.test")
    assert response.status_code == 200 and "Wrong email or password" in response.get_data(as_text=True)


def test_failed_attempts_make_that_address_wait(client, make_user):
    make_user("ana@agency.test")
    for _ in range(5):
        assert "Wrong email or password" in login(client, "ana@agency.test", "guess").get_data(as_text=True)
    waiting = login(client, "ana@agency.test")  # even the right password, while it waits
    assert waiting.status_code == 429 and "Too many failed attempts" in waiting.get_data(as_text=True)
    assert client.get("/_dash-layout").status_code == 401


def test_next_cannot_send_the_user_to_another_site(client, make_user):
    make_user("ana@agency.test")
    for target in ("https://evil.test/", "//evil.test/x", "javascript:alert(1)"):
        client.post("/logout", data={"csrf_token": csrf_token(client)})
        assert login(client, "ana@agency.test", next_path=target).headers["Location"] == "/"


def test_remember_me_sets_a_lasting_cookie_only_when_asked(client, server, make_user):
    make_user("ana@agency.test")
    login(client, "ana@agency.test")
    assert client.get_cookie("remember_token") is None
    other = server.test_client()
    login(other, "ana@agency.test", remember=True)
    cookie = other.get_cookie("remember_token")
    assert cookie is not None and cookie.http_only and cookie.expires is not None


def test_login_form_needs_its_csrf_token(client, make_user):
    make_user("ana@agency.test")
    response = client.post("/login", data={"email": "ana@agency.test", "password": "correct horse"})
    assert response.status_code == 400


def test_logout_needs_csrf(client, make_user):
    make_user("ana@agency.test")
    login(client, "ana@agency.test")
    assert client.post("/logout").status_code == 400
    assert client.get("/_dash-layout").status_code == 200


def test_dash_callbacks_need_the_csrf_header(client, make_shop, make_user):
    shop = make_shop()
    make_user("ana@agency.test", shops=[shop])
    login(client, "ana@agency.test")
    assert callback(client, "_pages_content.children", {"_pages_location.pathname": "/"}, csrf=False
                    ).status_code == 400
    assert callback(client, "_pages_content.children", {"_pages_location.pathname": "/"}).status_code == 200


@pytest.fixture
def two_tenants(make_shop, make_user):
    """Ana sees Alpha; Bo sees Beta."""
    alpha = make_shop("alpha.myshopify.com", "Alpha Outdoor")
    beta = make_shop("beta.myshopify.com", "Beta Beauty")
    make_user("ana@agency.test", shops=[alpha])
    make_user("bo@agency.test", shops=[beta])
    return alpha, beta


def test_the_page_never_renders_a_shop_the_user_was_not_granted(client, two_tenants):
    alpha, beta = two_tenants
    login(client, "ana@agency.test")
    own = callback(client, "_pages_content.children",
                   {"_pages_location.pathname": "/", "_pages_location.search": f"?shop={alpha}"})
    assert "Alpha Outdoor" in own.get_data(as_text=True)
    response = callback(client, "_pages_content.children",
                        {"_pages_location.pathname": "/", "_pages_location.search": f"?shop={beta}"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "no-access" in body
    assert "Beta" not in body and "beta.myshopify.com" not in body


def test_the_selector_callback_never_echoes_a_foreign_shop(client, two_tenants):
    alpha, beta = two_tenants
    login(client, "ana@agency.test")
    response = callback(client, "shop.value", {"shop.value": str(beta), "preset.value": "last_7",
                                               "compare.value": "none", "_pages_location.search": ""})
    result = json.loads(response.get_data(as_text=True))["response"]
    assert result["shop"]["value"] == "all"
    assert result["_pages_location"]["search"].startswith("?shop=all")


def test_the_shell_lists_only_granted_shops(client, two_tenants):
    login(client, "bo@agency.test")
    layout = client.get("/_dash-layout").get_data(as_text=True)
    assert "Beta Beauty" in layout and "Alpha" not in layout


def test_settings_render_for_admins_only(client, make_user):
    make_user("boss@agency.test", role="admin")
    make_user("ana@agency.test")
    login(client, "ana@agency.test")
    member = callback(client, "_pages_content.children", {"_pages_location.pathname": "/settings"})
    assert "admins-only" in member.get_data(as_text=True)
    assert "boss@agency.test" not in member.get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    login(client, "boss@agency.test")
    admin = callback(client, "_pages_content.children", {"_pages_location.pathname": "/settings"})
    assert "ana@agency.test" in admin.get_data(as_text=True)
