"""In a real browser: an admin signs a member out everywhere from the Settings users table."""

import pytest
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    NoSuchElementException,
    StaleElementReferenceException,
)

import settings
from tests.conftest import scalar, wait_for
from tests.web import login

pytestmark = pytest.mark.browser


def _click(dash_duo, selector) -> bool:
    """Scroll to the element and click it; False while the page is still laying itself out under it."""
    try:
        element = dash_duo.find_element(selector)
        dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()
    except (ElementClickInterceptedException, StaleElementReferenceException, NoSuchElementException):
        return False
    return True


def test_an_admin_signs_a_member_out_everywhere_from_settings(dash_duo, server, make_user, scheduler_sessions):
    make_user("boss@agency.test", role="admin")
    ana = make_user("ana@agency.test")
    elsewhere = server.test_client()  # Ana, signed in with "remember me" in another browser
    login(elsewhere, "ana@agency.test", remember=True)
    assert elsewhere.get("/_dash-layout").status_code == 200
    dash_duo.start_server(server.extensions["dash"], navigate=False)
    dash_duo.driver.get(dash_duo.server.url.rstrip("/") + "/login?next=/settings")
    dash_duo.wait_for_element("#login-submit")
    dash_duo.find_element("#email").send_keys("boss@agency.test")
    dash_duo.find_element("#password").send_keys("correct horse")
    dash_duo.find_element("#login-submit").click()
    wait_for(lambda: _click(dash_duo, f"#settings-users-table button[id*='\"user\":{ana}']"),
             timeout=40, what="the Sign out everywhere button to take a click")
    dash_duo.wait_for_contains_text("#settings-users-feedback", "ana@agency.test is signed out everywhere",
                                    timeout=30)
    settings.ROOT.joinpath("var", "screenshots").mkdir(parents=True, exist_ok=True)
    dash_duo.driver.save_screenshot(str(settings.ROOT / "var" / "screenshots" / "sign-out-everywhere.png"))
    assert elsewhere.get("/_dash-layout").status_code == 401
    assert scalar(scheduler_sessions, "SELECT action FROM app_dashboard.audit_log") == "user.sign_out"
    dash_duo.wait_for_contains_text("#settings-audit", "user.sign_out", timeout=30)
    assert dash_duo.get_logs() == []
