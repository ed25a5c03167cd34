"""`flask --app app users ...` and `tokens rotate`."""

from cryptography.fernet import Fernet
from sqlalchemy import func, select, text

from dashboard import accounts
from database import session_scope
from ingest import crypto
from models import LoginAttempt, ShopCredential, User, UserShop


def test_create_and_grant(server, scheduler_sessions, make_shop):
    make_shop("alpha.myshopify.com")
    beta = make_shop("beta.myshopify.com")
    runner = server.test_cli_runner()
    result = runner.invoke(args=["users", "create", "--email", "ana@agency.test", "--password", "long enough, really",
                                 "--role", "admin", "--name", "Ana"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["users", "grant", "--email", "ana@agency.test", "--shop", "beta.myshopify.com"])
    assert result.exit_code == 0, result.output
    with session_scope(scheduler_sessions) as session:
        user = session.scalar(select(User))
        assert (user.email, user.role, user.name) == ("ana@agency.test", "admin", "Ana")
        assert list(session.scalars(select(UserShop.shop_id))) == [beta]
    result = runner.invoke(args=["users", "grant", "--email", "ana@agency.test", "--all-shops"])
    assert result.exit_code == 0
    assert "ana@agency.test" in runner.invoke(args=["users", "list"]).output


def test_errors_are_clear(server, make_shop):
    runner = server.test_cli_runner()
    short = runner.invoke(args=["users", "create", "--email", "a@x.test", "--password", "short"])
    assert short.exit_code != 0 and "12 characters" in short.output
    runner.invoke(args=["users", "create", "--email", "a@x.test", "--password", "long enough, really"])
    unknown = runner.invoke(args=["users", "grant", "--email", "a@x.test", "--shop", "nope.myshopify.com"])
    assert unknown.exit_code != 0 and "nope.myshopify.com" in unknown.output


def test_set_password_ends_sessions_and_forgets_failed_logins(server, make_user, scheduler_sessions, web_sessions):
    user_id = make_user("a@x.test")
    with session_scope(web_sessions) as session:
        accounts.take_login_attempt(session=session, email="A@x.test", address="127.0.0.2")
    runner = server.test_cli_runner()
    result = runner.invoke(args=["users", "set-password", "--email", "a@x.test", "--password", "a new password"])
    assert result.exit_code == 0
    with session_scope(scheduler_sessions) as session:
        assert session.scalar(select(User.session_version).where(User.id == user_id)) == 2
        assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 0
        assert accounts.check_password(session=session, email="a@x.test", password="a new password").id == user_id


def test_tokens_rotate_moves_every_secret_to_the_new_key(server, monkeypatch, make_shop, scheduler_sessions):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    shop = make_shop()
    with session_scope(scheduler_sessions) as session:
        session.add(ShopCredential(shop_id=shop, kind="oauth", access_token_enc=crypto.encrypt("shpat_a", keys=old),
                                   refresh_token_enc=crypto.encrypt("shprt_b", keys=old)))
    monkeypatch.setattr(crypto.settings, "TOKEN_ENCRYPTION_KEYS", f"{new},{old}")
    result = server.test_cli_runner().invoke(args=["tokens", "rotate"])
    assert result.exit_code == 0 and "re-encrypted 2 secret(s)" in result.output
    with session_scope(scheduler_sessions) as session:
        credential = session.get(ShopCredential, shop)
        assert crypto.decrypt(credential.access_token_enc, keys=new) == "shpat_a"
        assert crypto.decrypt(credential.refresh_token_enc, keys=new) == "shprt_b"


def test_shops_connect_and_list(server, shopify_world, scheduler_sessions):
    runner = server.test_cli_runner()
    first, second = shopify_world.stores
    result = runner.invoke(args=["shops", "connect", first["shop_domain"].split(".")[0], "--client-id",
                                 first["client_id"], "--client-secret", first["client_secret"]])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["shops", "connect", second["shop_domain"], "--token", second["access_token"],
                                 "--webhook-secret", second["client_secret"]])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["shops", "list"]).output
    assert f"{first['shop_domain']}\t{first['name']}\tactive\tclient_credentials" in listed
    assert f"{second['shop_domain']}\t{second['name']}\tactive\tadmin_token" in listed


def test_shops_connect_explains_refusals(server, shopify_world):
    runner = server.test_cli_runner()
    store = shopify_world.stores[1]
    both = runner.invoke(args=["shops", "connect", store["shop_domain"], "--token", "x", "--client-id", "y"])
    assert both.exit_code != 0 and "either --token" in both.output
    wrong = runner.invoke(args=["shops", "connect", store["shop_domain"], "--token", "shpat_wrong"])
    assert wrong.exit_code != 0 and "Shopify refused this token" in wrong.output


def test_jobs_list_and_cancel(server, make_shop, scheduler_sessions):
    from ingest import jobs

    shop = make_shop("alpha.myshopify.com")
    with session_scope(scheduler_sessions) as session:
        job_id, _ = jobs.enqueue(session=session, shop_id=shop, source="shopify", kind="INCREMENTAL")
    runner = server.test_cli_runner()
    assert f"{job_id}\talpha.myshopify.com\tshopify\tINCREMENTAL" in runner.invoke(args=["jobs", "list"]).output
    assert runner.invoke(args=["jobs", "cancel", str(job_id)]).output.strip() == "Cancelled."
    assert runner.invoke(args=["jobs", "list"]).output == ""
    assert "cancelled" in runner.invoke(args=["jobs", "list", "--all"]).output
    assert "does not exist" in runner.invoke(args=["jobs", "cancel", "999"]).output
    with session_scope(scheduler_sessions) as session:
        assert session.execute(text("SELECT action FROM app_dashboard.audit_log")).scalar() == "sync.cancel"
