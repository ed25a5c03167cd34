"""How figures read on every page: money in its currency, counts, ratios and changes, the same in every browser."""

from dataclasses import dataclass
from decimal import Decimal

from babel import Locale
from babel.numbers import format_currency, format_decimal, parse_pattern

from dashboard.metrics import METRICS

# One fixed locale, whatever the server's or the browser's: a figure reads the same for everyone and in tests.
LOCALE = "en_US"
MISSING = "–"
# Parsed once: Babel parses a locale's name and a pattern's text on every call (a grid formats thousands of cells).
_LOCALE = Locale.parse(LOCALE)
COUNT, RATIO, PERCENT = (parse_pattern(pattern) for pattern in ("#,##0.#", "#,##0.00", "#,##0.0"))


def money(amount, currency: str | None) -> str:
    """`€1,234.56`, `$1,234.56`, `CHF 1,234.56`; a dash when there is no amount (or no currency to state)."""
    if amount is None or not currency:
        return MISSING
    return format_currency(Decimal(str(amount)), currency, locale=_LOCALE)


def count(amount) -> str:
    """`12,345` (a fractional count keeps one decimal)."""
    if amount is None:
        return MISSING
    return format_decimal(amount, format=COUNT, locale=_LOCALE)


def ratio(amount) -> str:
    """`3.21×` (MER, ROAS)."""
    return MISSING if amount is None else format_decimal(amount, format=RATIO, locale=_LOCALE) + "×"


def percent(fraction) -> str:
    """`12.3%` from 0.123."""
    return MISSING if fraction is None else format_decimal(Decimal(str(fraction)) * 100, format=PERCENT,
                                                           locale=_LOCALE) + "%"


def value(metric: str, amount, currency: str | None = None) -> str:
    """A metric's value in its kind's format (METRICS)."""
    kind = METRICS[metric].kind
    if kind == "money":
        return money(amount, currency)
    return {"count": count, "ratio": ratio, "percent": percent}[kind](amount)


@dataclass(frozen=True)
class Change:
    text: str  # `▲ 12.3%`: an arrow and a sign, so it reads without colour
    tone: str  # good, bad or neutral: the colour is a second cue, never the only one


def change(metric: str, current, previous) -> Change:
    """The relative change of a metric against the comparison period, and whether it is good news."""
    if current is None or previous is None or previous == 0:
        return Change("no comparison" if previous is None else "new", "neutral")
    fraction = (Decimal(str(current)) - Decimal(str(previous))) / abs(Decimal(str(previous)))
    if fraction == 0:
        return Change("= 0.0%", "neutral")
    up = fraction > 0
    arrow = "▲ +" if up else "▼ −"
    good = up == METRICS[metric].higher_is_better
    return Change(arrow + percent(abs(fraction)), "good" if good else "bad")
