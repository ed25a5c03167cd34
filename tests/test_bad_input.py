"""Bad input at the web's edge gets a clear answer (a fallback, a 400 or a 404), never a 500."""

import uuid
from urllib.parse import urlencode

import pytest

from database import session_scope
from ingest import crypto
from ingest.shopify import signing
from models import ShopCredential
from sandbox.webhooks import sign
from tests.conftest import scalar
from tests.web import callback, csrf_token, login

HUGE = "9" * 5000
SECRET = "shpss_test_secret"


@pytest.fixture
def member(client, make_shop, make_user):
    """A logged-in member granted one store; returns the store's id."""
    shop = make_shop("alpha.myshopify.com", "Alpha Outdoor")
    make_user("ana@agency.test", shops=[shop])
    login(client, "ana@agency.test")
    return shop


def render(client, path, search):
    return callback(client, "_pages_content.children",
                    {"_pages_location.pathname": path, "_pages_location.search": search})


@pytest.mark.parametrize("search", ["?shop=²", f"?shop={HUGE}", "?shop=99999999999999999999",
                                    "?preset=custom&start=0001-01-01&end=0001-01-05",
                                    "?preset=custom&start=9999-12-31&end=9999-12-31&compare=previous_year",
                                    "?preset=custom&start=0001-01-01&end=2026-01-01"])
@pytest.mark.parametrize("path", ["/", "/status"])
def test_a_malformed_url_selection_renders_a_page(client, member, path, search):
    response = render(client, path, search)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]


@pytest.mark.parametrize("search", ["?shop=²", f"?shop={HUGE}", "?preset=custom&start=0001-01-01&end=0001-01-02"])
def test_the_selector_callback_answers_a_malformed_url_with_defaults(client, member, search):
    response = callback(client, "shop.value", {"_pages_location.search": search})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.get_json()["response"]["shop"]["value"] == "all" or "start=0001" in search


def test_the_selector_callback_answers_a_start_date_of_year_one(client, member):
    response = callback(client, "shop.value", {"_pages_location.search": "",
                                               "dates.start_date": "0001-01-01", "dates.end_date": "0001-01-03"})
    # changedPropIds names the first value: the URL; name the dates instead, as a click on the picker does
    assert response.status_code == 200


@pytest.mark.parametrize("shop", ["99999999999999999999", HUGE, "²", "-1", "all", None])
def test_the_event_log_store_filter_takes_any_value(client, member, shop):
    response = callback(client, "event-rows.children", {"event-shop.value": shop, "event-level.value": ["INFO"]})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]


@pytest.mark.parametrize("levels,last_id", [("INFO", None), ([1, None], None), (["INFO"], "x"), (["INFO"], HUGE)])
def test_the_event_log_takes_any_level_and_last_id(client, member, levels, last_id):
    response = callback(client, "event-rows.children", {"event-level.value": levels, "event-last-id.data": last_id})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]


@pytest.mark.parametrize("shop", ["all", "99999999999999999999", HUGE, "²", {"a": 1}, [1]])
def test_the_status_refresh_takes_any_store(client, member, shop):
    response = callback(client, "status-sources.children", {"status-shop.data": shop,
                                                            "_sync_poll.n_intervals": 1})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]


@pytest.mark.parametrize("shop", ["all", "99999999999999999999", HUGE, "²", "-1", "0"])
def test_the_status_api_answers_a_malformed_store_id_with_400_or_404(client, member, shop):
    response = client.get(f"/api/sync/{shop}/status")
    assert response.status_code in (400, 404), response.get_data(as_text=True)[:300]
    if response.status_code == 400:
        assert "store id" in response.get_json()["error"]


def test_the_status_api_still_answers_a_granted_store(client, member):
    response = client.get(f"/api/sync/{member}/status")
    assert response.status_code == 200 and response.get_json()["shop_id"] == member


@pytest.mark.parametrize("target", ["/status\r\nSet-Cookie: x=1", "/\nx", "/\r\nLocation: http://evil.test",
                                    "/\x00", "/\\evil.test", "/é"])
def test_login_next_with_control_characters_or_a_backslash_goes_home(client, make_user, target):
    make_user("ana@agency.test")
    form = {"email": "ana@agency.test", "password": "correct horse", "csrf_token": csrf_token(client)}
    response = client.post("/login?" + urlencode({"next": target}), data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert response.headers["Location"] == "/"
    response = client.get("/login?" + urlencode({"next": target}))  # logged in already: straight on
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_login_next_still_leads_to_a_page_with_its_selection(client, make_user):
    make_user("ana@agency.test")
    form = {"email": "ana@agency.test", "password": "correct horse", "csrf_token": csrf_token(client)}
    response = client.post("/login?" + urlencode({"next": "/status?shop=all"}), data=form)
    assert response.headers["Location"] == "/status?shop=all"


# -- signed webhook bodies the inbox cannot hold -------------------------------------------------------------

@pytest.fixture
def webhook_shop(scheduler_sessions, make_shop) -> tuple[int, str]:
    """A connected shop whose webhooks are signed with SECRET: (id, domain)."""
    domain = "webhook-shop.myshopify.com"
    shop_id = make_shop(domain)
    with session_scope(scheduler_sessions) as session:
        session.add(ShopCredential(shop_id=shop_id, kind="admin_token", access_token_enc=crypto.encrypt("shpat_x"),
                                   webhook_secret_enc=crypto.encrypt(SECRET)))
        signing.save_key(session=session, shop_id=shop_id, secret=SECRET)  # what connecting stores
    return shop_id, domain


def post_webhook(client, body: bytes, domain: str, topic: str = "orders/updated", **headers):
    headers = {"Content-Type": "application/json", "X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": domain,
               "X-Shopify-Webhook-Id": str(uuid.uuid4()), "X-Shopify-Hmac-Sha256": sign(body, SECRET), **headers}
    return client.post("/webhooks/shopify", data=body, headers=headers)


UNREADABLE_BODIES = {
    "NUL": (b'{"id": 1, "note": "a\\u0000b"}', "NUL"),
    "NUL in a key": (b'{"a\\u0000": 1}', "NUL"),
    "deep nesting": (b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    "unpaired surrogate": (b'{"note": "\\ud800"}', "surrogate"),
    "NaN": (b'{"total": NaN}', "not JSON"),
    "infinite number": (b'{"total": 1e999}', "not JSON"),
    "huge integer": (b'{"id": ' + b"9" * 5000 + b"}", "not JSON"),
    "bad UTF-8": (b'{"note": "\xff"}', "not JSON"),
}


@pytest.mark.parametrize("name", list(UNREADABLE_BODIES))
def test_a_signed_body_the_inbox_cannot_hold_is_kept_with_its_reason_and_refused(
        client, scheduler_sessions, webhook_shop, name):
    from ingest.shopify import webhooks

    shop_id, domain = webhook_shop
    body, reason = UNREADABLE_BODIES[name]
    response = post_webhook(client, body, domain, topic="shop/redact")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.get_json()["status"] == "refused" and reason in response.get_json()["reason"]
    assert webhooks.drain(sessions=scheduler_sessions) == 1
    outcome = scalar(scheduler_sessions, "SELECT outcome FROM staging_ingest.webhook_inbox")
    assert outcome.startswith("refused: ") and reason in outcome
    warning = scalar(scheduler_sessions, "SELECT message FROM app_dashboard.sync_events WHERE level = 'WARN'")
    assert warning.startswith("Webhook shop/redact refused: ") and reason in warning
    assert scalar(scheduler_sessions, "SELECT status FROM app_dashboard.shops WHERE id = :s", s=shop_id) == "active"


def test_a_webhook_with_control_characters_in_a_header_is_400(client, scheduler_sessions, webhook_shop):
    _, domain = webhook_shop
    response = post_webhook(client, b'{"id": 1}', domain, topic="orders/updated\x00")
    assert response.status_code == 400
    assert scalar(scheduler_sessions, "SELECT count(*) FROM staging_ingest.webhook_inbox") == 0
