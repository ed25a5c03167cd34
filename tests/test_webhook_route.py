"""POST /webhooks/shopify over HTTP: the HMAC decides, no login and no CSRF token, duplicates land once."""

import json
import uuid

import pytest

import settings
from database import session_scope
from ingest import crypto
from ingest.shopify import signing
from models import ShopCredential
from sandbox.webhooks import sign
from tests.conftest import scalar
from tests.web import login

SECRET = "shpss_test_secret"
BODY = json.dumps({"id": 820982911946154508, "email": "jon@example.com"}).encode()


@pytest.fixture
def domain(scheduler_sessions, make_shop) -> str:
    """A connected shop whose webhooks are signed with SECRET."""
    domain = "webhook-shop.myshopify.com"
    shop_id = make_shop(domain)
    with session_scope(scheduler_sessions) as session:
        session.add(ShopCredential(shop_id=shop_id, kind="admin_token", access_token_enc=crypto.encrypt("shpat_x"),
                                   webhook_secret_enc=crypto.encrypt(SECRET)))
        signing.save_key(session=session, shop_id=shop_id, secret=SECRET)
    return domain


def post(client, body: bytes = BODY, *, domain: str, secret: str | None = SECRET, webhook_id: str | None = None,
         topic: str = "orders/create", **extra):
    headers = {"Content-Type": "application/json", "X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": domain,
               "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()), "X-Shopify-Event-Id": str(uuid.uuid4()),
               "X-Shopify-Triggered-At": "2026-01-15T10:00:00.123Z", "X-Shopify-API-Version": "2026-01", **extra}
    if secret is not None:
        headers["X-Shopify-Hmac-Sha256"] = sign(body, secret)
    return client.post("/webhooks/shopify", data=body, headers=headers)


def inbox(scheduler_sessions) -> int:
    return scalar(scheduler_sessions, "SELECT count(*) FROM staging_ingest.webhook_inbox")


def test_a_signed_delivery_is_landed_without_login_or_csrf(client, scheduler_sessions, domain):
    response = post(client, domain=domain, webhook_id="abc-1")
    assert response.status_code == 200, response.get_data(as_text=True)
    row = scalar(scheduler_sessions, "SELECT row_to_json(i)::text FROM staging_ingest.webhook_inbox i")
    row = json.loads(row)
    assert (row["shop_domain"], row["topic"], row["webhook_id"], row["api_version"]) == \
        (domain, "orders/create", "abc-1", "2026-01")
    assert row["payload"] == json.loads(BODY) and row["processed_at"] is None and row["triggered_at"]


def test_a_duplicate_delivery_answers_200_and_lands_once(client, scheduler_sessions, domain):
    assert post(client, domain=domain, webhook_id="same").status_code == 200
    assert post(client, domain=domain, webhook_id="same").status_code == 200
    assert inbox(scheduler_sessions) == 1


@pytest.mark.parametrize("change", ["wrong secret", "missing header", "tampered body", "unknown shop"])
def test_a_bad_signature_is_401_and_nothing_is_stored(client, scheduler_sessions, domain, change):
    if change == "wrong secret":
        response = post(client, domain=domain, secret="not-the-secret")
    elif change == "missing header":
        response = post(client, domain=domain, secret=None)
    elif change == "tampered body":
        forged = {"X-Shopify-Hmac-Sha256": sign(BODY, SECRET)}  # the signature of another body
        response = post(client, BODY + b" ", domain=domain, secret=None, **forged)
    else:
        response = post(client, domain="someone-else.myshopify.com")
    assert response.status_code == 401
    assert inbox(scheduler_sessions) == 0


def test_a_signed_body_that_is_not_a_json_object_is_kept_and_refused_with_200(client, scheduler_sessions, domain):
    # Shopify sends a body again while it gets no 2xx, then drops the subscription: a bad body is kept instead
    for body, reason in ((b"not json", "not JSON"), (b"[1, 2]", "not a JSON object")):
        response = post(client, body, domain=domain)
        assert response.status_code == 200 and response.get_json()["status"] == "refused"
        assert reason in response.get_json()["reason"]
    assert inbox(scheduler_sessions) == 2


def test_a_delivery_without_its_ids_is_400(client, scheduler_sessions, domain):
    assert post(client, domain=domain, **{"X-Shopify-Webhook-Id": ""}).status_code == 400
    assert inbox(scheduler_sessions) == 0


def test_the_public_apps_secret_also_verifies(client, scheduler_sessions, domain, monkeypatch):
    monkeypatch.setattr(settings, "SHOPIFY_API_SECRET", "app-secret")
    assert post(client, domain=domain, secret="app-secret").status_code == 200
    assert inbox(scheduler_sessions) == 1


def test_only_the_webhook_route_skips_the_gate_and_csrf(client, make_user):
    assert client.post("/api/anything").status_code == 401  # the gate still covers the rest
    make_user("a@example.com")
    login(client, "a@example.com")
    assert client.post("/logout").status_code == 400  # CSRF still applies to other forms
