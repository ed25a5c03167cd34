"""Deterministic demo stores shaped like Shopify Admin GraphQL 2026-01: the public names, from the rooms below.

Everything is derived from `StoreSpec.seed`. Orders are planned day by day from a per-day seed, so any range of
days can be regenerated without the days before it and a million-order store streams in constant memory.

The generator first decides what *happened* (a `SimOrder`: lines with their amounts and a list of `SimEvent`s:
the sale, later refunds, a cancellation), then renders the API-shaped dict from it. `sandbox.truth` computes the
expected report figures from the same events, never from the rendered dicts.

| module | job |
|---|---|
| `specs` | what a store is before generation: `StoreSpec`, `AdAccountSpec`, `demo_specs` |
| `catalog`, `customers` | the products and the customers of a store |
| `plans` | what shoppers did, day by day (`PlannedOrder`) |
| `simulation` | what happened to each order: amounts, sale, refunds, edits, cancellations (`SimOrder`) |
| `render` | a simulated order as the API's dict |
| `store` | `Store`, all of the above put together, and `build_store` |
"""

from sandbox.plans import PlannedLine, PlannedOrder, PlannedRefund
from sandbox.simulation import EDIT_NUMBER, MAX_EVENT_LAG_DAYS, SimEvent, SimLine, SimOrder, SimSale
from sandbox.specs import PLANS, SCOPES, AdAccountSpec, StoreSpec, demo_specs
from sandbox.store import Store, build_store

__all__ = [
    "EDIT_NUMBER",
    "MAX_EVENT_LAG_DAYS",
    "PLANS",
    "SCOPES",
    "AdAccountSpec",
    "PlannedLine",
    "PlannedOrder",
    "PlannedRefund",
    "SimEvent",
    "SimLine",
    "SimOrder",
    "SimSale",
    "Store",
    "StoreSpec",
    "build_store",
    "demo_specs",
]
