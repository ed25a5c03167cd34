"""Sessions end when they should: logout, a password change and "sign out everywhere" end every cookie."""

import json
from datetime import UTC, datetime, timedelta

import time_machine

from tests.conftest import scalar
from tests.web import csrf_token, login


def _browser_with(server, cookie_name: str, value: str):
    """A fresh browser holding only this cookie, as a copy saved by an attacker would be."""
    browser = server.test_client()
    browser.set_cookie(cookie_name, value)
    return browser


def _click_sign_out(client, user_id: int):
    """POST the "Sign out everywhere" button's callback as Dash's renderer does for a click in the users table."""
    spec = next(d for d in client.get("/_dash-dependencies").get_json() if "settings-sign-out" in d["inputs"][0]["id"])
    button = {"type": "settings-sign-out", "user": user_id}
    outputs = [{"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1].split("@")[0]}
               for part in spec["output"].strip(".").split("...")]
    body = {"output": spec["output"], "outputs": outputs, "state": [],
            "inputs": [[{"id": button, "property": "n_clicks", "value": 1}]],
            "changedPropIds": [json.dumps(button, separators=(",", ":"), sort_keys=True) + ".n_clicks"]}
    headers = {"Content-Type": "application/json", "X-CSRFToken": client.get_cookie("_csrf_token").value}
    return client.post("/_dash-update-component", data=json.dumps(body), headers=headers)


def test_a_session_cookie_saved_before_logout_gets_the_login_page_after_it(client, server, make_user):
    make_user("ana@agency.test")
    login(client, "ana@agency.test")
    saved = client.get_cookie("session").value
    assert _browser_with(server, "session", saved).get("/_dash-layout").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    copy = _browser_with(server, "session", saved)
    assert copy.get("/_dash-layout").status_code == 401
    page = copy.get("/settings")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")


def test_logout_ends_the_remember_me_cookie_and_other_browsers(server, make_user):
    make_user("ana@agency.test")
    laptop, phone = server.test_client(), server.test_client()
    login(laptop, "ana@agency.test", remember=True)
    login(phone, "ana@agency.test")
    remembered = laptop.get_cookie("remember_token").value
    laptop.post("/logout", data={"csrf_token": csrf_token(laptop)})
    assert _browser_with(server, "remember_token", remembered).get("/_dash-layout").status_code == 401
    assert phone.get("/_dash-layout").status_code == 401


def test_after_a_password_change_the_old_remember_cookie_is_refused(server, make_user):
    make_user("ana@agency.test")
    browser = server.test_client()
    login(browser, "ana@agency.test", remember=True)
    remembered = browser.get_cookie("remember_token").value
    assert _browser_with(server, "remember_token", remembered).get("/_dash-layout").status_code == 200
    result = server.test_cli_runner().invoke(
        args=["users", "set-password", "--email", "ana@agency.test", "--password", "a brand new password"])
    assert result.exit_code == 0, result.output
    assert _browser_with(server, "remember_token", remembered).get("/_dash-layout").status_code == 401
    assert browser.get("/_dash-layout").status_code == 401


def test_sign_out_everywhere_ends_another_browsers_session(server, make_user, scheduler_sessions):
    make_user("boss@agency.test", role="admin")
    ana = make_user("ana@agency.test")
    admin, other = server.test_client(), server.test_client()
    login(admin, "boss@agency.test")
    login(other, "ana@agency.test", remember=True)
    remembered = other.get_cookie("remember_token").value
    answer = _click_sign_out(admin, ana)
    assert "ana@agency.test is signed out everywhere" in answer.get_data(as_text=True)
    assert other.get("/_dash-layout").status_code == 401
    assert _browser_with(server, "remember_token", remembered).get("/_dash-layout").status_code == 401
    assert admin.get("/_dash-layout").status_code == 200
    assert scalar(scheduler_sessions, "SELECT action FROM app_dashboard.audit_log") == "user.sign_out"
    assert login(other, "ana@agency.test").status_code == 302  # she can sign in again


def test_remember_me_lasts_remember_days_even_if_the_cookie_is_kept(server, make_user):
    make_user("ana@agency.test")
    signed_in = datetime(2026, 3, 1, 9, tzinfo=UTC)
    with time_machine.travel(signed_in, tick=False):
        browser = server.test_client()
        login(browser, "ana@agency.test", remember=True)
        cookie = browser.get_cookie("remember_token")
        assert cookie.expires - signed_in == timedelta(days=30)
    with time_machine.travel(signed_in + timedelta(days=29), tick=False):
        assert _browser_with(server, "remember_token", cookie.value).get("/_dash-layout").status_code == 200
    with time_machine.travel(signed_in + timedelta(days=30, seconds=1), tick=False):
        assert _browser_with(server, "remember_token", cookie.value).get("/_dash-layout").status_code == 401


def test_each_login_gets_its_own_remember_cookie(server, make_user):
    make_user("ana@agency.test")
    cookies = []
    for day in (1, 2):
        with time_machine.travel(datetime(2026, 3, day, 9, tzinfo=UTC), tick=False):
            browser = server.test_client()
            login(browser, "ana@agency.test", remember=True)
            cookies.append(browser.get_cookie("remember_token").value)
    assert cookies[0] != cookies[1]
