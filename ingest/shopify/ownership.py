"""Whether a bulk file's objects belong to a store, before `load-bulk` loads it there.

A sample of the file's top-level objects (orders, customers or products) is checked two ways:
- against the warehouse: an object the store already holds under the same id must have the same creation
  time (Shopify never changes it), else the file is another store's and would overwrite this one's rows;
- against the store's Admin API, an id search: Shopify answers only the store's own objects. An object
  deleted since the file was written is missing too, so the file is refused when over half the sample is
  missing, or when any object Shopify returns was created at another time.
When Shopify cannot be asked (no credential, no network), the warehouse check stands alone and says so.
"""

import json
import random
from datetime import datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from database import session_scope
from ingest.shopify import queries
from ingest.shopify.auth import client_for_shop

SAMPLE_SIZE = 25
ROOTS = {"orders": "orders", "order_sales": "orders", "customers": "customers", "products": "products"}
TABLES = {"orders": ("core_warehouse.orders", "order_id"), "customers": ("core_warehouse.customers", "customer_id"),
          "products": ("core_warehouse.products", "product_id")}


class ForeignFile(Exception):
    """The file holds another store's objects; the message says how that was told."""


def check(*, sessions: sessionmaker, shop_id: int, domain: str, path: Path, part: str) -> str:
    """Raise ForeignFile when the file is another store's; return what was checked, in a few words."""
    sample = sample_objects(path)
    if not sample:
        return "no object to check"
    root = ROOTS[part]
    differing = _differing_in_warehouse(sessions, shop_id, root, sample)
    if differing:
        raise ForeignFile(f"{differing} of {len(sample)} sampled {root} in {path.name} have the id of one of "
                          f"{domain}'s {root} but another creation time: the file is another store's")
    try:
        known = _known_to_shopify(sessions, shop_id, root, sample)
    except Exception as error:  # noqa: BLE001  (any failure to ask leaves the warehouse check alone)
        return f"checked against the warehouse only (Shopify could not be asked: {str(error)[:200]})"
    missing = [node for node in sample if node["id"] not in known]
    redated = [node for node in sample if node["id"] in known and not _same_time(node, known[node["id"]])]
    if redated or len(missing) * 2 > len(sample):
        raise ForeignFile(f"{len(missing) + len(redated)} of {len(sample)} sampled {root} in {path.name} are not "
                          f"{domain}'s (Shopify does not know them, or dates them otherwise): the file is another "
                          "store's")
    return f"{len(sample) - len(missing)} of {len(sample)} sampled {root} confirmed by Shopify"


def sample_objects(path: Path, size: int = SAMPLE_SIZE) -> list[dict]:
    """Up to `size` top-level objects ({id, createdAt}) spread over the file (reservoir sampling, seeded)."""
    chooser, chosen, seen = random.Random(0), [], 0
    with open(path, "rb") as lines:
        for line in lines:
            try:
                node = json.loads(line)
            except ValueError:
                continue  # malformed lines are load's business (quarantined)
            if not isinstance(node, dict) or "__parentId" in node or not isinstance(node.get("id"), str):
                continue
            seen += 1
            if len(chosen) < size:
                chosen.append(node)
            elif (slot := chooser.randrange(seen)) < size:
                chosen[slot] = node
    return [{"id": node["id"], "createdAt": node.get("createdAt")} for node in chosen]


def _differing_in_warehouse(sessions: sessionmaker, shop_id: int, root: str, sample: list[dict]) -> int:
    table, column = TABLES[root]
    with session_scope(sessions) as session:
        held = dict(session.execute(text(f"SELECT {column}, created_at FROM {table} "
                                         f"WHERE shop_id = :s AND {column} = ANY(:ids)"),
                                    {"s": shop_id, "ids": [node["id"] for node in sample]}).all())
    return sum(1 for node in sample if node["id"] in held and node["createdAt"]
               and _parse(node["createdAt"]) != held[node["id"]])


def _known_to_shopify(sessions: sessionmaker, shop_id: int, root: str, sample: list[dict]) -> dict[str, str]:
    search = " OR ".join(f"id:{node['id'].rsplit('/', 1)[-1]}" for node in sample)
    data = client_for_shop(sessions, shop_id).execute(queries.OWNED % {"Root": root.title(), "root": root},
                                                      {"search": search})
    return {node["id"]: node["createdAt"] for node in data[root]["nodes"]}


def _same_time(node: dict, created_at: str | None) -> bool:
    return not node["createdAt"] or _parse(node["createdAt"]) == _parse(created_at)


def _parse(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
