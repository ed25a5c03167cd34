"""In a real browser: a sync's progress bar moves and turns to done, a failure offers a retry, a stopped
scheduler brings the banner. The test moves the job itself, as a scheduler would."""

from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import text

import settings
from database import session_scope
from models import SchedulerHeartbeat, SyncEvent, SyncJob

pytestmark = pytest.mark.browser
SHOTS = settings.VAR_DIR / "screenshots"


def _shot(dash_duo, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    dash_duo.driver.save_screenshot(str(SHOTS / f"{name}.png"))


def _execute(sessions, sql, **params):
    with session_scope(sessions) as session:
        session.execute(text(sql), params)


def test_progress_moves_to_done_a_failure_offers_retry_and_a_stopped_scheduler_shows(
        dash_duo, server, make_shop, make_user, scheduler_sessions):
    alpha = make_shop("alpha.myshopify.com", "Alpha Outdoor")
    make_user("ana@agency.test", role="admin", shops=[alpha])
    with session_scope(scheduler_sessions) as session:
        session.add(SchedulerHeartbeat(instance_id="web-test", hostname="worker-1", pid=4242))
        session.add(SyncJob(shop_id=alpha, source="shopify", kind="HISTORICAL_INIT", status="running",
                            progress_done=12, progress_total=100, progress_label="Loading orders 2025-09 to 2025-12",
                            started_at=datetime.now(UTC) - timedelta(seconds=40)))
        session.add(SyncEvent(shop_id=alpha, level="INFO", message="Started a bulk query for orders"))

    dash_duo.start_server(server.extensions["dash"], navigate=False)
    base = dash_duo.server.url.rstrip("/")
    dash_duo.driver.get(base + "/login?next=/status")
    dash_duo.wait_for_element("#login-submit")
    dash_duo.find_element("#email").send_keys("ana@agency.test")
    dash_duo.find_element("#password").send_keys("correct horse")
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_contains_text(".sync-progress", "12%")
    dash_duo.wait_for_contains_text("#sync-indicator", "Syncing 1 store, 12%")

    # The scheduler saves progress; the page follows without a reload, and so does the event log.
    _execute(scheduler_sessions, "UPDATE app_dashboard.sync_jobs SET progress_done = 63")
    with session_scope(scheduler_sessions) as session:
        session.add(SyncEvent(shop_id=alpha, level="WARN", message="Throttled: waiting 2 s"))
    dash_duo.wait_for_contains_text(".sync-progress", "63%")
    dash_duo.wait_for_contains_text("#sync-indicator", "63%")
    dash_duo.wait_for_contains_text("#event-rows", "Throttled: waiting 2 s")
    assert "left" in dash_duo.find_element(".sync-eta").text
    _shot(dash_duo, "status-syncing")

    _execute(scheduler_sessions, "UPDATE app_dashboard.sync_jobs SET status = 'succeeded', progress_done = 100, "
                                 "finished_at = now()")
    dash_duo.wait_for_text_to_equal(".source-state", "Up to date")
    dash_duo.wait_for_contains_text("#sync-indicator", "All stores up to date")
    assert dash_duo.find_elements(".sync-progress") == []

    with session_scope(scheduler_sessions) as session:
        session.add(SyncJob(shop_id=alpha, source="shopify", kind="INCREMENTAL", status="failed", attempts=5,
                            error_class="PermanentError", error_message="ACCESS_DENIED: the token was revoked",
                            error_hint="Reconnect the store in Settings.", started_at=datetime.now(UTC),
                            finished_at=datetime.now(UTC)))
    # Nothing runs now, so the page polls slowly: navigating back to the page checks at once.
    dash_duo.driver.find_element(By.LINK_TEXT, "Overview").click()
    dash_duo.wait_for_element(".store-card")
    dash_duo.find_element("#sync-indicator").click()
    dash_duo.wait_for_text_to_equal(".source-state", "Failing")
    dash_duo.wait_for_contains_text("#sync-indicator", "1 store is failing to sync")
    assert "Reconnect the store in Settings" in dash_duo.find_element(".sync-error").text
    _shot(dash_duo, "status-failed")

    dash_duo.find_element(".source-card button").click()
    dash_duo.wait_for_contains_text("#retry-result", "Retry queued")
    dash_duo.wait_for_text_to_equal(".source-state", "Syncing")
    assert dash_duo.find_elements("#history-table button") == []  # the queued retry replaced the failed job

    _execute(scheduler_sessions, "DELETE FROM app_dashboard.scheduler_heartbeats")
    dash_duo.wait_for_contains_text("#scheduler-banner", "The scheduler is not running: jobs have been waiting since")
    dash_duo.wait_for_contains_text("#sync-indicator", "Sync stopped")
    _shot(dash_duo, "status-scheduler-down")
    logs = dash_duo.get_logs()
    assert logs == [], logs


def test_two_ad_accounts_each_show_their_own_days(dash_duo, server, make_shop, make_user, scheduler_sessions):
    alpha = make_shop("alpha.myshopify.com", "Alpha Outdoor")
    make_user("ana@agency.test", role="admin", shops=[alpha])
    _execute(scheduler_sessions, "INSERT INTO app_dashboard.ad_accounts (shop_id, account_id, name) VALUES "
                                 "(:s, 'act_1', 'Alpha Prospecting'), (:s, 'act_2', 'Alpha Retargeting')", s=alpha)
    for account, first, last in (("act_1", "2025-12-02", "2026-11-30"), ("act_2", "2025-12-01", "2026-11-29")):
        _execute(scheduler_sessions, """
            INSERT INTO core_warehouse.fact_marketing_daily (shop_id, account_id, date, currency, raw)
            SELECT :s, :a, d::date, 'EUR', '{}'
            FROM generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day') d
        """, s=alpha, a=account, first=first, last=last)

    dash_duo.start_server(server.extensions["dash"], navigate=False)
    dash_duo.driver.get(dash_duo.server.url.rstrip("/") + "/login?next=/status")
    dash_duo.wait_for_element("#login-submit")
    dash_duo.find_element("#email").send_keys("ana@agency.test")
    dash_duo.find_element("#password").send_keys("correct horse")
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_element(".meta-coverage")
    assert [line.text for line in dash_duo.find_elements(".meta-coverage")] == [
        "Alpha Prospecting\n364 days · 2 Dec 2025 – 30 Nov 2026",
        "Alpha Retargeting\n364 days · 1 Dec 2025 – 29 Nov 2026"]
    assert "728" not in dash_duo.find_element("#status-sources").text
    _shot(dash_duo, "status-two-ad-accounts")
    assert dash_duo.get_logs() == []
