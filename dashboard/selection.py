"""What the user is looking at: store, date range and comparison, kept in the URL's query string."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import parse_qsl, urlencode

PRESETS = {
    "last_7": "Last 7 days",
    "last_30": "Last 30 days",
    "last_90": "Last 90 days",
    "mtd": "Month to date",
    "last_month": "Last month",
    "qtd": "Quarter to date",
    "ytd": "Year to date",
    "last_365": "Last 365 days",
    "custom": "Custom range",
}
COMPARISONS = {
    "previous_period": "Previous period",
    "previous_year": "Same period last year",
    "none": "No comparison",
}
GRAINS = {"day": "Day", "week": "Week", "month": "Month"}
DEFAULT_PRESET = "last_30"
DEFAULT_COMPARE = "previous_period"
DEFAULT_GRAIN = "day"
ALL_STORES = "all"
# One-time outcomes other pages report in the query (the OAuth callback's `?connected=`): read from a URL,
# they stay in it when the selection rewrites it, and a change of selector drops them.
# Outcomes a page shows once a redirect lands on it (Settings' OAuth, Uploads): kept when the shell rewrites the URL.
NOTICES = ("connected", "connect_error", "upload_error", "upload_notice", "upload_pending")
MAX_ID = 2**63 - 1  # PostgreSQL's bigint: a larger id cannot name a row, and casting it fails
# The dates a URL may name: nothing sold online predates 2000, and bounds keep the comparison period (a
# day or a year earlier) and the database's date arithmetic far from date's own limits (years 1 and 9999).
FIRST_DATE = date(2000, 1, 1)
LAST_DATE = date(2099, 12, 31)


@dataclass(frozen=True)
class Selection:
    shop: str  # ALL_STORES or a shop id, as text (the URL's form)
    preset: str
    start: date
    end: date
    compare: str
    notices: tuple[tuple[str, str], ...] = ()
    grain: str = DEFAULT_GRAIN  # the charts' buckets: day, week (from Monday) or month

    @property
    def shop_id(self) -> int | None:
        return parse_id(self.shop)

    @property
    def comparison(self) -> tuple[date, date] | None:
        return comparison_range(self.start, self.end, self.compare)

    def to_query(self) -> str:
        """The query string that reproduces this selection (a preset stays relative to today)."""
        params = {"shop": self.shop, "preset": self.preset}
        if self.preset == "custom":
            params |= {"start": self.start.isoformat(), "end": self.end.isoformat()}
        params["compare"] = self.compare
        if self.grain != DEFAULT_GRAIN:  # the default stays out of the URL, which stays short
            params["grain"] = self.grain
        return "?" + urlencode(params | dict(self.notices))


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def preset_range(preset: str, today: date) -> tuple[date, date]:
    """The inclusive date range a preset means on `today`."""
    days = {"last_7": 7, "last_30": 30, "last_90": 90, "last_365": 365}
    if preset in days:
        return today - timedelta(days=days[preset] - 1), today
    if preset == "mtd":
        return today.replace(day=1), today
    if preset == "last_month":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    if preset == "qtd":
        return _quarter_start(today), today
    if preset == "ytd":
        return date(today.year, 1, 1), today
    raise ValueError(f"unknown preset {preset!r}")


def _year_earlier(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def comparison_range(start: date, end: date, compare: str) -> tuple[date, date] | None:
    """The range to compare with: the same length just before, or the same dates a year earlier."""
    if compare == "previous_period":
        previous_end = start - timedelta(days=1)
        return previous_end - (end - start), previous_end
    if compare == "previous_year":
        return _year_earlier(start), _year_earlier(end)
    return None


def parse_id(value: object) -> int | None:
    """A row id from outside (URL, route, callback): a positive bigint as an int or ASCII digits, else None."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= len(str(MAX_ID)):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID:
        return value
    return None


def parse_date(value: object) -> date | None:
    """An ISO date between FIRST_DATE and LAST_DATE, else None."""
    try:
        day = date.fromisoformat(value) if isinstance(value, str) and value.isascii() else None
    except ValueError:
        return None
    return day if day is not None and FIRST_DATE <= day <= LAST_DATE else None


def _choice(value: object, choices: Mapping[str, str], default: str) -> str:
    return value if isinstance(value, str) and value in choices else default


def parse(query: Mapping[str, object] | str, *, today: date) -> Selection:
    """Read a selection from a query string (or its parsed mapping); anything invalid falls back to defaults."""
    if isinstance(query, str):
        query = dict(parse_qsl(query.lstrip("?")))
    elif not isinstance(query, Mapping):
        query = {}
    shop_id = parse_id(query.get("shop"))
    shop = ALL_STORES if shop_id is None else str(shop_id)
    preset = _choice(query.get("preset"), PRESETS, DEFAULT_PRESET)
    compare = _choice(query.get("compare"), COMPARISONS, DEFAULT_COMPARE)
    grain = _choice(query.get("grain"), GRAINS, DEFAULT_GRAIN)
    start, end = parse_date(query.get("start")), parse_date(query.get("end"))
    if preset == "custom" and start and end:
        start, end = min(start, end), max(start, end)
    else:
        if preset == "custom":
            preset = DEFAULT_PRESET
        start, end = preset_range(preset, today)
    notices = tuple((key, str(query[key])) for key in NOTICES if query.get(key))
    return Selection(shop=shop, preset=preset, start=start, end=end, compare=compare, notices=notices, grain=grain)


def today(timezone: str | None = None) -> date:
    """Today's date in `timezone` (a store's IANA zone), else the agency's reporting timezone (REPORTING_TIMEZONE)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import settings

    return datetime.now(ZoneInfo(timezone or settings.REPORTING_TIMEZONE)).date()


def parse_local(query: Mapping[str, object] | str, *, timezone_of) -> Selection:
    """parse(), with presets meaning today in the selected store's timezone (`timezone_of(shop_id)`)."""
    mapping = dict(parse_qsl(query.lstrip("?"))) if isinstance(query, str) else query
    shop_id = parse_id(mapping.get("shop")) if isinstance(mapping, Mapping) else None
    return parse(query, today=today(timezone_of(shop_id)))
