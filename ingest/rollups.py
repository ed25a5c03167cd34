"""Reporting rollups: rebuilt in full on request (every load keeps them current by itself, in the database).

    python -m ingest.rollups rebuild [--shop DOMAIN]

The warehouse's triggers note the (shop, day) pairs each load touches and recompute them at its commit
(migration 0010); `rebuild` recomputes every day and customer of one shop, or of all shops, the same way.
The database is DATABASE_URL, or the embedded default's when it is unset; the command acts as the scheduler.
"""

import argparse
import sys
import time

from sqlalchemy import text
from sqlalchemy.orm import Session

import embedded
from database import scheduler_sessionmaker, session_scope


def rebuild(*, session: Session, shop_id: int | None = None) -> None:
    """Recompute every rollup row of `shop_id` (all shops when None) in the caller's transaction."""
    session.execute(text("SELECT reporting.rebuild_rollups(:shop)"), {"shop": shop_id})


def shop_id_of(*, session: Session, domain: str) -> int | None:
    return session.execute(text("SELECT id FROM app_dashboard.shops WHERE shop_domain = :d"),
                           {"d": domain}).scalar()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest.rollups", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("rebuild", help="recompute the rollups of one shop or of all shops")
    command.add_argument("--shop", help="the shop's myshopify domain (default: every shop)")
    args = parser.parse_args(argv)
    sessions = scheduler_sessionmaker(embedded.default_url())
    try:
        with session_scope(sessions) as session:
            shop_id = shop_id_of(session=session, domain=args.shop) if args.shop else None
            if args.shop and shop_id is None:
                print(f"error: unknown shop {args.shop}", file=sys.stderr)
                return 2
            started = time.monotonic()
            rebuild(session=session, shop_id=shop_id)
        print(f"rollups rebuilt for {args.shop or 'every shop'} in {time.monotonic() - started:.1f} s")
        return 0
    finally:
        sessions.kw["bind"].dispose()


if __name__ == "__main__":
    sys.exit(main())
