"""dashboard.status: badges, ETA, plain-words errors and the navbar's words, from facts alone."""

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from dashboard import status

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def job(status_="succeeded", **fields):
    values = dict(id=1, shop_id=1, source="shopify", kind="INCREMENTAL", status=status_, error_class=None,
                  error_message=None, error_hint=None, progress_done=0, progress_total=None, progress_label="",
                  started_at=None, finished_at=None)
    return SimpleNamespace(**values | fields)


def state(jobs, *, shop_status="active", last_success=NOW - timedelta(minutes=5), interval=600):
    return status.derive_state(shop_status=shop_status, jobs=jobs, last_success_at=last_success,
                               interval_seconds=interval, now=NOW).state


@pytest.mark.parametrize("jobs,shop_status,last_success,expected", [
    ([job()], "active", NOW - timedelta(minutes=5), status.UP_TO_DATE),
    ([job("running")], "active", None, status.SYNCING),
    ([job("queued")], "active", None, status.SYNCING),
    ([job("failed", error_class="PermanentError")], "active", NOW, status.FAILING),
    ([job("queued", error_class="TransientError")], "active", NOW, status.FAILING),  # retrying
    ([job()], "active", NOW - timedelta(minutes=21), status.DELAYED),  # older than 2 x 10 min
    ([], "active", None, status.DELAYED),  # never synced, nothing queued
    ([job("running")], "paused", NOW, status.PAUSED),
    ([job("failed")], "disconnected", NOW, status.DISCONNECTED),
])
def test_state_badge(jobs, shop_status, last_success, expected):
    assert state(jobs, shop_status=shop_status, last_success=last_success) == expected


def test_running_wins_over_an_older_failure_and_keeps_both():
    result = status.derive_state(shop_status="active", jobs=[job("failed", id=2), job("running", id=3)],
                                 last_success_at=NOW, interval_seconds=600, now=NOW)
    assert result.state == status.SYNCING and result.running.id == 3 and result.failed.id == 2
    assert result.colour == "primary"


def test_eta_from_the_rate_so_far():
    started = NOW - timedelta(seconds=60)
    assert status.eta_seconds(done=25, total=100, started_at=started, now=NOW) == 180
    assert status.eta_seconds(done=0, total=100, started_at=started, now=NOW) is None
    assert status.eta_seconds(done=5, total=None, started_at=started, now=NOW) is None
    assert status.format_eta(180) == "about 3 min left"
    assert status.format_eta(20) == "less than a minute left"
    assert status.format_eta(None) == "estimating time left…"


@pytest.mark.parametrize("done,total,expected", [(63, 100, 63), (0, 0, None), (5, None, None), (150, 100, 100)])
def test_progress_percent(done, total, expected):
    assert status.progress_percent(done, total) == expected


@pytest.mark.parametrize("seconds,words", [(45, "45 s"), (180, "3 min"), (7500, "2 h 5 min"), (3600, "1 h"),
                                           (3 * 86400 + 4 * 3600, "3 d 4 h")])
def test_format_duration(seconds, words):
    assert status.format_duration(seconds) == words


def test_errors_in_plain_words_with_their_hint():
    words = status.describe_error("PermanentError", "ACCESS_DENIED: token revoked", "Reconnect the store.")
    assert words == ("The sync stopped and will not retry by itself: ACCESS_DENIED: token revoked. "
                     "Reconnect the store.")
    assert status.describe_error("KeyError", None, None) == "The sync failed."
    assert status.describe_error(None, None, None) == ""


@pytest.mark.parametrize("syncing,percent,failing,words,colour", [
    (2, 63, 0, "Syncing 2 stores, 63%", "info"),
    (1, None, 1, "Syncing 1 store", "info"),
    (0, None, 1, "1 store is failing to sync", "warning"),
    (0, None, 0, "All stores up to date", "success"),
])
def test_indicator_text(syncing, percent, failing, words, colour):
    assert status.indicator_text(syncing=syncing, percent=percent, failing=failing) == (words, colour)


def test_the_indicator_never_says_up_to_date_when_stores_are_behind_or_nothing_syncs():
    assert status.indicator_text(syncing=0, percent=None, failing=0, delayed=2) == (
        "2 stores are behind schedule", "warning")
    assert status.indicator_text(syncing=1, percent=40, failing=0, scheduler_running=False) == (
        "Sync stopped", "danger")


def test_overall_percent_weighs_by_size():
    jobs = [job("running", progress_done=90, progress_total=100), job("running", progress_done=0,
                                                                      progress_total=900), job("running")]
    assert status.overall_percent(jobs) == 9
    assert status.overall_percent([job("running")]) is None


def test_scheduler_banner_says_since_when_jobs_wait():
    waiting = datetime(2026, 11, 29, 11, 5, tzinfo=UTC)
    paris = ZoneInfo("Europe/Paris")
    assert status.scheduler_banner(fresh=1, oldest_queued_at=waiting, timezone=paris) is None
    assert status.scheduler_banner(fresh=0, oldest_queued_at=waiting, timezone=paris) == (
        "The scheduler is not running: jobs have been waiting since 12:05.")
    assert status.scheduler_banner(fresh=0, oldest_queued_at=None, timezone=paris) == "The scheduler is not running."


def test_version_warnings_well_before_retirement(monkeypatch):
    monkeypatch.setattr("settings.SHOPIFY_API_VERSION_RETIRES", "2027-01-01")
    monkeypatch.setattr("settings.META_API_RETIRES_ON", "2027-07-29")
    assert status.retirement_warnings(today=date(2026, 9, 1)) == []
    assert "in 31 days" in status.retirement_warnings(today=date(2026, 12, 1))[0]
    assert "1 days ago" in status.retirement_warnings(today=date(2027, 1, 2))[0]
    assert "Meta retires Marketing API v26.0 in 29 days" in status.retirement_warnings(today=date(2027, 6, 30))[1]
    assert "Meta retires Marketing API v26.0 3 days ago" in status.retirement_warnings(today=date(2027, 8, 1))[1]


def test_summarise_lists_shopify_always_and_meta_once_linked():
    shop = SimpleNamespace(shop_id=1, name="Alpha", status="active", status_reason=None, sync_interval_minutes=10,
                           has_meta=True,
                           shopify_order_count=200, warehouse_order_count=199, completeness_checked_at=NOW)
    coverage = [SimpleNamespace(shop_id=1, account_id="act_1", name="Alpha Ads", days=30, first_day=date(2026, 10, 31),
                                last_day=date(2026, 11, 29), synced_at=NOW)]
    running = job("running", progress_done=50, progress_total=200, started_at=NOW - timedelta(seconds=10))
    summaries = status.summarise(shops=[shop], latest_jobs=[running], last_successes={}, freshness={},
                                 coverage=coverage, now=NOW)
    assert [(s.source, s.state.state) for s in summaries] == [("shopify", "syncing"), ("meta", "delayed")]
    shopify, meta = summaries
    assert (shopify.percent, shopify.eta) == (25, 30)
    assert shopify.completeness["percent"] == 99.5
    assert meta.to_json()["completeness"] == {"accounts": [{
        "account_id": "act_1", "name": "Alpha Ads", "days": 30, "first_day": "2026-10-31", "last_day": "2026-11-29"}]}
    assert shopify.to_json()["running_job"]["percent"] == 25
