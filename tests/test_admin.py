"""Admin services on a real PostgreSQL: each change and its audit row, resync dedupe under concurrency, cancel."""

import threading
from datetime import date

import pytest
from sqlalchemy import text

import tests.handlers  # noqa: F401  (registers the TEST_ handlers)
from dashboard import accounts, admin
from database import session_scope, web_session_scope
from ingest import jobs
from ingest.runner import Worker
from tests.conftest import scalar, wait_for


def _do(sessions, action, by, **kwargs):
    with session_scope(sessions) as session:
        return action(session=session, by=by, **kwargs)


def _audit(sessions) -> list[tuple]:
    with session_scope(sessions) as session:
        return [tuple(r) for r in session.execute(text(
            "SELECT action, shop_id, details FROM app_dashboard.audit_log ORDER BY id"))]


@pytest.fixture
def boss(make_user) -> int:
    return make_user("boss@agency.test", role="admin")


def test_connect_through_the_token_form_is_audited_without_the_secret(shopify_world, scheduler_sessions, boss):
    store = shopify_world.stores[1]
    shop = _do(scheduler_sessions, admin.connect_store, boss, domain=store["shop_domain"],
               access_token=store["access_token"], webhook_secret=store["client_secret"])
    [(action, shop_id, details)] = _audit(scheduler_sessions)
    assert (action, shop_id) == ("store.connect", shop.id)
    assert details == {"domain": store["shop_domain"], "credential": "access token", "webhook_secret": True}
    assert store["access_token"] not in str(details)
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.sync_jobs WHERE requested_by = :u",
                  u=boss) == 2


def test_rename_interval_pause_resume_each_leave_an_audit_row(scheduler_sessions, make_shop, boss):
    shop = make_shop("alpha.myshopify.com", "Alpha")
    _do(scheduler_sessions, admin.rename_store, boss, shop_id=shop, name=" Alpha Outdoor ")
    _do(scheduler_sessions, admin.set_sync_interval, boss, shop_id=shop, minutes=60)
    _do(scheduler_sessions, admin.pause_store, boss, shop_id=shop)
    with pytest.raises(admin.AdminError, match="paused"):
        _do(scheduler_sessions, admin.pause_store, boss, shop_id=shop)
    with pytest.raises(admin.AdminError, match="resume"):
        _do(scheduler_sessions, admin.resync, boss, shop_id=shop, source="shopify", mode="incremental")
    _do(scheduler_sessions, admin.resume_store, boss, shop_id=shop)
    with pytest.raises(admin.AdminError, match="interval"):
        _do(scheduler_sessions, admin.set_sync_interval, boss, shop_id=shop, minutes=7)
    assert [a for a, _, _ in _audit(scheduler_sessions)] == ["store.rename", "store.interval", "store.pause",
                                                            "store.resume"]
    assert scalar(scheduler_sessions, "SELECT name || ' ' || sync_interval_minutes || ' ' || status "
                  "FROM app_dashboard.shops") == "Alpha Outdoor 60 active"


def test_disconnect_needs_the_typed_domain_cancels_jobs_and_keeps_or_purges(scheduler_sessions, make_shop, boss):
    keep, purge = make_shop("keep.myshopify.com"), make_shop("purge.myshopify.com")
    job, _ = _do(scheduler_sessions, admin.resync, boss, shop_id=keep, source="shopify", mode="full")
    with pytest.raises(admin.AdminError, match="keep.myshopify.com"):
        _do(scheduler_sessions, admin.disconnect_store, boss, shop_id=keep, confirm="keep")
    _do(scheduler_sessions, admin.disconnect_store, boss, shop_id=keep, confirm=" KEEP.myshopify.com")
    assert scalar(scheduler_sessions, "SELECT status FROM app_dashboard.shops WHERE id = :s", s=keep) == "disconnected"
    assert scalar(scheduler_sessions, "SELECT status FROM app_dashboard.sync_jobs WHERE id = :j", j=job) == "cancelled"
    _do(scheduler_sessions, admin.disconnect_store, boss, shop_id=purge, confirm="purge.myshopify.com", purge=True)
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.shops WHERE id = :s", s=purge) == 0
    action, shop_id, details = _audit(scheduler_sessions)[-1]
    assert (action, shop_id, details["domain"]) == ("store.purge", None, "purge.myshopify.com")


def test_concurrent_resync_requests_create_one_job(scheduler_sessions, make_shop, make_user, boss):
    shop = make_shop()
    other = make_user("second@agency.test", role="admin")
    start, results = threading.Barrier(4), []

    def request(by):
        start.wait()
        results.append(_do(scheduler_sessions, admin.resync, by, shop_id=shop, source="shopify", mode="incremental"))

    threads = [threading.Thread(target=request, args=(by,)) for by in (boss, other, boss, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({job_id for job_id, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.sync_jobs") == 1
    assert [d["created"] for a, _, d in _audit(scheduler_sessions)].count(True) == 1


def test_a_range_resync_restricts_the_historical_load(scheduler_sessions, make_shop, boss):
    shop = make_shop()
    job_id, _ = _do(scheduler_sessions, admin.resync, boss, shop_id=shop, source="shopify", mode="range",
                    since=date(2026, 3, 1), until=date(2026, 3, 31))
    with session_scope(scheduler_sessions) as session:
        job = jobs.get(session=session, job_id=job_id)
        assert (job.kind, job.params) == ("HISTORICAL_INIT", {"since": "2026-03-01T00:00:00+00:00",
                                                              "until": "2026-03-31T23:59:59+00:00"})
    with pytest.raises(admin.AdminError, match="date range"):
        _do(scheduler_sessions, admin.resync, boss, shop_id=shop, source="shopify", mode="range",
            since=date(2026, 3, 2), until=date(2026, 3, 1))
    with pytest.raises(admin.AdminError, match="not linked"):
        _do(scheduler_sessions, admin.resync, boss, shop_id=shop, source="meta", mode="full", target="act_1")


def test_cancel_stops_a_running_job_at_its_next_checkpoint(scheduler_sessions, make_shop, boss):
    shop = make_shop()
    worker = Worker(scheduler_sessions, threads=1, lease_seconds=30)
    try:
        with session_scope(scheduler_sessions) as session:
            job_id, _ = jobs.enqueue(session=session, shop_id=shop, source="upload", kind="TEST_STEPS",
                                     params={"steps": 1000, "step_seconds": 0.02})
        worker.fill()
        wait_for(lambda: scalar(scheduler_sessions, "SELECT progress_done FROM app_dashboard.sync_jobs "
                                "WHERE id = :j", j=job_id), what="the job to make progress")
        assert _do(scheduler_sessions, admin.cancel_job, boss, job_id=job_id).startswith("Cancelling")
        wait_for(lambda: scalar(scheduler_sessions, "SELECT status = 'cancelled' FROM app_dashboard.sync_jobs "
                                "WHERE id = :j", j=job_id), what="the job to stop")
    finally:
        worker.stop(grace_seconds=2)
    assert scalar(scheduler_sessions, "SELECT progress_done FROM app_dashboard.sync_jobs WHERE id = :j",
                  j=job_id) < 1000
    assert _do(scheduler_sessions, admin.cancel_job, boss, job_id=job_id) == "The job had already cancelled."
    assert [a for a, _, _ in _audit(scheduler_sessions)] == ["sync.cancel", "sync.cancel"]


def test_users_create_invite_role_and_grants(scheduler_sessions, make_shop, boss):
    alpha, beta = make_shop(), make_shop()
    user, generated = _do(scheduler_sessions, admin.create_user, boss, email="ana@agency.test", role="member")
    assert len(generated) >= 12
    with session_scope(scheduler_sessions) as session:
        assert accounts.check_password(session=session, email="ana@agency.test", password=generated)
    with pytest.raises(admin.AdminError, match="already"):
        _do(scheduler_sessions, admin.create_user, boss, email="ANA@agency.test", role="member")
    assert _do(scheduler_sessions, admin.set_grants, boss, user_id=user.id, shop_ids=[alpha, beta]) == \
        ([alpha, beta], [])
    assert _do(scheduler_sessions, admin.set_grants, boss, user_id=user.id, shop_ids=[beta]) == ([], [alpha])
    _do(scheduler_sessions, admin.set_role, boss, user_id=user.id, role="admin")
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.user_shops WHERE user_id = :u",
                  u=user.id) == 2
    _do(scheduler_sessions, admin.set_role, boss, user_id=boss, role="member")
    with pytest.raises(admin.AdminError, match="at least one admin"):
        _do(scheduler_sessions, admin.set_role, boss, user_id=user.id, role="member")
    audit = _audit(scheduler_sessions)
    assert [a for a, _, _ in audit] == ["user.create", "user.grant", "user.grant", "user.revoke", "user.role",
                                        "user.role"]
    assert generated not in str(audit)


def test_reporting_currency(scheduler_sessions, web_sessions, boss):
    _do(scheduler_sessions, admin.set_reporting_currency, boss, currency="eur")
    with pytest.raises(admin.AdminError):
        _do(scheduler_sessions, admin.set_reporting_currency, boss, currency="XXX")
    with web_session_scope(web_sessions, user_id=boss) as session:
        assert admin.get_reporting_currency(session=session) == "EUR"


def test_only_admins_read_the_audit_trail_and_everyones_grants(scheduler_sessions, web_sessions, make_shop, make_user,
                                                               boss):
    shop = make_shop()
    member = make_user("ana@agency.test", shops=[shop])
    _do(scheduler_sessions, admin.rename_store, boss, shop_id=shop, name="Renamed")
    with web_session_scope(web_sessions, user_id=boss) as session:
        assert [r.action for r in admin.list_audit(session=session)] == ["store.rename"]
        grants = dict((u.email, g) for u, g in admin.list_users_with_grants(session=session))
        assert grants["ana@agency.test"] == [shop]
    with web_session_scope(web_sessions, user_id=member) as session:
        assert admin.list_audit(session=session) == []
        assert scalar_in(session, "SELECT count(*) FROM app_dashboard.user_shops") == 1  # only their own


def scalar_in(session, sql):
    return session.execute(text(sql)).scalar()


def test_meta_link_resync_and_unlink(shopify_world, scheduler_sessions, make_shop, boss, monkeypatch):
    import settings

    monkeypatch.setattr(settings, "META_GRAPH_URL", f"{shopify_world.base_url}/meta")
    store = next(s for s in shopify_world.stores if s["ad_accounts"])
    account = store["ad_accounts"][0]
    shop = make_shop(store["shop_domain"])
    with pytest.raises(admin.meta_connect.ConnectError):
        _do(scheduler_sessions, admin.link_ad_accounts, boss, shop_id=shop, token="wrong",
            account_ids=[account["account_id"]])
    linked = _do(scheduler_sessions, admin.link_ad_accounts, boss, shop_id=shop, token=account["access_token"],
                 account_ids=[account["account_id"].removeprefix("act_")])
    assert linked == [account["account_id"]]
    job_id, created = _do(scheduler_sessions, admin.resync, boss, shop_id=shop, source="meta", mode="full",
                          target=account["account_id"])
    assert not created  # linking queued the backfill already
    _do(scheduler_sessions, admin.unlink_ad_account, boss, shop_id=shop, account_id=account["account_id"])
    assert scalar(scheduler_sessions, "SELECT status FROM app_dashboard.sync_jobs WHERE id = :j", j=job_id) == \
        "cancelled"
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.ad_accounts") == 0
    audit = _audit(scheduler_sessions)
    assert [a for a, _, _ in audit] == ["meta.link", "sync.resync", "meta.unlink"]
    assert account["access_token"] not in str(audit)
