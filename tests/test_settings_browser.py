"""In a real browser: an admin connects a sandbox store, watches its sync to done, then a resync after the token
was revoked fails visibly, on Settings and on the status page; the store is on the overview; a member sees no
settings."""

import pytest
from selenium.common.exceptions import StaleElementReferenceException

import scheduler
import settings
from tests.conftest import wait_for
from tests.web import sign_in

pytestmark = pytest.mark.browser
SHOTS = settings.ROOT / "var" / "screenshots"


def _shot(dash_duo, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    dash_duo.driver.save_screenshot(str(SHOTS / f"{name}.png"))


def _login(dash_duo, email):
    sign_in(dash_duo, email)


@pytest.fixture
def running_scheduler(db_url, monkeypatch):
    monkeypatch.setattr(settings, "SHOPIFY_BULK_POLL_SECONDS", 0.05)
    monkeypatch.setattr(settings, "SETTINGS_POLL_MS", 400)
    service = scheduler.start_in_background(db_url, poll_seconds=0.2, heartbeat_seconds=0.5, reap_seconds=1)
    yield service
    service.stop(grace_seconds=3)


def _bar_text(dash_duo, shop_bar) -> str:
    try:  # the poll re-renders the table under our feet
        bars = dash_duo.find_elements(shop_bar)
        return bars[0].text if bars else ""
    except StaleElementReferenceException:
        return ""


def test_admin_connects_a_store_watches_the_sync_and_sees_it(dash_duo, server, shopify_world, running_scheduler,
                                                             make_user):
    make_user("boss@agency.test", role="admin")
    store = shopify_world.stores[0]
    dash_duo.start_server(server.extensions["dash"], navigate=False)
    _login(dash_duo, "boss@agency.test")
    dash_duo.wait_for_contains_text("#no-stores", "No store connected yet")
    dash_duo.find_element("#go-settings").click()
    dash_duo.wait_for_element("#settings-domain")
    dash_duo.find_element("#settings-domain").send_keys(store["shop_domain"])
    dash_duo.find_element("#settings-token").send_keys(store["access_token"])
    dash_duo.find_element("#settings-connect").click()
    dash_duo.wait_for_contains_text("#settings-connect-feedback", f"Connected {store['shop_domain']}", timeout=20)
    bar = "[id^='settings-progress-']"
    seen = set()

    def done():
        text = _bar_text(dash_duo, bar)
        seen.add(text)
        if text not in ("", "Done") and "during" not in seen:
            seen.add("during")
            _shot(dash_duo, "settings-during-sync")
        return text == "Done"

    wait_for(done, timeout=60, interval=0.2, what="the progress bar to reach Done")
    assert seen - {"", "Done", "during"}, f"the bar never showed a running job: {seen}"
    _shot(dash_duo, "settings-synced")

    # The store's token is revoked at Shopify: a resync from Settings fails, in plain words on the row.
    shopify_world.revoke(store)
    dash_duo.find_element("#settings-store option[value]:not([value=''])").click()
    dash_duo.wait_for_element("#settings-resync-source option[value='shopify']")
    dash_duo.find_element("#settings-resync").click()
    dash_duo.wait_for_contains_text("#settings-store-feedback", "queued")
    wait_for(lambda: _bar_text(dash_duo, bar) == "Failed", timeout=30, interval=0.2, what="the resync to fail")
    dash_duo.wait_for_contains_text("#settings-stores", "Syncing latest changes failed")
    _shot(dash_duo, "settings-after-failure")
    dash_duo.driver.set_window_size(1400, 3000)  # the whole page, once
    _shot(dash_duo, "settings-full-page")
    dash_duo.driver.set_window_size(1400, 1000)
    assert "sync.resync" in dash_duo.find_element("#settings-audit").text

    # The same resync, on the status page: its store is failing, with the error and the hint.
    dash_duo.find_element("a[href^='/status']").click()
    dash_duo.wait_for_contains_text("#history-table", "latest changes", timeout=20)
    dash_duo.wait_for_contains_text("#status-sources", "Failing")
    assert "reconnect the store in Settings" in dash_duo.find_element("#status-sources").text
    _shot(dash_duo, "status-after-settings-resync")

    dash_duo.find_element("a[href^='/?'], a[href='/']").click()
    dash_duo.wait_for_text_to_equal("#page-title", "All stores")
    assert store["name"] in dash_duo.find_element(".store-card").text
    dash_duo.select_dcc_dropdown("#shop", value=store["name"])
    dash_duo.wait_for_text_to_equal("#page-title", store["name"])
    logs = dash_duo.get_logs()
    dash_duo.driver.get("about:blank")  # stop polling before the test's database goes
    assert logs == [], logs


def test_a_member_sees_no_settings(dash_duo, server, make_shop, make_user):
    shop = make_shop("alpha.myshopify.com", "Alpha Outdoor")
    make_user("ana@agency.test", shops=[shop])
    dash_duo.start_server(server.extensions["dash"], navigate=False)
    _login(dash_duo, "ana@agency.test")
    dash_duo.wait_for_text_to_equal("#page-title", "All stores")
    assert not dash_duo.find_elements("a[href^='/settings']")
    dash_duo.driver.get(dash_duo.server.url.rstrip("/") + "/settings")
    dash_duo.wait_for_contains_text("#admins-only", "Settings are for admins")
    assert not dash_duo.find_elements("#settings-page")
    assert dash_duo.get_logs() == []


def test_installing_the_app_through_oauth_shows_its_outcome(dash_duo, server, shopify_world, make_user):
    make_user("boss@agency.test", role="admin")
    store = shopify_world.stores[0]
    dash_duo.start_server(server.extensions["dash"], navigate=False)
    _login(dash_duo, "boss@agency.test")
    dash_duo.wait_for_contains_text("#no-stores", "No store connected yet")
    dash_duo.driver.get(dash_duo.server.url.rstrip("/") + "/settings")
    dash_duo.wait_for_element("#connect-form input[name=shop]").send_keys(store["shop_domain"])
    dash_duo.find_element("#connect-form button[type=submit]").click()
    # The browser goes to Shopify's (the sandbox's) approval, which sends it back to our callback, then here.
    dash_duo.wait_for_contains_text("#connect-result", f"Connected {store['shop_domain']}", timeout=20)
    wait_for(lambda: "shop=all" in dash_duo.driver.current_url, what="the selection in the URL")
    assert dash_duo.find_element("#connect-result").is_displayed()  # still there after the URL was rewritten
    assert dash_duo.get_logs() == []
