"""Sandbox speed: orders generated per second, and bulk JSONL bytes served per second.

The baseline, measured in the same run: the same orders query answered by graphql-core's executor (how the
paginated API answers), against which the bulk fast path (walking the selection over plain dicts) is compared.
Run: `.venv/bin/python -m bench.sandbox [--orders 100000]` (1,000,000 for the million-order store).
"""

import argparse
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import islice

from graphql import parse

from sandbox.bulk import Operation, Walker
from sandbox.generator import build_store, demo_specs
from sandbox.shopify_api import ShopifyAPI
from sandbox.shopify_graphql import load_schema

FIELDS = """id name createdAt updatedAt processedAt cancelledAt test currencyCode presentmentCurrencyCode
    sourceName landingPageUrl email tags displayFinancialStatus taxesIncluded
    subtotalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
    totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
    totalDiscountsSet { shopMoney { amount } } totalTaxSet { shopMoney { amount } }
    totalShippingPriceSet { shopMoney { amount } } totalRefundedSet { shopMoney { amount } }
    customer { id email } shippingAddress { city provinceCode countryCodeV2 zip }"""
LINES = "lineItems { edges { node { id sku quantity originalUnitPriceSet { shopMoney { amount } } } } }"
BULK_QUERY = f"{{ orders {{ edges {{ node {{ {FIELDS} {LINES} }} }} }} }}"
# The same fields, paged as the API allows: 2 + 25 * (17 + 2 + 5 * 3) = 852 points, under the 1000 limit.
PAGE_QUERY = (f"query($after: String) {{ orders(first: 25, after: $after, sortKey: CREATED_AT) {{ nodes {{ {FIELDS} "
              "lineItems(first: 5) { nodes { id sku quantity originalUnitPriceSet { shopMoney { amount } } } } } "
              "pageInfo { endCursor } } }")
SAMPLE = 5_000


def big_store(orders: int):
    """One demo store stretched to about `orders` orders over the last 60 days."""
    spec = demo_specs(stores=1, seed=11)[0]
    per_day = orders / 60
    return build_store(replace(spec, orders_per_day=per_day, start=spec.end - timedelta(days=59)))


def measure_generation(store) -> tuple[int, float]:
    started = time.perf_counter()
    count = sum(1 for _ in store.iter_orders())
    return count, time.perf_counter() - started


def measure_bulk(store, orders) -> tuple[int, int, float]:
    """The bulk fast path: walk the validated selection over plain dicts and serialise the lines."""
    schema = load_schema("2026-01")
    root = parse(BULK_QUERY).definitions[0].selection_set.selections[0]
    op = Operation(id="bench", shop=store.spec.domain, query=BULK_QUERY, group_objects=False, created_at=None)
    started = time.perf_counter()
    size = sum(len(line) for line in Walker(schema, {}).lines(root, orders, op))
    return op.root_object_count, size, time.perf_counter() - started


def measure_executor(store, sample: list[dict]) -> tuple[int, float]:
    """The baseline: the same fields through graphql-core's executor, page after page."""
    after_history = datetime.combine(store.spec.end + timedelta(days=1), datetime.min.time(), UTC)
    api = ShopifyAPI([store], now=lambda: after_history)  # the whole history has happened
    store.orders = lambda: sample  # serve just the sample, so the baseline measures execution alone
    started = time.perf_counter()
    served, after = 0, None
    while served < len(sample):
        api.buckets.pop(store.spec.domain, None)  # never throttle the benchmark
        status, body = api.handle(shop=store.spec.domain, version="2026-01", token=store.spec.access_token,
                                  body={"query": PAGE_QUERY, "variables": {"after": after}})
        assert status == 200 and "errors" not in body, body.get("errors")
        served += len(body["data"]["orders"]["nodes"])
        after = body["data"]["orders"]["pageInfo"]["endCursor"]
    return served, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    args = parser.parse_args()
    store = big_store(args.orders)
    generated, gen_seconds = measure_generation(store)
    whole, whole_bytes, whole_seconds = measure_bulk(store, store.iter_orders())
    sample = list(islice(store.iter_orders(), SAMPLE))  # streamed: never the whole store in memory
    walked, walked_bytes, walk_seconds = measure_bulk(store, sample)
    executed, exec_seconds = measure_executor(store, sample)
    walk_rate, exec_rate = walked / walk_seconds, executed / exec_seconds
    print(f"\nSandbox speed, one store of {generated:,} orders\n")
    print("| what | orders | seconds | orders/s | MB/s |\n|---|---|---|---|---|")
    print(f"| generate orders (dicts) | {generated:,} | {gen_seconds:.1f} | {generated / gen_seconds:,.0f} | |")
    print(f"| bulk JSONL end to end (generate, walk, serialise) | {whole:,} | {whole_seconds:.1f} | "
          f"{whole / whole_seconds:,.0f} | {whole_bytes / whole_seconds / 1e6:.1f} |")
    print(f"| bulk fast path on a generated sample (walk, serialise) | {walked:,} | {walk_seconds:.2f} | "
          f"{walk_rate:,.0f} | {walked_bytes / walk_seconds / 1e6:.1f} |")
    print(f"| same sample and fields via graphql-core's executor, 25 a page (baseline) | {executed:,} | "
          f"{exec_seconds:.2f} | {exec_rate:,.0f} | |")
    print(f"\nfast path / executor = {walk_rate / exec_rate:.1f}x; "
          f"a million orders as bulk JSONL end to end: {1e6 * whole_seconds / whole / 60:.1f} min")


if __name__ == "__main__":
    main()
