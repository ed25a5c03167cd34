"""The web role verifies webhooks and logins but obtains no secret: no table it reads, no function it may run."""

import hashlib
import hmac
from datetime import date

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from dashboard import accounts
from database import alembic_config, migrate, session_scope, web_session_scope
from ingest import crypto
from ingest.shopify import signing
from models import ShopCredential
from sandbox.webhooks import sign

SECRET = "shpss_the_client_secret"
PASSWORD = "a long enough password"
EMAIL = "owner@example.com"
BODY = b'{"id": 1}'
# Values of each argument type the web's functions are called with (every combination is tried).
SAMPLES = {"text": lambda c: [c["domain"], EMAIL, sign(BODY, SECRET), ""], "bytea": lambda c: [BODY],
           "bigint": lambda c: [c["shop_id"], c["user_id"]], "integer": lambda c: [c["shop_id"]],
           "boolean": lambda c: [True], "date": lambda c: [date(2026, 11, 30)]}


@pytest.fixture
def secrets(scheduler_sessions, make_shop, make_user) -> dict:
    """A shop with every kind of credential, a user granted it, and the secret strings to look for."""
    domain = "secret-shop.myshopify.com"
    shop_id = make_shop(domain)
    user_id = make_user(EMAIL, role="admin", shops=[shop_id], password=PASSWORD)
    encrypted = {name: crypto.encrypt(f"{name}-value") for name in ("access", "refresh", "client", "webhook")}
    with session_scope(scheduler_sessions) as session:
        session.add(ShopCredential(shop_id=shop_id, kind="client_credentials", client_id="client-id",
                                   access_token_enc=encrypted["access"], refresh_token_enc=encrypted["refresh"],
                                   client_secret_enc=encrypted["client"], webhook_secret_enc=encrypted["webhook"]))
        signing.save_key(session=session, shop_id=shop_id, secret=SECRET)
        password_hash = session.execute(text("SELECT password_hash FROM app_dashboard.users WHERE id = :u"),
                                        {"u": user_id}).scalar()
    digest = password_hash.rsplit("$", 1)[1]
    return {"domain": domain, "shop_id": shop_id, "user_id": user_id,
            "needles": [SECRET, SECRET.encode().hex(), password_hash, digest, *encrypted.values(),
                        *(f"{name}-value" for name in encrypted)]}


def assert_no_secret(found: str, needles: list[str], where: str) -> None:
    for needle in needles:
        assert needle not in found, f"{where} returns a secret"


def test_no_table_the_web_role_reads_holds_a_secret(web_sessions, secrets):
    with web_session_scope(web_sessions, user_id=secrets["user_id"]) as session:
        columns = session.execute(text("""
            SELECT format('%I.%I', n.nspname, c.relname) AS relation, format('%I', a.attname) AS column_name
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE c.relkind IN ('r', 'v', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg_toast%' AND has_column_privilege(c.oid, a.attnum, 'SELECT')
        """)).all()
        assert {row.relation for row in columns} >= {"app_dashboard.users", "app_dashboard.shops"}
        assert ("app_dashboard.users", "password_hash") not in {tuple(row) for row in columns}
        for row in columns:
            values = session.execute(text(f"SELECT string_agg({row.column_name}::text, ' ') FROM {row.relation}"))
            assert_no_secret(str(values.scalar()), secrets["needles"], f"{row.relation}.{row.column_name}")


def test_no_function_the_web_role_may_run_returns_a_secret(web_sessions, secrets):
    with web_session_scope(web_sessions, user_id=secrets["user_id"]) as session:
        functions = session.execute(text("""
            SELECT p.oid::regproc::text AS name, p.proargtypes::regtype[]::text[] AS types
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND p.prokind = 'f'
              AND p.prorettype <> 'trigger'::regtype AND has_function_privilege(p.oid, 'EXECUTE')
        """)).all()
    names = {f.name for f in functions}
    assert {"app_dashboard.verify_webhook", "app_dashboard.login_parameters", "app_dashboard.check_password"} <= names
    assert "app_dashboard.hmac_sha256" not in names and "app_dashboard.webhook_secrets" not in names
    for function in functions:
        for arguments in combinations([SAMPLES[t](secrets) for t in function.types]):
            with web_session_scope(web_sessions, user_id=secrets["user_id"]) as session:
                placeholders = ", ".join(f"CAST(:a{i} AS {t})" for i, t in enumerate(function.types))
                result = session.execute(text(f"SELECT CAST(row(f.*) AS text) FROM {function.name}({placeholders}) f"),
                                         {f"a{i}": value for i, value in enumerate(arguments)}).all()
            assert_no_secret(str(result), secrets["needles"], f"{function.name}{tuple(arguments)}")


def combinations(choices: list[list]) -> list[list]:
    if not choices:
        return [[]]
    return [[first, *rest] for first in choices[0] for rest in combinations(choices[1:])]


def test_the_web_role_verifies_a_signature_without_the_key(web_sessions, secrets):
    with web_session_scope(web_sessions, user_id=None) as session:
        def verify(body: bytes, header: str, domain: str = secrets["domain"]) -> bool:
            return session.execute(text("SELECT app_dashboard.verify_webhook(:d, :b, :h)"),
                                   {"d": domain, "b": body, "h": header}).scalar()

        assert verify(BODY, sign(BODY, SECRET))
        assert not verify(BODY + b" ", sign(BODY, SECRET))
        assert not verify(BODY, sign(BODY, "another secret"))
        assert not verify(BODY, sign(BODY, SECRET), domain="other.myshopify.com")
        assert not verify(BODY, "not base64 at all!")
        assert not verify(BODY, hashlib.sha256(BODY).hexdigest())


def test_logins_are_checked_without_reading_the_hash(web_sessions, secrets):
    with web_session_scope(web_sessions, user_id=None) as session:
        assert accounts.check_password(session=session, email=EMAIL.upper(), password=PASSWORD).id == \
            secrets["user_id"]
    with web_session_scope(web_sessions, user_id=None) as session:
        assert accounts.check_password(session=session, email=EMAIL, password=PASSWORD + "!") is None
        assert accounts.check_password(session=session, email="nobody@example.com", password=PASSWORD) is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.binary(max_size=150), message=st.binary(max_size=300))
def test_the_sql_hmac_is_rfc_2104(owner_sessions, key, message):
    with session_scope(owner_sessions) as session:
        computed = session.execute(text("SELECT app_dashboard.hmac_sha256(:k, :m)"), {"k": key, "m": message}).scalar()
    assert bytes(computed) == hmac.new(key, message, hashlib.sha256).digest()


def test_forgetting_a_stores_credential_forgets_its_signing_key(scheduler_sessions, web_sessions, secrets):
    with session_scope(scheduler_sessions) as session:
        session.execute(text("DELETE FROM app_dashboard.shop_credentials WHERE shop_id = :s"),
                        {"s": secrets["shop_id"]})
    with web_session_scope(web_sessions, user_id=None) as session:
        assert not signing.is_signed(session=session, domain=secrets["domain"], raw_body=BODY,
                                     header=sign(BODY, SECRET))


def test_upgrading_to_0006_gives_connected_stores_their_signing_key(db_url, owner_sessions, web_sessions):
    command.downgrade(alembic_config(db_url), "0005")
    with session_scope(owner_sessions) as session:
        shop_id = session.execute(text("INSERT INTO app_dashboard.shops (shop_domain, name, currency, iana_timezone) "
                                       "VALUES ('connected-before.myshopify.com', 'B', 'EUR', 'UTC') RETURNING id"
                                       )).scalar()
        session.execute(text("INSERT INTO app_dashboard.shop_credentials (shop_id, kind, access_token_enc, "
                             "client_secret_enc) VALUES (:s, 'client_credentials', :t, :c)"),
                        {"s": shop_id, "t": crypto.encrypt("token"), "c": crypto.encrypt(SECRET)})
    migrate(db_url, "head")
    with web_session_scope(web_sessions, user_id=None) as session:
        assert signing.is_signed(session=session, domain="connected-before.myshopify.com", raw_body=BODY,
                                 header=sign(BODY, SECRET))
