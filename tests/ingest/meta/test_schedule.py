"""The cron duty: an INCREMENTAL per connected account once per interval; none while a token needs reconnecting."""

from sqlalchemy import func, select, update

import settings
from database import session_scope
from ingest.meta.schedule import enqueue_due
from models import Shop, SyncJob
from tests.ingest.meta.conftest import link


def _due(sessions) -> int:
    with session_scope(sessions) as session:
        return enqueue_due(session=session)


def _incrementals(sessions) -> int:
    with session_scope(sessions) as session:
        return session.scalar(select(func.count()).where(SyncJob.kind == "INCREMENTAL"))


def test_each_connected_account_is_queued_once_per_interval(scheduler_sessions, make_shop, store, monkeypatch):
    shop_id = make_shop()
    for spec in store.spec.ad_accounts:
        link(scheduler_sessions, shop_id, spec)
    assert _due(scheduler_sessions) == 2
    assert _due(scheduler_sessions) == 0  # queued within the interval
    with session_scope(scheduler_sessions) as session:  # they ran
        session.execute(update(SyncJob).values(status="succeeded"))
    assert _due(scheduler_sessions) == 0
    monkeypatch.setattr(settings, "META_INCREMENTAL_SECONDS", 0)  # the hour has passed
    assert _due(scheduler_sessions) == 2
    assert _incrementals(scheduler_sessions) == 4


def test_paused_shops_and_failed_tokens_are_left_alone(scheduler_sessions, make_shop, store):
    paused, failing = make_shop(), make_shop()
    link(scheduler_sessions, paused, store.spec.ad_accounts[0])
    link(scheduler_sessions, failing, store.spec.ad_accounts[1])
    with session_scope(scheduler_sessions) as session:
        session.execute(update(Shop).where(Shop.id == paused).values(status="paused"))
        session.execute(update(SyncJob).where(SyncJob.shop_id == failing)
                        .values(status="failed", error_class="PermanentError"))
    assert _due(scheduler_sessions) == 0
