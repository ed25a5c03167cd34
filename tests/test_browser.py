"""In a real browser (Debian's chromium): log in, see the shell, switch store, navigate, reload, log out."""

import re

import pytest

import settings

pytestmark = pytest.mark.browser
SHOTS = settings.ROOT / "screenshots"


@pytest.fixture
def dash_app(server, make_shop, make_user):
    alpha = make_shop("alpha.myshopify.com", "Alpha Outdoor", currency="EUR", timezone="Europe/Paris")
    beta = make_shop("beta.myshopify.com", "Beta Beauty", currency="USD", timezone="America/New_York")
    make_user("ana@agency.test", role="admin", shops=[alpha, beta])
    return server.extensions["dash"], alpha


def _shot(dash_duo, name):
    SHOTS.mkdir(exist_ok=True)
    dash_duo.driver.save_screenshot(str(SHOTS / f"{name}.png"))


def test_login_shell_switch_store_navigate_reload_logout(dash_duo, dash_app):
    app, alpha = dash_app
    dash_duo.start_server(app, navigate=False)  # the gate shows the login page, not Dash's entry point
    base = dash_duo.server.url.rstrip("/")
    dash_duo.driver.get(base + "/")
    dash_duo.wait_for_element("#login-submit")
    assert "/login" in dash_duo.driver.current_url
    _shot(dash_duo, "login")

    dash_duo.find_element("#email").send_keys("ana@agency.test")
    dash_duo.find_element("#password").send_keys("correct horse")
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_text_to_equal("#page-title", "All stores")
    assert "ana@agency.test" in dash_duo.find_element("#current-user").text
    assert len(dash_duo.find_elements(".store-card")) == 2
    _shot(dash_duo, "shell")

    _choose_store(dash_duo, "Alpha Outdoor")
    dash_duo.wait_for_text_to_equal("#page-title", "Alpha Outdoor")
    assert f"shop={alpha}" in dash_duo.driver.current_url
    _shot(dash_duo, "shell-alpha")

    dash_duo.find_element("a[href^='/settings']").click()
    dash_duo.wait_for_element("#settings-page")
    dash_duo.find_element("a[href^='/?']").click()
    dash_duo.wait_for_text_to_equal("#page-title", "Alpha Outdoor")

    dash_duo.driver.refresh()
    dash_duo.wait_for_text_to_equal("#page-title", "Alpha Outdoor")
    assert re.search(r"shop=\d+", dash_duo.driver.current_url)

    dash_duo.find_element("#logout").click()
    dash_duo.wait_for_element("#login-submit")
    dash_duo.driver.get(base + "/")
    dash_duo.wait_for_element("#login-submit")
    assert dash_duo.get_logs() == []


def _choose_store(dash_duo, name):
    dash_duo.select_dcc_dropdown("#shop", value=name)
    dash_duo.wait_for_contains_text("#shop", name)


def test_an_admin_with_no_store_is_sent_to_settings(dash_duo, server, make_user):
    make_user("boss@agency.test", role="admin")
    dash_duo.start_server(server.extensions["dash"], navigate=False)
    dash_duo.driver.get(dash_duo.server.url.rstrip("/") + "/login")
    dash_duo.wait_for_element("#login-submit")
    dash_duo.find_element("#email").send_keys("boss@agency.test")
    dash_duo.find_element("#password").send_keys("wrong password")
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_contains_text("#login-error", "Wrong email or password")
    _shot(dash_duo, "login-error")
    dash_duo.find_element("#password").send_keys("correct horse")
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_contains_text("#no-stores", "No store connected yet")
    _shot(dash_duo, "no-stores")
    dash_duo.find_element("#go-settings").click()
    dash_duo.wait_for_contains_text("#settings-page", "boss@agency.test")
    _shot(dash_duo, "settings")
    logs = dash_duo.get_logs()
    assert logs == [], logs
