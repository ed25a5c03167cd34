"""The schema as migrations build it: four schemas, RLS on every tenant table, two roles, reversible."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

import settings
from database import alembic_config, make_engine, migrate, session_scope, set_app_user
from models import Base

SCHEMAS = {"app_dashboard", "staging_ingest", "core_warehouse", "reporting"}


def test_upgrade_creates_the_four_schemas(owner_sessions):
    with session_scope(owner_sessions) as session:
        found = set(session.scalars(text("SELECT nspname FROM pg_namespace")))
    assert found >= SCHEMAS


def test_models_match_the_migrations(db_url):
    engine = make_engine(db_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_schemas": True, "include_name": _ours, "compare_type": True}
        )
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def _ours(name, type_, parent_names):
    return type_ != "schema" or name == "app_dashboard"


def test_downgrade_to_empty_and_upgrade_again(db_url, owner_sessions):
    command.downgrade(alembic_config(db_url), "base")
    with session_scope(owner_sessions) as session:
        left = set(session.scalars(text("SELECT nspname FROM pg_namespace"))) & SCHEMAS
        tables = session.scalar(text("SELECT count(*) FROM pg_tables WHERE schemaname = ANY(:s)"),
                                {"s": list(SCHEMAS)})
    assert left == set() and tables == 0
    migrate(db_url, "head")
    with session_scope(owner_sessions) as session:
        assert session.scalar(text("SELECT count(*) FROM app_dashboard.users")) == 0


def test_every_table_with_shop_id_has_rls_and_both_policies(owner_sessions):
    # One rule for every tenant table, present and future: RLS on, a scheduler policy, a web policy.
    with session_scope(owner_sessions) as session:
        tables = session.execute(text("""
            SELECT c.oid::regclass::text AS name, c.relrowsecurity AS rls,
                   array(SELECT unnest(p.polroles)::regrole::text FROM pg_policy p WHERE p.polrelid = c.oid)
                       AS roles
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(:schemas)
              AND (EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'shop_id'
                           AND NOT a.attisdropped) OR c.oid = 'app_dashboard.shops'::regclass)
        """), {"schemas": list(SCHEMAS)}).all()
    assert len(tables) >= 7
    for table in tables:
        assert table.rls, f"{table.name} has no row-level security"
        assert settings.SCHEDULER_ROLE in table.roles, f"{table.name}: no scheduler policy"
        if table.name not in ("app_dashboard.shop_credentials", "app_dashboard.webhook_keys"):  # secrets
            assert settings.WEB_ROLE in table.roles, f"{table.name}: no web policy"


def test_every_view_is_security_invoker(owner_sessions):
    with session_scope(owner_sessions) as session:
        views = session.execute(text("""
            SELECT c.oid::regclass::text AS name, coalesce(c.reloptions, '{}') AS options
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'v' AND n.nspname = ANY(:schemas)
        """), {"schemas": list(SCHEMAS)}).all()
    assert views, "expected at least reporting.shop_directory"
    for view in views:
        assert "security_invoker=true" in view.options, f"{view.name} bypasses RLS"


def test_web_role_cannot_bypass_rls_and_owns_nothing(owner_sessions):
    with session_scope(owner_sessions) as session:
        role = session.execute(text("SELECT rolbypassrls, rolsuper FROM pg_roles WHERE rolname = :r"),
                               {"r": settings.WEB_ROLE}).one()
        owned = session.scalar(text("SELECT count(*) FROM pg_class WHERE relowner = CAST(:r AS regrole)"),
                               {"r": settings.WEB_ROLE})
    assert role == (False, False) and owned == 0


def _seed(owner_sessions):
    """Two shops, user 1 granted only shop A."""
    with session_scope(owner_sessions) as session:
        session.execute(text("""
            INSERT INTO app_dashboard.users (id, email, password_hash) VALUES (1, 'a@x', 'h'), (2, 'b@x', 'h');
            INSERT INTO app_dashboard.shops (id, shop_domain, name, currency, iana_timezone)
                VALUES (10, 'a.myshopify.com', 'A', 'EUR', 'UTC'), (20, 'b.myshopify.com', 'B', 'USD', 'UTC');
            INSERT INTO app_dashboard.user_shops VALUES (1, 10), (2, 20);
            INSERT INTO app_dashboard.sync_jobs (shop_id, source, kind) VALUES (10, 'shopify', 'RECENT'),
                                                                            (20, 'shopify', 'RECENT');
            INSERT INTO app_dashboard.sync_events (shop_id, level, message) VALUES (10, 'INFO', 'a'),
                                                                                 (20, 'INFO', 'b');
            INSERT INTO app_dashboard.shop_credentials (shop_id, kind, access_token_enc)
                VALUES (10, 'admin_token', 'x');
        """))


@pytest.mark.parametrize("table,column", [
    ("reporting.shop_directory", "shop_id"),
    ("app_dashboard.shops", "id"),
    ("app_dashboard.sync_jobs", "shop_id"),
    ("app_dashboard.sync_events", "shop_id"),
    ("app_dashboard.user_shops", "shop_id"),
])
def test_web_role_sees_only_granted_shops(owner_sessions, web_sessions, table, column):
    _seed(owner_sessions)
    for user_id, expected in ((1, [10]), (2, [20]), (None, [])):
        with session_scope(web_sessions) as session:
            set_app_user(session, user_id)
            assert list(session.scalars(text(f"SELECT {column} FROM {table} ORDER BY 1"))) == expected


@pytest.mark.parametrize("sql", [
    "SELECT * FROM app_dashboard.shop_credentials",
    "SELECT access_token_enc FROM app_dashboard.ad_accounts",
    "CREATE TABLE core_warehouse.x (id int)",
    "SELECT * FROM core_warehouse.nothing_here",
    "UPDATE app_dashboard.users SET role = 'admin'",
    "UPDATE app_dashboard.sync_jobs SET status = 'failed'",
    "SET LOCAL ROLE dashboard_scheduler",
])
def test_web_role_is_refused(owner_sessions, web_sessions, sql):
    _seed(owner_sessions)
    with pytest.raises(ProgrammingError), session_scope(web_sessions) as session:
        set_app_user(session, 1)
        session.execute(text(sql))


def test_web_role_may_request_a_job_only_for_a_granted_shop(owner_sessions, web_sessions):
    _seed(owner_sessions)
    with session_scope(web_sessions) as session:
        set_app_user(session, 1)
        session.execute(text("INSERT INTO app_dashboard.sync_jobs (shop_id, source, kind) "
                             "VALUES (10, 'meta', 'INCREMENTAL')"))
    with pytest.raises(ProgrammingError, match="row-level security"), session_scope(web_sessions) as session:
        set_app_user(session, 1)
        session.execute(text("INSERT INTO app_dashboard.sync_jobs (shop_id, source, kind) "
                             "VALUES (20, 'meta', 'INCREMENTAL')"))


def test_user_setting_does_not_leak_into_the_next_transaction(owner_sessions, web_sessions):
    _seed(owner_sessions)
    engine_sessions = web_sessions
    with session_scope(engine_sessions) as session:
        set_app_user(session, 1)
    with session_scope(engine_sessions) as session:  # same pooled connection, no user set
        assert session.scalar(text("SELECT count(*) FROM app_dashboard.shops")) == 0
