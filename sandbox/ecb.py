"""The European Central Bank's reference rates as the sandbox serves them: eurofxref-hist.csv's format.

A header `Date,USD,JPY,...,` (trailing comma, as the ECB writes it), then one line per business day, newest
first; weekends have no line. Rates are the sandbox's fixed FX table (sandbox.ads.FX_PER_USD) seen from the euro.
"""

from datetime import date, timedelta
from decimal import Decimal

from sandbox.ads import FX_PER_USD

QUOTES = tuple(c for c in FX_PER_USD if c != "EUR")


def per_euro(currency: str) -> Decimal:
    """Units of `currency` per euro, to 4 decimals as the ECB publishes most rates."""
    return (FX_PER_USD[currency] / FX_PER_USD["EUR"]).quantize(Decimal("0.0001"))


def reference_rates_csv(start: date, end: date) -> str:
    """The file for business days start..end."""
    lines = ["Date," + ",".join(QUOTES) + ","]
    day = end
    while day >= start:
        if day.weekday() < 5:
            lines.append(day.isoformat() + "," + ",".join(str(per_euro(c)) for c in QUOTES) + ",")
        day -= timedelta(days=1)
    return "\n".join(lines) + "\n"
