"""Connecting ad accounts: validated first, token encrypted, linked to the shop, backfill queued; clear refusals."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from database import session_scope
from ingest import crypto
from ingest.meta.connect import ConnectError, normalize, validate_account
from models import AdAccount, SyncJob
from sandbox import ads
from tests.ingest.meta.conftest import link


@pytest.fixture
def spec(store):
    return store.spec.ad_accounts[0]


def test_connect_saves_the_account_encrypted_and_queues_its_backfill(scheduler_sessions, make_shop, spec):
    shop_id = make_shop()
    job_id = link(scheduler_sessions, shop_id, spec)
    link(scheduler_sessions, shop_id, spec)  # connecting again updates, and queues no twin
    with session_scope(scheduler_sessions) as session:
        (account,) = session.scalars(select(AdAccount)).all()
        job = session.get(SyncJob, job_id)
        assert session.scalar(select(SyncJob.id).where(SyncJob.id != job_id)) is None
    assert (account.shop_id, account.account_id, account.name, account.currency, account.iana_timezone,
            account.account_status) == (shop_id, spec.account_id, spec.name, spec.currency, spec.iana_timezone, 1)
    assert spec.access_token not in account.access_token_enc
    assert crypto.decrypt(account.access_token_enc) == spec.access_token
    assert (job.source, job.kind, job.target, job.status) == ("meta", "HISTORICAL_INIT", spec.account_id, "queued")


def test_account_ids_are_normalized():
    assert normalize(" 123 ") == "act_123" and normalize("act_123") == "act_123"


def test_an_invalid_token_is_refused(spec):
    with pytest.raises(ConnectError, match="invalid or expired"):
        validate_account("EAAB-not-a-token", spec.account_id)


def test_an_expired_token_is_refused(spec, sandbox):
    sandbox.world.meta_faults.set(spec.account_id, "expired_token", 1)
    with pytest.raises(ConnectError, match="invalid or expired"):
        validate_account(spec.access_token, spec.account_id)


def test_a_token_without_ads_read_is_refused_saying_so(spec, sandbox):
    sandbox.world.meta_faults.set(spec.account_id, "missing_permission", 1)
    with pytest.raises(ConnectError, match="lacks the ads_read permission"):
        validate_account(spec.access_token, spec.account_id)


def test_an_account_the_token_cannot_see_is_refused(spec, store):
    other = store.spec.ad_accounts[1]
    with pytest.raises(ConnectError, match=f"Meta refused {other.account_id}"):
        validate_account(spec.access_token, other.account_id)


def test_the_cli_connects_and_reports(server, scheduler_sessions, make_shop, store, spec):
    make_shop("cli.myshopify.com")
    runner = server.test_cli_runner()
    result = runner.invoke(args=["meta", "connect", "--shop", "cli.myshopify.com", "--account", spec.account_id,
                                 "--token", spec.access_token])
    assert result.exit_code == 0, result.output
    assert f"linked {spec.account_id}" in result.output and "backfill job" in result.output
    refused = runner.invoke(args=["meta", "connect", "--shop", "cli.myshopify.com", "--account", "act_1",
                                  "--token", "nope"])
    assert refused.exit_code != 0 and "invalid or expired" in refused.output
    queued = runner.invoke(args=["meta", "sync", "--shop", "cli.myshopify.com", "--account", spec.account_id])
    assert queued.exit_code == 0 and "queued" in queued.output


def test_a_closed_account_is_refused(sandbox, clock):
    today = clock.now.date()
    (closed,) = ads.build_ad_accounts(
        seed=9, daily_sales=lambda day: (10, Decimal(500)), start=today - timedelta(days=30), end=today,
        accounts=[{"account_id": "act_900000000000101", "name": "Old", "currency": "GBP",
                   "iana_timezone": "Europe/London", "access_token": "EAAB-closed", "account_status": 101}])
    sandbox.http.app.blueprints["meta_api"].state.add_account(closed)
    with pytest.raises(ConnectError, match="is closed"):
        validate_account("EAAB-closed", closed.account_id)
