"""Every GraphQL document the client sends is valid against the real Admin API 2026-01 schema."""

import pytest
from graphql import parse, validate

import settings
from ingest.shopify import queries
from sandbox.bulk import _check
from sandbox.shopify_graphql import MAX_QUERY_COST, load_schema, requested_cost

SCHEMA = load_schema(settings.SHOPIFY_API_VERSION)


@pytest.mark.parametrize("name", sorted(queries.DOCUMENTS))
def test_document_validates_against_the_schema(name):
    assert validate(SCHEMA, parse(queries.DOCUMENTS[name])) == []


@pytest.mark.parametrize("part", sorted(queries.BULK_TEMPLATES))
def test_bulk_queries_follow_shopifys_bulk_rules(part):
    document = queries.bulk_query(part, "created_at:>='2025-01-01T00:00:00Z' AND created_at:<'2025-04-01T00:00:00Z'")
    assert validate(SCHEMA, parse(document)) == []
    assert _check(SCHEMA, document) is None  # one root connection, at most 5 connections, nesting depth 2


@pytest.mark.parametrize("resource", sorted(queries.PAGE_SIZES))
def test_paged_queries_stay_under_the_single_query_cost_limit(resource):
    document = parse(queries.DOCUMENTS[f"{resource.title()}Page"])
    assert requested_cost(SCHEMA, document, {"first": queries.PAGE_SIZES[resource]}) <= MAX_QUERY_COST


def test_search_quotes_are_escaped_in_bulk_queries():
    document = queries.bulk_query("orders", 'tag:"vip"')
    assert validate(SCHEMA, parse(document)) == []
