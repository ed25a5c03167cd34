"""The Shopify client against the sandbox: pacing by the cost bucket, throttling, errors classified."""

import time

import pytest

from ingest.errors import PermanentError, TransientError
from ingest.shopify import queries
from ingest.shopify.client import REVOKED_HINT, Bucket, ShopifyClient, StaticToken, http_session
from sandbox.shopify_api import ShopifyFaults
from sandbox.shopify_graphql import CostBucket


def client_for(store, **options) -> ShopifyClient:
    return ShopifyClient(store.spec.domain, StaticToken(store.spec.access_token), **options)


def test_bucket_wait_is_what_the_restore_rate_needs():
    bucket = Bucket(maximum=1000, available=100, restore_rate=50, seen_at=10.0)
    assert bucket.wait_for(300, now=10.0) == pytest.approx(4.0)  # 200 missing points at 50/s
    assert bucket.wait_for(300, now=12.0) == pytest.approx(2.0)  # it refilled meanwhile
    assert bucket.wait_for(300, now=20.0) == 0
    assert bucket.wait_for(5000, now=10.0) == pytest.approx(18.0)  # never more than a full bucket


def test_calls_wait_for_the_bucket_instead_of_being_throttled(store):
    # A bucket holding barely one orders page (659 points requested, ~194 actually spent).
    store.sandbox_api.buckets[store.spec.domain] = CostBucket(restore_rate=1000, maximum=700)
    slept = []
    client = client_for(store, sleep=lambda s: (slept.append(s), time.sleep(s)))
    for _ in range(5):
        client.execute(queries.ORDERS_PAGE, {"first": 1})
    assert client.requests == 5  # not one THROTTLED answer to retry
    assert slept and all(0 < s < 1 for s in slept)


@pytest.mark.parametrize("status", [200, 429])
def test_throttled_answers_are_waited_out_whether_200_or_429(store, status):
    store.sandbox_api.faults[store.spec.domain] = ShopifyFaults(throttle=2, throttle_status=status)
    client = client_for(store)
    assert client.execute(queries.SHOP)["shop"]["myshopifyDomain"] == store.spec.domain
    assert client.requests == 3


def test_server_errors_are_retried_then_reported_as_transient(store):
    store.sandbox_api.faults[store.spec.domain] = ShopifyFaults(server_errors=2)
    assert client_for(store, http=http_session(retries=2, backoff=0)).execute(queries.SHOP)["shop"]
    store.sandbox_api.faults[store.spec.domain] = ShopifyFaults(server_errors=1.0)  # every answer
    with pytest.raises(TransientError):
        client_for(store, http=http_session(retries=1, backoff=0)).execute(queries.SHOP)


def test_a_revoked_token_is_permanent_with_a_hint(store):
    store.sandbox_api.uninstall(store.spec.domain)
    with pytest.raises(PermanentError) as caught:
        client_for(store).execute(queries.SHOP)
    assert caught.value.hint == REVOKED_HINT


def test_a_rejected_query_is_permanent(store):
    with pytest.raises(PermanentError, match="rejected a query"):
        client_for(store).execute("{ shop { noSuchField } }")


def test_pages_follow_cursors_to_the_end(store):
    client = client_for(store)
    pages = list(client.pages(queries.CUSTOMERS_PAGE, {"first": 7, "search": ""}, "customers"))
    ids = [node["id"] for page in pages for node in page]
    assert len(pages) > 1 and len(ids) == len(set(ids)) == len(store.customers)
