"""Print a report the pages show, for one store or all of them, as CSV or JSON.

    python -m dashboard.export REPORT --shop DOMAIN|all --start YYYY-MM-DD --end YYYY-MM-DD
                               [--format csv|json] [--as-user EMAIL]

REPORT is one of daily-revenue, marketing-daily, mer-roas, campaigns, top-products, top-customers (the
queries of dashboard.queries, shared with the pages). One store's money is in its currency; `--shop all`
converts every store's to the agency's reporting currency day by day. Money is printed with two decimals.
It reads as the scheduler role (an ops tool), or with `--as-user` as that user through row-level security.
An unknown shop or user, a bad date or an end before the start is a one-line error and exit status 2.
"""

import argparse
import csv
import io
import json
import sys
from datetime import date
from decimal import Decimal

from sqlalchemy import text

import embedded
import settings
from dashboard import queries
from database import scheduler_sessionmaker, session_scope, set_app_user, web_sessionmaker

CENT = Decimal("0.01")
# Sums of counts come back as numeric; they print as whole numbers, every other Decimal as money.
COUNTS = {"orders", "units", "impressions", "clicks", "link_clicks", "purchases", "new_customers",
          "returning_customers", "units_sold", "units_returned"}


class UsageError(Exception):
    """A problem with what was asked, reported in one line."""


def parse_day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{name} must be a date as YYYY-MM-DD, not {value!r}") from None


def plain(key: str, value):
    """A value as printed: money and ratios as strings of two decimals, counts as numbers, dates as ISO."""
    if isinstance(value, Decimal):
        if key in COUNTS:
            return int(value) if value == value.to_integral_value() else float(value)
        return str(value.quantize(CENT))
    if isinstance(value, date):
        return value.isoformat()
    return value


def export(*, report: str, shop: str, start: date, end: date, as_user: str | None = None) -> list[dict]:
    """The report's rows, as printed."""
    if end < start:
        raise UsageError(f"the end ({end}) is before the start ({start})")
    url = embedded.default_url()
    sessions = web_sessionmaker(settings.WEB_DATABASE_URL or url) if as_user else scheduler_sessionmaker(url)
    try:
        with session_scope(sessions) as session:
            if as_user:
                user_id = session.execute(text("SELECT id FROM app_dashboard.users WHERE lower(email) = lower(:e) "
                                               "AND is_active"), {"e": as_user}).scalar()
                if user_id is None:
                    raise UsageError(f"no active user {as_user}")
                set_app_user(session, user_id)
            shop_id = None
            if shop != "all":
                # Through the shop directory: a user who may not see the store is told it is unknown.
                shop_id = session.execute(text("SELECT shop_id FROM reporting.shop_directory "
                                               "WHERE shop_domain = :d"), {"d": shop}).scalar()
                if shop_id is None:
                    raise UsageError(f"unknown shop {shop}")
            rows = queries.read_report(session=session, report=report, shop_id=shop_id, start=start, end=end)
    finally:
        sessions.kw["bind"].dispose()
    return [{key: plain(key, value) for key, value in row.items()} for row in rows]


def to_csv(rows: list[dict]) -> str:
    """Printed rows as CSV text with a header (nothing at all for no rows)."""
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.export", description=__doc__.splitlines()[0])
    parser.add_argument("report", choices=queries.REPORTS)
    parser.add_argument("--shop", required=True, help="a store's myshopify domain, or all")
    parser.add_argument("--start", required=True, help="first day, YYYY-MM-DD")
    parser.add_argument("--end", required=True, help="last day, YYYY-MM-DD")
    parser.add_argument("--format", choices=("csv", "json"), default="csv")
    parser.add_argument("--as-user", metavar="EMAIL", help="read as this user, through row-level security")
    args = parser.parse_args(argv)
    try:
        rows = export(report=args.report, shop=args.shop, start=parse_day(args.start, "--start"),
                      end=parse_day(args.end, "--end"), as_user=args.as_user)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.format == "json":
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(to_csv(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
