"""connect_store with each kind of credential, against the sandbox over HTTP and a real PostgreSQL."""

import pytest
from sqlalchemy import select, text

import settings
from database import session_scope
from ingest import crypto
from ingest.shopify.auth import exchange_code
from ingest.shopify.connect import ConnectError, connect_store
from models import Shop, ShopCredential, SyncCursor, SyncJob
from tests.conftest import scalar


def _connect(sessions, **kwargs) -> Shop:
    with session_scope(sessions) as session:
        return connect_store(session=session, **kwargs)


def _credential(sessions, shop_id) -> ShopCredential:
    with session_scope(sessions) as session:
        return session.get(ShopCredential, shop_id)


def _nothing_stored(sessions) -> bool:
    return scalar(sessions, "SELECT count(*) FROM app_dashboard.shops") == 0 and \
        scalar(sessions, "SELECT count(*) FROM app_dashboard.shop_credentials") == 0


def test_connect_with_a_custom_app_token_stores_the_shop_and_encrypted_secrets(shopify_world, scheduler_sessions,
                                                                                make_user):
    store = shopify_world.stores[1]
    admin = make_user("boss@agency.test", role="admin")
    member = make_user("ana@agency.test")
    other = make_user("bo@agency.test")
    shop = _connect(scheduler_sessions, domain=store["shop_domain"].split(".")[0].upper(),
                    access_token=store["access_token"], webhook_secret=store["client_secret"], granted_to=[member])
    assert (shop.shop_domain, shop.name, shop.currency, shop.iana_timezone, shop.plan, shop.status) == (
        store["shop_domain"], store["name"], store["currency"], store["iana_timezone"], store["plan"], "active")
    assert shop.shopify_gid.startswith("gid://shopify/Shop/")
    credential = _credential(scheduler_sessions, shop.id)
    assert credential.kind == "admin_token" and credential.expires_at is None
    assert credential.scopes.split(",") == list(settings.SHOPIFY_SCOPES)
    assert crypto.decrypt(credential.access_token_enc) == store["access_token"]
    assert crypto.decrypt(credential.webhook_secret_enc) == store["client_secret"]
    with session_scope(scheduler_sessions) as session:
        row = session.execute(text("SELECT * FROM app_dashboard.shop_credentials")).mappings().one()
    assert not any(secret in str(value) for value in row.values()
                   for secret in (store["access_token"], store["client_secret"]))
    granted = scalar(scheduler_sessions, "SELECT array_agg(user_id ORDER BY user_id) FROM app_dashboard.user_shops")
    assert granted == sorted([admin, member]) and other not in granted


def test_connect_with_client_credentials(shopify_world, scheduler_sessions):
    store = shopify_world.stores[0]
    shop = _connect(scheduler_sessions, domain=store["shop_domain"], client_id=store["client_id"],
                    client_secret=store["client_secret"])
    credential = _credential(scheduler_sessions, shop.id)
    assert credential.kind == "client_credentials" and credential.client_id == store["client_id"]
    assert crypto.decrypt(credential.client_secret_enc) == store["client_secret"]
    assert credential.expires_at is not None and credential.refresh_token_enc is None
    assert store["client_secret"] not in credential.client_secret_enc


def test_connect_with_oauth_tokens_keeps_the_refresh_token(shopify_world, scheduler_sessions):
    store = shopify_world.stores[0]
    tokens = exchange_code(store["shop_domain"], shopify_world.authorize(store)["code"])
    shop = _connect(scheduler_sessions, domain=store["shop_domain"], oauth_tokens=tokens)
    credential = _credential(scheduler_sessions, shop.id)
    assert credential.kind == "oauth" and crypto.decrypt(credential.refresh_token_enc) == tokens.refresh_token
    assert credential.refresh_expires_at is not None and tokens.refresh_token not in credential.refresh_token_enc


def test_a_token_lacking_scopes_is_refused_naming_them(shopify_world, scheduler_sessions):
    store = shopify_world.stores[0]
    callback = shopify_world.authorize(store, scope="read_orders,read_products")
    tokens = exchange_code(store["shop_domain"], callback["code"])
    with pytest.raises(ConnectError, match="read_all_orders, read_customers") as raised:
        _connect(scheduler_sessions, domain=store["shop_domain"], oauth_tokens=tokens)
    assert "read_orders," not in str(raised.value)
    assert _nothing_stored(scheduler_sessions)


def test_a_revoked_token_is_refused(shopify_world, scheduler_sessions):
    store = shopify_world.stores[1]
    shopify_world.revoke(store)
    with pytest.raises(ConnectError, match="Shopify refused this token"):
        _connect(scheduler_sessions, domain=store["shop_domain"], access_token=store["access_token"])
    assert _nothing_stored(scheduler_sessions)


@pytest.mark.parametrize("kwargs,says", [
    ({"domain": "example.com", "access_token": "shpat_x"}, "not a myshopify.com address"),
    ({"domain": "my-store", "client_id": "x"}, "both the client ID and the client secret"),
    ({"domain": "my-store"}, "exactly one credential"),
])
def test_bad_input_is_refused_before_calling_shopify(scheduler_sessions, kwargs, says):
    with pytest.raises(ConnectError, match=says):
        _connect(scheduler_sessions, **kwargs)


def test_wrong_client_secret_is_refused(shopify_world, scheduler_sessions):
    store = shopify_world.stores[0]
    with pytest.raises(ConnectError, match="refused the client ID and secret"):
        _connect(scheduler_sessions, domain=store["shop_domain"], client_id=store["client_id"], client_secret="no")
    assert _nothing_stored(scheduler_sessions)


def test_connect_queues_the_first_syncs_and_sets_the_cursors(shopify_world, scheduler_sessions):
    store = shopify_world.stores[1]
    shop = _connect(scheduler_sessions, domain=store["shop_domain"], access_token=store["access_token"])
    with session_scope(scheduler_sessions) as session:
        queued = {j.kind: j for j in session.scalars(select(SyncJob).where(SyncJob.shop_id == shop.id))}
        cursors = {c.resource: c.cursor_at for c in session.scalars(select(SyncCursor))}
    assert set(queued) == {"RECENT", "HISTORICAL_INIT"}
    assert all(j.source == "shopify" and j.status == "queued" for j in queued.values())
    assert queued["RECENT"].priority > queued["HISTORICAL_INIT"].priority
    assert set(cursors) == {"orders", "customers", "products"} and all(cursors.values())


def test_reconnecting_updates_the_shop_its_credential_cursors_jobs_and_webhooks_once(shopify_world, scheduler_sessions):
    store = shopify_world.stores[0]
    first = _connect(scheduler_sessions, domain=store["shop_domain"], access_token=store["access_token"])
    with session_scope(scheduler_sessions) as session:
        session.get(Shop, first.id).status, session.get(Shop, first.id).status_reason = "disconnected", "uninstalled"
        cursors = dict(session.execute(select(SyncCursor.resource, SyncCursor.cursor_at)).all())
    second = _connect(scheduler_sessions, domain=f"https://{store['shop_domain']}/admin",
                      client_id=store["client_id"], client_secret=store["client_secret"])
    assert second.id == first.id and (second.status, second.status_reason) == ("active", None)
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.shops") == 1
    assert _credential(scheduler_sessions, first.id).kind == "client_credentials"
    with session_scope(scheduler_sessions) as session:
        assert dict(session.execute(select(SyncCursor.resource, SyncCursor.cursor_at)).all()) == cursors
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.sync_jobs") == 2  # still one live each
    topics = sorted(s["topic"] for s in shopify_world.subscriptions(store))
    assert topics == sorted(settings.SHOPIFY_WEBHOOK_TOPICS)
    assert {s["uri"] for s in shopify_world.subscriptions(store)} == {f"{settings.WEBHOOK_BASE_URL}/webhooks/shopify"}
