"""Shopify ingestion from the command line: the GraphQL documents the client sends, and replaying a bulk file.

    python -m ingest.shopify queries
    python -m ingest.shopify load-bulk --shop DOMAIN [--part orders|order_sales|customers|products] FILE

`load-bulk` loads a bulk operation's JSONL result (in the shape of the project's own bulk queries) into a
connected shop as HISTORICAL_INIT does: the file is streamed into staging with COPY (malformed lines are
quarantined, the rest loads), then promoted into the warehouse. Loading a file again changes nothing.
Without `--part`, the part is read from the first line. A file whose objects are another store's is refused
(exit status 2; see ingest/shopify/ownership.py for how that is told). The database is DATABASE_URL, or the embedded
default's when it is unset; the command acts as the scheduler role.
"""

import argparse
import json
import sys
from pathlib import Path

from sqlalchemy import text

import embedded
from database import scheduler_sessionmaker, session_scope
from ingest.shopify import load, ownership, promote, queries

SHOWN_REASONS = 10


class UsageError(Exception):
    """A problem with what was asked, reported in one line."""


def infer_part(path: Path) -> str:
    """The bulk part a file holds, from its first line's `__typename` (an order_sales Order has no createdAt)."""
    with open(path, "rb") as lines:
        first = next((line for line in lines if line.strip()), None)
    if first is None:
        raise UsageError(f"{path} is empty")
    try:
        node = json.loads(first)
    except ValueError as error:
        raise UsageError(f"cannot tell the part from the first line of {path} ({error}): pass --part") from error
    typename = node.get("__typename") if isinstance(node, dict) else None
    if typename == "Order":
        return "orders" if "createdAt" in node else "order_sales"
    parts = {"Customer": "customers", "Product": "products"}
    if typename not in parts:
        raise UsageError(f"cannot tell the part from a first line of type {typename!r}: pass --part")
    return parts[typename]


def load_bulk(*, shop: str, path: Path, part: str | None) -> dict:
    """Land and promote one bulk file into `shop`; return what happened."""
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    part = part or infer_part(path)
    sessions = scheduler_sessionmaker(embedded.default_url())
    with session_scope(sessions) as session:
        shop_id = session.execute(text("SELECT id FROM app_dashboard.shops WHERE shop_domain = :d"),
                                  {"d": shop}).scalar()
    if shop_id is None:
        raise UsageError(f"unknown shop {shop}: connect it first")
    try:  # a file of another store would overwrite this one's rows, or mix its orders into this store's figures
        checked = ownership.check(sessions=sessions, shop_id=shop_id, domain=shop, path=path, part=part)
    except ownership.ForeignFile as error:
        sessions.kw["bind"].dispose()
        raise UsageError(str(error)) from None
    with session_scope(sessions) as session, open(path, "rb") as lines:  # one transaction: all lands or nothing
        batch = load.create_batch(session=session, shop_id=shop_id, job_id=None, origin=f"file:{path.name}",
                                  parts=[part])
        landed = load.land(session=session, shop_id=shop_id, batch_id=batch, lines=lines)
    orders = load.promote_batch(sessions=sessions, shop_id=shop_id, batch_id=batch, parts=[part])
    sessions.kw["bind"].dispose()  # close the engine's connections (main() also runs in-process, in tests)
    return {"part": part, "batch": batch, "landed": landed, "orders": orders, "checked": checked}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest.shopify", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("queries", help="print every GraphQL document the Shopify client sends")
    bulk = commands.add_parser("load-bulk", help="load a bulk operation's JSONL file into a connected shop")
    bulk.add_argument("--shop", required=True, help="the shop's myshopify domain")
    bulk.add_argument("--part", choices=list(promote.FIRST_PASS), help="what the file holds (default: inferred)")
    bulk.add_argument("file", type=Path)
    args = parser.parse_args(argv)

    if args.command == "queries":
        for name, document in queries.DOCUMENTS.items():
            print(f"# {name}\n{document.strip()}\n")
        return 0
    try:
        result = load_bulk(shop=args.shop, path=args.file, part=args.part)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    landed = result["landed"]
    print(f"{args.file}: part {result['part']}, batch {result['batch']}: {landed.lines} lines landed, "
          f"{landed.quarantined} quarantined, {result['orders']} orders promoted")
    print(f"  store check: {result['checked']}")
    for reason in landed.reasons[:SHOWN_REASONS]:
        print(f"  quarantined {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
