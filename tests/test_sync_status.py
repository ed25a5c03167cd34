"""Sync status on real PostgreSQL: the reads, the JSON API, the page's callbacks, retry, and the ops check."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from dashboard import queries
from dashboard.auth import CSRF_COOKIE
from database import session_scope, web_session_scope
from models import AdAccount, SchedulerHeartbeat, SyncEvent, SyncJob
from tests.conftest import scalar
from tests.web import callback, login


@pytest.fixture
def tenants(make_shop, make_user):
    """Alpha is Ana's (a member); Beta belongs to another tenant; Boss (admin) sees Alpha only too."""
    alpha = make_shop("alpha.myshopify.com", "Alpha Outdoor")
    beta = make_shop("beta.myshopify.com", "Beta Secret")
    make_user("ana@agency.test", shops=[alpha])
    make_user("boss@agency.test", role="admin", shops=[alpha])
    return alpha, beta


def add(sessions, *rows):
    with session_scope(sessions) as session:
        session.add_all(rows)
        session.flush()
        return [row.id if hasattr(row, "id") else None for row in rows]


def running(shop_id, done=30, total=120, **fields):
    return SyncJob(shop_id=shop_id, source="shopify", kind="HISTORICAL_INIT", status="running", progress_done=done,
                   progress_total=total, progress_label="Loading orders", started_at=datetime.now(UTC)
                   - timedelta(seconds=30), **fields)


def failed(shop_id, **fields):
    values = dict(shop_id=shop_id, source="shopify", kind="INCREMENTAL", status="failed", attempts=5,
                  error_class="PermanentError", error_message="ACCESS_DENIED", error_hint="Reconnect the store.",
                  started_at=datetime.now(UTC) - timedelta(minutes=2), finished_at=datetime.now(UTC))
    return SyncJob(**values | fields)


def test_the_api_reports_progress_for_a_granted_store(client, tenants, scheduler_sessions):
    alpha, _ = tenants
    add(scheduler_sessions, running(alpha))
    login(client, "ana@agency.test")
    body = client.get(f"/api/sync/{alpha}/status").get_json()
    assert body["name"] == "Alpha Outdoor"
    shopify = body["sources"][0]
    assert shopify["source"] == "shopify" and shopify["state"] == "syncing"
    assert shopify["running_job"]["percent"] == 25 and shopify["running_job"]["phase"] == "Loading orders"
    assert 80 <= shopify["running_job"]["eta_seconds"] <= 100


def test_the_status_api_never_shows_another_tenants_store(client, tenants, scheduler_sessions):
    alpha, beta = tenants
    add(scheduler_sessions, running(beta), failed(beta),
        SyncEvent(shop_id=beta, level="ERROR", message="Beta's token was revoked"))
    assert client.get(f"/api/sync/{alpha}/status").status_code == 401  # not logged in
    login(client, "ana@agency.test")
    for shop_id in (beta, beta + 1000):
        response = client.get(f"/api/sync/{shop_id}/status")
        assert response.status_code == 404 and "Beta" not in response.get_data(as_text=True)
    # The page's callbacks take a store id from the browser: a hand-crafted one for Beta shows nothing of it.
    cards = callback(client, "status-sources.children", {"sync-poll.n_intervals": 1, "status-shop.data": beta})
    events = callback(client, "event-rows.children", {"event-shop.value": str(beta),
                                                      "event-level.value": ["INFO", "WARN", "ERROR"]})
    navbar = callback(client, "sync-indicator.children", {"sync-poll.n_intervals": 1})
    for response in (cards, events, navbar):
        assert response.status_code == 200
        assert "Beta" not in response.get_data(as_text=True)
    assert "Syncing" not in navbar.get_data(as_text=True)  # Beta's running job is not counted


def test_reads_follow_events_by_level_and_after_an_id(web_sessions, tenants, scheduler_sessions, make_user):
    alpha, beta = tenants
    add(scheduler_sessions, *[SyncEvent(shop_id=alpha, level=level, message=f"{level} {n}")
                              for n, level in enumerate(["INFO", "WARN", "ERROR", "INFO"])],
        SyncEvent(shop_id=beta, level="INFO", message="hidden"))
    ana = scalar(scheduler_sessions, "SELECT id FROM app_dashboard.users WHERE email = 'ana@agency.test'")
    with web_session_scope(web_sessions, user_id=ana) as session:
        everything = queries.list_events(session=session)
        assert [e.message for e in everything] == ["INFO 3", "ERROR 2", "WARN 1", "INFO 0"]
        assert [e.message for e in queries.list_events(session=session, levels=["WARN", "ERROR"])] == [
            "ERROR 2", "WARN 1"]
        assert [e.message for e in queries.list_events(session=session, after_id=everything[1].id)] == ["INFO 3"]
        assert queries.list_events(session=session, shop_id=beta) == []


def test_history_has_durations_outcomes_and_errors(client, tenants, scheduler_sessions):
    alpha, _ = tenants
    add(scheduler_sessions, failed(alpha))
    login(client, "ana@agency.test")
    page = callback(client, "job-history.children", {"sync-poll.n_intervals": 1, "status-shop.data": alpha})
    body = json.dumps(page.get_json())
    assert "The sync stopped and will not retry by itself: ACCESS_DENIED. Reconnect the store." in body
    assert "2 min" in body and "5/5" in body
    assert "retry-job" not in body  # a member sees no retry button


def _retry(client, job_id):
    deps = client.get("/_dash-dependencies").get_json()
    spec = next(d for d in deps if "retry-result.children" in d["output"])
    body = {
        "output": spec["output"],
        "outputs": [{"id": "retry-result", "property": "children"},
                    {"id": "sync-poll", "property": "interval"}],
        "inputs": [[{"id": {"type": "retry-job", "job": job_id, "place": "card"}, "property": "n_clicks", "value": 1}]],
        "state": [],
        "changedPropIds": [json.dumps({"job": job_id, "place": "card", "type": "retry-job"},
                                      separators=(",", ":")) + ".n_clicks"],
    }
    headers = {"Content-Type": "application/json", "X-CSRFToken": client.get_cookie(CSRF_COOKIE).value}
    return client.post("/_dash-update-component", data=json.dumps(body), headers=headers)


def test_retry_is_for_admins_and_visible_failed_jobs_only(server, tenants, scheduler_sessions):
    alpha, beta = tenants
    mine, theirs = add(scheduler_sessions, failed(alpha), failed(beta))
    member = server.test_client()
    login(member, "ana@agency.test")
    assert "Only admins" in _retry(member, mine).get_data(as_text=True)
    admin = server.test_client()
    login(admin, "boss@agency.test")
    assert "cannot be retried" in _retry(admin, theirs).get_data(as_text=True)
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.sync_jobs") == 2
    response = _retry(admin, mine)
    assert "Retry queued" in response.get_data(as_text=True), response.get_data(as_text=True)
    assert "Job" in _retry(admin, mine).get_data(as_text=True)  # a second click queues nothing more
    queued = scalar(scheduler_sessions, "SELECT count(*) || ' ' || min(kind) || ' ' || min(requested_by) "
                                        "FROM app_dashboard.sync_jobs WHERE status = 'queued'")
    boss = scalar(scheduler_sessions, "SELECT id FROM app_dashboard.users WHERE email = 'boss@agency.test'")
    assert queued == f"1 INCREMENTAL {boss}"
    audited = scalar(scheduler_sessions, "SELECT string_agg(action || ' ' || (details->>'created'), ',' ORDER BY id) "
                                         "FROM app_dashboard.audit_log")
    assert audited == "sync.retry true,sync.retry false"  # both clicks on the record, one job queued


def test_meta_days_covered_come_from_the_rollup_under_rls(tenants, scheduler_sessions, web_sessions):
    alpha, beta = tenants
    with session_scope(scheduler_sessions) as session:
        for shop_id, days in ((alpha, 3), (beta, 5)):
            session.execute(text("""
                INSERT INTO core_warehouse.fact_marketing_daily (shop_id, account_id, date, currency, raw)
                SELECT :shop, 'act_1', d::date, 'EUR', '{}' FROM generate_series(
                    DATE '2026-11-01', DATE '2026-11-01' + :days - 1, interval '1 day') d
            """), {"shop": shop_id, "days": days})
        session.execute(text("UPDATE core_warehouse.fact_marketing_daily SET spend = 1 WHERE shop_id = :s"),
                        {"s": alpha})
        session.execute(text("DELETE FROM core_warehouse.fact_marketing_daily WHERE shop_id = :s AND date = "
                             "DATE '2026-11-03'"), {"s": alpha})
    ana = scalar(scheduler_sessions, "SELECT id FROM app_dashboard.users WHERE email = 'ana@agency.test'")
    with web_session_scope(web_sessions, user_id=ana) as session:
        rows = queries.list_meta_coverage(session=session)
    assert [(r.shop_id, r.days, r.first_day, r.last_day) for r in rows] == [
        (alpha, 2, date(2026, 11, 1), date(2026, 11, 2))]


def _load_days(sessions, shop_id, account_id, first, last, *, skip=()):
    """Meta facts for every day from `first` to `last` but `skip`, as a sync would load them."""
    with session_scope(sessions) as session:
        session.execute(text("""
            INSERT INTO core_warehouse.fact_marketing_daily (shop_id, account_id, date, currency, raw)
            SELECT :shop, :account, d::date, 'EUR', '{}' FROM generate_series(CAST(:first AS date),
                CAST(:last AS date), interval '1 day') d WHERE NOT d::date = ANY(CAST(:skip AS date[]))
        """), {"shop": shop_id, "account": account_id, "first": first, "last": last, "skip": list(skip)})


def test_two_ad_accounts_show_their_own_days_never_a_sum(client, tenants, scheduler_sessions):
    alpha, _ = tenants
    add(scheduler_sessions, AdAccount(shop_id=alpha, account_id="act_1", name="Alpha Prospecting"),
        AdAccount(shop_id=alpha, account_id="act_2", name="Alpha Retargeting"))
    _load_days(scheduler_sessions, alpha, "act_1", date(2025, 12, 2), date(2026, 11, 30))  # 364 days
    _load_days(scheduler_sessions, alpha, "act_2", date(2026, 6, 1), date(2026, 11, 30),  # overlapping, 2 gaps
               skip=[date(2026, 7, 4), date(2026, 7, 5)])
    login(client, "ana@agency.test")
    meta = client.get(f"/api/sync/{alpha}/status").get_json()["sources"][1]
    assert meta["source"] == "meta" and "days_covered" not in meta["completeness"]
    assert [(a["account_id"], a["name"], a["days"], a["first_day"], a["last_day"])
            for a in meta["completeness"]["accounts"]] == [
        ("act_1", "Alpha Prospecting", 364, "2025-12-02", "2026-11-30"),
        ("act_2", "Alpha Retargeting", 181, "2026-06-01", "2026-11-30")]
    cards = _text(callback(client, "status-sources.children", {"status-shop.data": alpha}).get_json())
    assert "Alpha Prospecting 364 days · 2 Dec 2025 – 30 Nov 2026" in cards
    assert "Alpha Retargeting 181 of 183 days · 1 Jun 2026 – 30 Nov 2026" in cards
    assert "545" not in cards  # the two accounts' days summed: days are per account, never added up


def _text(tree) -> str:
    """The words a callback's component tree shows, blocks joined by spaces."""
    if isinstance(tree, dict):
        children = tree.get("props", {}).get("children") if "props" in tree else list(tree.values())
        return _text(children)
    if isinstance(tree, list):
        return " ".join(_text(child) for child in tree).replace("  ", " ")
    return "" if tree is None else str(tree)


def _beat(sessions, age_seconds):
    add(sessions, SchedulerHeartbeat(instance_id=f"host-{age_seconds}", hostname="host", pid=42,
                                     last_seen_at=datetime.now(UTC) - timedelta(seconds=age_seconds)))


def test_the_banner_shows_while_no_scheduler_is_fresh(client, tenants, scheduler_sessions):
    alpha, _ = tenants
    add(scheduler_sessions, SyncJob(shop_id=alpha, source="shopify", kind="INCREMENTAL"))
    _beat(scheduler_sessions, 600)
    login(client, "ana@agency.test")
    down = callback(client, "scheduler-banner.children", {"sync-poll.n_intervals": 1}).get_json()
    banner = json.dumps(down["response"]["scheduler-banner"])
    assert "The scheduler is not running: jobs have been waiting since" in banner
    assert down["response"]["sync-poll"]["interval"] == 30000  # nothing moves: poll slowly
    _beat(scheduler_sessions, 1)
    up = callback(client, "scheduler-banner.children", {"sync-poll.n_intervals": 2}).get_json()
    assert up["response"]["scheduler-banner"]["children"] is None
    assert up["response"]["sync-poll"]["interval"] == 2000  # a job waits and a scheduler runs: poll fast
    assert "Syncing 1 store" in json.dumps(up["response"]["sync-indicator"])


def test_members_see_whether_syncing_works_and_admins_see_the_instances(server, tenants, scheduler_sessions):
    _beat(scheduler_sessions, 1)
    member = server.test_client()
    login(member, "ana@agency.test")
    body = json.dumps(callback(member, "schedulers.children", {"sync-poll.n_intervals": 1}).get_json())
    assert "Syncing works: the scheduler is running." in body
    assert "pid 42" not in body and "host" not in body and "scheduler-table" not in body
    admin = server.test_client()
    login(admin, "boss@agency.test")
    body = json.dumps(callback(admin, "schedulers.children", {"sync-poll.n_intervals": 1}).get_json())
    assert "host (pid 42)" in body and "scheduler-table" in body


def test_scheduler_status_command_exits_non_zero_without_a_fresh_heartbeat(server, scheduler_sessions):
    runner = server.test_cli_runner()
    result = runner.invoke(args=["scheduler", "status"])
    assert result.exit_code == 1 and "no scheduler heartbeat" in result.output
    _beat(scheduler_sessions, 600)
    result = runner.invoke(args=["scheduler", "status"])
    assert result.exit_code == 1 and "stale" in result.output
    _beat(scheduler_sessions, 2)
    result = runner.invoke(args=["scheduler", "status"])
    assert result.exit_code == 0, result.output
    assert "host-2\thost\tpid 42\trunning\tlast heartbeat 2 s ago" in result.output
    assert "1 scheduler(s) running" in result.output


def test_badges_read_a_window_of_recent_jobs_but_never_miss_a_live_one_or_the_last_success(
        tenants, scheduler_sessions, web_sessions, monkeypatch):
    alpha, _ = tenants
    monkeypatch.setattr("settings.STATUS_JOBS_WINDOW", 2)
    done = datetime.now(UTC) - timedelta(minutes=1)
    add(scheduler_sessions, SyncJob(shop_id=alpha, source="shopify", kind="INCREMENTAL", status="succeeded",
                                    finished_at=done),
        SyncJob(shop_id=alpha, source="meta", kind="BACKFILL", target="act_1"),
        *[failed(alpha, kind=f"RESYNC_RANGE_{n}") for n in range(3)])
    ana = scalar(scheduler_sessions, "SELECT id FROM app_dashboard.users WHERE email = 'ana@agency.test'")
    with web_session_scope(web_sessions, user_id=ana) as session:
        kinds = {job.kind for job in queries.list_latest_jobs(session=session)}
        summaries = {s.source: s for s in queries.read_sync_status(session=session)}
    assert kinds == {"BACKFILL", "RESYNC_RANGE_1", "RESYNC_RANGE_2"}
    assert summaries["shopify"].last_success_at == done and summaries["shopify"].state.state == "failing"
    assert summaries["meta"].state.state == "syncing"


def test_a_disconnected_store_says_why(client, tenants, scheduler_sessions):
    alpha, _ = tenants
    with session_scope(scheduler_sessions) as session:
        session.execute(text("UPDATE app_dashboard.shops SET status = 'disconnected', status_reason = "
                             "'The app was uninstalled: reconnect it in Settings.' WHERE id = :s"), {"s": alpha})
    login(client, "ana@agency.test")
    shopify = client.get(f"/api/sync/{alpha}/status").get_json()["sources"][0]
    assert shopify["state"] == "disconnected" and shopify["reason"].startswith("The app was uninstalled")
    cards = json.dumps(callback(client, "status-sources.children", {"status-shop.data": alpha}).get_json())
    assert "reconnect it in Settings" in cards and "Disconnected" in cards
