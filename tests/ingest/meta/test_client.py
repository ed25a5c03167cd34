"""The Graph API client: usage headers, pacing, error classes (pure), then the same over HTTP against the sandbox."""

import json

import pytest

import settings
from ingest.errors import PermanentError, ThrottledError, TransientError
from ingest.meta.client import (
    PERMISSION_HINT,
    TOKEN_HINT,
    MetaClient,
    ReduceDataError,
    StartTooOldError,
    Usage,
    classify,
    pause_seconds,
    read_usage,
)

REDUCE = "Please reduce the amount of data you're asking for, then retry your request"


def test_read_usage_takes_the_highest_percentage_and_the_longest_wait():
    headers = {
        # Meta's published example, plus a second business object
        "X-Business-Use-Case-Usage": json.dumps({
            "66782684": [{"type": "ads_management", "call_count": 95, "total_cputime": 20, "total_time": 20,
                          "estimated_time_to_regain_access": 0}],
            "2001": [{"type": "ads_insights", "call_count": 10, "total_cputime": 12, "total_time": 3,
                      "estimated_time_to_regain_access": 4}]}),
        "X-Ad-Account-Usage": json.dumps({"acc_id_util_pct": 40, "reset_time_duration": 300}),
        "X-FB-Ads-Insights-Throttle": json.dumps({"app_id_util_pct": 7, "acc_id_util_pct": 3}),
    }
    assert read_usage(headers) == Usage(95, 240)  # regain is in minutes
    full = {"X-Ad-Account-Usage": json.dumps({"acc_id_util_pct": 100, "reset_time_duration": 120})}
    assert read_usage(full) == Usage(100, 120)  # reset_time_duration is in seconds
    assert read_usage({"X-Ad-Account-Usage": "not json"}) == Usage(0, 0)


def test_pause_grows_between_the_slow_and_stop_thresholds(monkeypatch):
    monkeypatch.setattr(settings, "META_USAGE_PAUSE_SECONDS", 10.0)
    assert pause_seconds(Usage(60)) == 0
    assert pause_seconds(Usage(75)) == 0
    assert pause_seconds(Usage(85)) == pytest.approx(5)
    assert pause_seconds(Usage(95)) == pytest.approx(10)


@pytest.mark.parametrize("status,error,expected", [
    (400, {"code": 190, "error_subcode": 463}, PermanentError),
    (400, {"code": 190, "error_subcode": 467}, PermanentError),
    (400, {"code": 10}, PermanentError),
    (403, {"code": 200}, PermanentError),
    (400, {"code": 294}, PermanentError),
    (400, {"code": 4, "error_subcode": 1504022}, ThrottledError),
    (400, {"code": 17, "error_subcode": 2446079}, ThrottledError),
    (400, {"code": 32}, ThrottledError),
    (400, {"code": 613, "error_subcode": 1487742}, ThrottledError),
    (400, {"code": 80000}, ThrottledError),
    (400, {"code": 80014}, ThrottledError),
    (500, {"code": 1, "message": REDUCE}, ReduceDataError),
    (400, {"code": 100, "error_subcode": 1504018}, ReduceDataError),
    (400, {"code": 2, "error_subcode": 1504038}, ReduceDataError),
    (500, {"code": 1, "error_subcode": 99, "message": "An unknown error occurred"}, TransientError),
    (503, {"code": 2, "is_transient": True}, TransientError),
    (400, {"code": 1, "error_subcode": 1504043}, TransientError),
    (502, {"code": 12345}, TransientError),
    (400, {"code": 3018}, StartTooOldError),
    (400, {"code": 100, "error_subcode": 33}, PermanentError),
])
def test_classify_follows_metas_codes(status, error, expected):
    found = classify(status, error, Usage())
    assert type(found) is expected
    if error["code"] == 190:
        assert found.hint == TOKEN_HINT == "The Meta token expired: reconnect it in Settings"
    if error["code"] in (10, 200, 294):
        assert found.hint == PERMISSION_HINT


def test_throttling_waits_what_meta_says_or_a_default():
    assert classify(400, {"code": 17}, Usage(100, 180)).retry_after == 180
    assert classify(400, {"code": 17}, Usage(100, 0)).retry_after == settings.META_THROTTLE_DEFAULT_SECONDS


# -- over HTTP --------------------------------------------------------------------------------------------


@pytest.fixture
def spec(store):
    return store.spec.ad_accounts[0]


def _client(spec, sleeps=None):
    return MetaClient(spec.access_token, sleep=(sleeps.append if sleeps is not None else lambda s: None))


def test_reads_a_node_and_pages_with_the_pinned_version(spec):
    client = _client(spec)
    node = client.get(spec.account_id, {"fields": "name,currency,timezone_name"})
    assert (node["name"], node["currency"], node["timezone_name"]) == (spec.name, spec.currency, spec.iana_timezone)
    assert client.root.endswith("/meta/v26.0")
    pages = list(client.pages(f"{spec.account_id}/campaigns", {"fields": "id,name", "limit": "2"}))
    assert len(pages) >= 2 and all(len(p) <= 2 for p in pages)
    assert client.usage.pct > 0  # read from the answers' headers


def test_transient_errors_are_retried_with_backoff(spec, sandbox):
    sleeps = []
    sandbox.world.meta_faults.set(spec.account_id, "transient", 2)
    assert _client(spec, sleeps).get(spec.account_id)["id"] == spec.account_id
    assert len(sleeps) == 2
    sandbox.world.meta_faults.set(spec.account_id, "unknown", 1.0)
    with pytest.raises(TransientError):
        _client(spec, sleeps).get(spec.account_id)


def test_a_throttled_answer_raises_with_the_wait_from_its_headers(spec, sandbox):
    sandbox.world.meta_faults.set(spec.account_id, "throttle", 1, code=80004, regain_minutes=3)
    with pytest.raises(ThrottledError) as caught:
        _client(spec).get(f"{spec.account_id}/insights")
    assert caught.value.retry_after == 180 and "80004" in str(caught.value)


def test_usage_near_the_limit_slows_down_and_at_stop_waits_in_the_queue(spec, sandbox, monkeypatch):
    monkeypatch.setattr(settings, "META_USAGE_PAUSE_SECONDS", 10.0)
    sleeps = []
    client = _client(spec, sleeps)
    sandbox.world.meta_faults.set(spec.account_id, "usage", 85)
    client.get(spec.account_id)
    assert sleeps == []  # the first call had no usage to go by
    client.get(spec.account_id)
    assert sleeps == [pytest.approx(5)]  # paused before the second, as the first answer said 85 %
    sandbox.world.meta_faults.set(spec.account_id, "usage", 96)
    client.get(spec.account_id)
    sent = client.requests
    with pytest.raises(ThrottledError):
        client.get(spec.account_id)
    assert client.requests == sent  # stopped before calling, not after being throttled


def test_an_expired_token_is_permanent_with_the_hint(spec, sandbox):
    sandbox.world.meta_faults.set(spec.account_id, "expired_token", 1)
    with pytest.raises(PermanentError) as caught:
        _client(spec).get(spec.account_id)
    assert caught.value.hint == TOKEN_HINT


def test_an_unreachable_api_is_transient(spec, monkeypatch):
    monkeypatch.setattr(settings, "META_GRAPH_URL", "http://127.0.0.1:9/meta")
    monkeypatch.setattr(settings, "META_HTTP_RETRIES", 0)
    with pytest.raises(TransientError):
        _client(spec).get(spec.account_id)
