"""The reporting tests reuse the Shopify ingestion's fixtures: a sandbox store over HTTP, a connected shop."""

from tests.ingest.shopify.conftest import clock, frozen_now, sandbox, shop_id, store, worker  # noqa: F401
