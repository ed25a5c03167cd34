"""The web process's plumbing: factory, health, static files served locally, logs."""

import json
import logging

import pytest

import app as app_module
import logs


def test_healthz_reports_the_database_and_fresh_schedulers(client, scheduler_sessions):
    from ingest.runner import Worker

    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok", "schedulers_running": 0}
    worker = Worker(scheduler_sessions, threads=1)
    worker.beat()
    assert client.get("/healthz").get_json()["schedulers_running"] == 1
    worker.stop()


def test_healthz_answers_503_when_the_database_is_gone():
    server = app_module.create_app({"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "SECRET_KEY": "x"})
    response = server.test_client().get("/healthz")
    assert response.status_code == 503 and response.get_json()["status"] == "error"


def test_bootstrap_css_is_served_from_the_package_not_a_cdn(client):
    response = client.get("/vendor/bootstrap/css/bootstrap.min.css")
    assert response.status_code == 200 and b"Bootstrap  v5.3.8" in response.data[:200]
    assert client.get("/vendor/../settings.py").status_code == 404


def test_a_missing_secret_key_is_a_clear_error(db_url):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        app_module.create_app({"DATABASE_URL": db_url, "SECRET_KEY": None})


def test_importing_the_module_builds_nothing_until_gunicorn_asks():
    with pytest.raises(AttributeError):
        app_module.not_a_thing  # noqa: B018


def test_json_logs_are_one_object_a_line(capsys):
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        logs.configure(fmt="json", level="INFO")
        logging.getLogger("test").info("hello %s", "there")
        line = capsys.readouterr().err.strip().splitlines()[-1]
        assert json.loads(line)["message"] == "hello there"
    finally:
        # The handler configure() made writes to capsys's stream, closed after this test: a later log line
        # (another test's thread) would print "--- Logging error ---". Put back what the test found.
        root.handlers[:] = handlers
        root.setLevel(level)


def test_demo_stores_are_connected_once_with_both_credential_kinds(shopify_world, scheduler_sessions):
    from tests.conftest import scalar

    domains = [s["shop_domain"] for s in shopify_world.stores]
    assert app_module.connect_demo_stores(scheduler_sessions, shopify_world.base_url) == domains
    assert app_module.connect_demo_stores(scheduler_sessions, shopify_world.base_url) == []
    kinds = scalar(scheduler_sessions, "SELECT array_agg(c.kind ORDER BY s.shop_domain = :first DESC) "
                   "FROM app_dashboard.shops s JOIN app_dashboard.shop_credentials c ON c.shop_id = s.id",
                   first=domains[0])
    assert kinds == ["client_credentials", "admin_token"]
    linked = scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.ad_accounts a "
                    "JOIN app_dashboard.sync_jobs j ON j.target = a.account_id "
                    "WHERE j.source = 'meta' AND j.kind = 'HISTORICAL_INIT'")
    assert linked == sum(len(s["ad_accounts"]) for s in shopify_world.stores) > 0
