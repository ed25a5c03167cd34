"""Paging insights: sync and async, reduce-data moves and splits, failed runs split, 3018 clamps (sandbox over HTTP)."""

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest

import settings
from ingest.errors import TransientError
from ingest.meta import insights
from ingest.meta.client import MetaClient
from ingest.meta.load import action_value
from tests.ingest.meta.conftest import account_today, truth


def test_chunks_cover_the_range_newest_first_without_gaps_or_overlap():
    parts = insights.chunks(date(2026, 1, 1), date(2026, 3, 10), 30)
    assert parts == [(date(2026, 2, 9), date(2026, 3, 10)), (date(2026, 1, 10), date(2026, 2, 8)),
                     (date(2026, 1, 1), date(2026, 1, 9))]
    assert insights.chunks(date(2026, 1, 2), date(2026, 1, 1), 30) == []


def test_retention_floor_is_37_months_back():
    assert insights.retention_floor(date(2026, 11, 29)) == date(2023, 10, 30)
    assert insights.retention_floor(date(2026, 5, 31)) == date(2023, 5, 1)  # April has 30 days


class Recorder:
    """A client whose requests are counted by kind."""

    def __init__(self, spec):
        self.client = MetaClient(spec.access_token, sleep=lambda s: None)
        self.calls = Counter()
        send = self.client._send

        def counted(method, url, params):
            kind = "post" if method == "POST" else "rows" if url.endswith("/insights") or "after=" in url \
                else "node" if "act_" in url else "poll"
            self.calls[kind] += 1
            return send(method, url, params)

        self.client._send = counted


def _rows(spec, sandbox, clock, since, until, *, client=None):
    client = client or MetaClient(spec.access_token, sleep=lambda s: None)
    today = account_today(sandbox, clock, spec.account_id)
    out = [row for page in insights.fetch(client, spec.account_id, level="campaign", since=since, until=until,
                                          today=today) for row in page]
    return {(r["campaign_id"], date.fromisoformat(r["date_start"])):
            (Decimal(r["spend"]), Decimal(action_value(r.get("actions")) or 0),
             Decimal(action_value(r.get("action_values")) or 0)) for r in out}, out


@pytest.fixture
def spec(store):
    return store.spec.ad_accounts[0]


@pytest.fixture
def days(sandbox, clock, spec):
    today = account_today(sandbox, clock, spec.account_id)
    return today - timedelta(days=59), today


def test_a_small_range_pages_synchronously_visiting_every_row_once(spec, sandbox, clock, monkeypatch):
    monkeypatch.setattr(settings, "META_PAGE_LIMIT", 7)
    today = account_today(sandbox, clock, spec.account_id)
    since = today - timedelta(days=20)
    recorder = Recorder(spec)
    found, rows = _rows(spec, sandbox, clock, since, today, client=recorder.client)
    assert len(rows) == len(found)  # no row twice
    assert found == truth(sandbox, clock, spec.account_id, since, today)
    assert recorder.calls["post"] == 0 and recorder.calls["rows"] == -(-len(rows) // 7)


def test_a_large_range_runs_async_and_polls_until_complete(spec, sandbox, clock, days):
    recorder = Recorder(spec)
    found, _ = _rows(spec, sandbox, clock, *days, client=recorder.client)
    assert found == truth(sandbox, clock, spec.account_id, *days)
    assert recorder.calls["post"] == 1 and recorder.calls["poll"] == 5  # Not Started .. Completed


def test_reduce_data_on_a_sync_query_moves_it_to_async(spec, sandbox, clock):
    today = account_today(sandbox, clock, spec.account_id)
    since = today - timedelta(days=10)
    sandbox.world.meta_faults.set(spec.account_id, "reduce_data", 1)
    recorder = Recorder(spec)
    found, _ = _rows(spec, sandbox, clock, since, today, client=recorder.client)
    assert found == truth(sandbox, clock, spec.account_id, since, today)
    assert recorder.calls["post"] == 1


def test_reduce_data_on_async_results_splits_the_range(spec, sandbox, clock, days):
    sandbox.world.meta_faults.set(spec.account_id, "reduce_data", 1)
    recorder = Recorder(spec)
    found, _ = _rows(spec, sandbox, clock, *days, client=recorder.client)
    assert found == truth(sandbox, clock, spec.account_id, *days)
    assert recorder.calls["post"] == 1 and recorder.calls["rows"] == 3  # the failed read, then two halves


def test_a_failed_async_run_is_split_and_retried(spec, sandbox, clock, days):
    sandbox.world.meta_faults.set(spec.account_id, "async_fail", 1)
    recorder = Recorder(spec)
    found, _ = _rows(spec, sandbox, clock, *days, client=recorder.client)
    assert found == truth(sandbox, clock, spec.account_id, *days)
    assert recorder.calls["post"] == 1 and recorder.calls["rows"] == 2  # the halves (30 days each) run sync


def test_a_day_meta_cannot_answer_is_transient(spec, sandbox, clock):
    sandbox.world.meta_faults.set(spec.account_id, "reduce_data", 1.0)
    day = account_today(sandbox, clock, spec.account_id)
    with pytest.raises(TransientError):
        _rows(spec, sandbox, clock, day, day)


def test_a_start_beyond_37_months_is_clamped_not_failed(spec, sandbox, clock):
    today = account_today(sandbox, clock, spec.account_id)
    since, until = today - timedelta(days=1200), today - timedelta(days=1100)
    recorder = Recorder(spec)
    found, _ = _rows(spec, sandbox, clock, since, until, client=recorder.client)
    assert found == {}  # the store's ads start a year ago: nothing there, and no error
    assert since < insights.retention_floor(today) <= until
    assert recorder.calls["post"] == 1 and recorder.calls["rows"] == 1  # refused (3018), then the clamped rest
