"""Dated FX rates from the European Central Bank's reference-rate CSV (eurofxref-hist.csv and its daily twin).

    python -m ingest.fx load FILE

The file's header is `Date,USD,JPY,...` (often with a trailing comma), one line per business day, newest
first, `N/A` where a currency has no rate that day: each cell is one rate of euro (base) to that currency
(quote) on that day. A malformed line is reported with its line number and the rest loads; loading a file
again replaces the same rates. The scheduler refreshes from FX_RATES_URL when it is set. A day without a
rate (weekends, holidays) takes the latest earlier one (reporting.fx), and the figures say so.
"""

import argparse
import csv
import io
import sys
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import requests
from sqlalchemy import text
from sqlalchemy.orm import Session

import embedded
import settings
from database import scheduler_sessionmaker, session_scope

BASE = "EUR"


@dataclass
class Parsed:
    """The rates a file holds, as (day, quote, rate), and its malformed lines as 'line N: reason'."""

    rates: list[tuple[date, str, Decimal]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def parse(content: str) -> Parsed:
    """Read an ECB reference-rate CSV; bad lines become errors, the others rates."""
    parsed = Parsed()
    rows = csv.reader(io.StringIO(content))
    header = next(rows, None)
    if not header or header[0].strip() != "Date":
        parsed.errors.append("line 1: the header must start with Date (the ECB's reference-rate format)")
        return parsed
    currencies = [c.strip() for c in header[1:]]
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        try:
            parsed.rates += parse_row(row, currencies)
        except ValueError as error:
            parsed.errors.append(f"line {number}: {error}")
    return parsed


def parse_row(row: list[str], currencies: list[str]) -> list[tuple[date, str, Decimal]]:
    """One day's rates; raises ValueError saying what is wrong with the line."""
    day = date.fromisoformat(row[0].strip())
    cells = row[1:]
    if len(cells) > len(currencies) and any(c.strip() for c in cells[len(currencies):]):
        raise ValueError(f"{len(cells)} rates for {len(currencies)} currencies")
    out = []
    for currency, cell in zip(currencies, cells, strict=False):
        cell = cell.strip()
        if not currency or cell in ("", "N/A"):
            continue
        try:
            rate = Decimal(cell)
        except InvalidOperation:
            raise ValueError(f"{currency} rate {cell!r} is not a number") from None
        if not rate.is_finite() or rate <= 0:
            raise ValueError(f"{currency} rate {cell!r} is not a positive number")
        if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
            raise ValueError(f"{currency!r} is not a currency code")
        out.append((day, currency, rate))
    return out


def store(*, session: Session, rates: list[tuple[date, str, Decimal]]) -> int:
    """Upsert the rates (euro base); return how many."""
    if rates:
        session.execute(text(
            "INSERT INTO reporting.fx_rates (day, base, quote, rate) VALUES (:day, :base, :quote, :rate) "
            "ON CONFLICT (base, quote, day) DO UPDATE SET rate = excluded.rate, loaded_at = now()"),
            [{"day": d, "base": BASE, "quote": q, "rate": r} for d, q, r in rates])
    return len(rates)


def load(*, session: Session, content: str) -> Parsed:
    """Parse and store a file's content in the caller's transaction."""
    parsed = parse(content)
    store(session=session, rates=parsed.rates)
    return parsed


def refresh(*, session: Session, url: str | None = settings.FX_RATES_URL) -> Parsed | None:
    """Download the rates from `url` and load them (nothing when no URL is set)."""
    if not url:
        return None
    response = requests.get(url, timeout=settings.FX_TIMEOUT_SECONDS)
    response.raise_for_status()
    return load(session=session, content=response.text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest.fx", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("load", help="load an ECB reference-rate CSV file")
    command.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    if not args.file.is_file():
        print(f"error: no such file: {args.file}", file=sys.stderr)
        return 2
    sessions = scheduler_sessionmaker(embedded.default_url())
    try:
        with session_scope(sessions) as session:
            parsed = load(session=session, content=args.file.read_text(encoding="utf-8-sig"))
    finally:
        sessions.kw["bind"].dispose()
    days = len({d for d, _, _ in parsed.rates})
    print(f"{args.file}: {len(parsed.rates)} rates over {days} days loaded, {len(parsed.errors)} lines malformed")
    for error in parsed.errors:
        print(f"  {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
