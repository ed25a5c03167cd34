"""Pages rendered through Dash's router over HTTP, as the browser asks for them."""

import json

import pytest

from tests.web import callback, login


def _render(client, path, search=""):
    response = callback(client, "_pages_content.children",
                        {"_pages_location.pathname": path, "_pages_location.search": search})
    assert response.status_code == 200
    return json.dumps(response.get_json(), ensure_ascii=False)


@pytest.mark.parametrize("role,link", [("admin", True), ("member", False)])
def test_with_no_store_the_overview_says_so(client, make_user, role, link):
    make_user("ana@agency.test", role=role)
    login(client, "ana@agency.test")
    page = _render(client, "/")
    assert "No store connected yet" in page
    assert ("go-settings" in page) is link


def test_overview_shows_the_period_and_its_comparison(client, make_shop, make_user):
    shop = make_shop("alpha.myshopify.com", "Alpha Outdoor")
    make_user("ana@agency.test", shops=[shop])
    login(client, "ana@agency.test")
    page = _render(client, "/", "?shop=all&preset=custom&start=2026-03-01&end=2026-03-31&compare=previous_period")
    assert "1 Mar – 31 Mar 2026" in page and "compared with 29 Jan – 28 Feb 2026" in page
    assert "Alpha Outdoor" in page


def test_an_unknown_page_is_not_found(client, make_user):
    make_user("ana@agency.test")
    login(client, "ana@agency.test")
    assert "404" in _render(client, "/nowhere")


def test_settings_shows_the_connect_form_and_the_callbacks_result(client, make_user, monkeypatch):
    import settings

    make_user("boss@agency.test", role="admin")
    login(client, "boss@agency.test")
    assert "shops connect DOMAIN" in _render(client, "/settings")
    monkeypatch.setattr(settings, "SHOPIFY_API_KEY", "key")
    monkeypatch.setattr(settings, "SHOPIFY_API_SECRET", "secret")
    page = _render(client, "/settings", "?connected=alpha.myshopify.com")
    assert "connect-form" in page and "/shopify/install" in page
    assert "Connected alpha.myshopify.com" in page
    assert "Shopify refused" in _render(client, "/settings", "?connect_error=Shopify+refused+this+token")
