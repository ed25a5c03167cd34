"""Every report page's header: title, period and comparison, how fresh the data is, and what to be wary of."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import html
from sqlalchemy.orm import Session

import settings
from dashboard import queries, selection
from dashboard.components import format_range

SOURCES = (("shopify", "Shopify"), ("meta", "Meta"))


def header(*, session: Session, chosen: selection.Selection, title: str, fx_estimated: bool = False) -> html.Div:
    """The page's title, its period, the data's freshness and any warning about the figures below."""
    shop_id = chosen.shop_id
    summaries = queries.read_sync_status(session=session, shop_id=shop_id)
    shops = queries.list_shops(session=session)
    timezone = next((s.iana_timezone for s in shops if s.shop_id == shop_id), settings.REPORTING_TIMEZONE)
    notes = [note for note in (
        fx_warning(fx_estimated),
        backfill_warning(incomplete_backfills(summaries, queries.list_backfills(session=session, shop_id=shop_id))),
        no_ads_note(sorted({s.shop_name for s in summaries} - {s.shop_name for s in summaries if s.source == "meta"})),
    ) if note]
    return html.Div([
        html.H1(title, className="h3 mb-1", id="page-title"),
        html.P(period_text(chosen), className="text-body-secondary mb-1", id="period"),
        html.P(freshness_text(summaries, timezone=timezone, now=datetime.now(UTC)),
               className="small text-body-secondary", id="freshness"),
        *[dbc.Alert(text, color=colour, className="py-2 small mb-2", id=f"header-{key}")
          for key, colour, text in notes],
    ], className="page-header mb-3")


def period_text(chosen: selection.Selection) -> str:
    """`1 Nov – 30 Nov 2026 · compared with 2 Oct – 31 Oct 2026`."""
    text = format_range(chosen.start, chosen.end)
    return text + (f" · compared with {format_range(*chosen.comparison)}" if chosen.comparison else "")


def as_of(moment: datetime | None, *, timezone: str, now: datetime) -> str:
    """`12:03` today in the timezone, `30 Nov 12:03` another day, `not synced yet` never."""
    if moment is None:
        return "not synced yet"
    zone = ZoneInfo(timezone)
    local = moment.astimezone(zone)
    return f"{local:%H:%M}" if local.date() == now.astimezone(zone).date() else f"{local:%-d %b %H:%M}"


def freshness_text(summaries: list, *, timezone: str, now: datetime) -> str:
    """`Shopify as of 12:03 · Meta as of 11:40`: for several stores, the stalest store's time."""
    parts = []
    for source, name in SOURCES:
        mine = [s for s in summaries if s.source == source]
        if not mine:
            continue
        times = [s.last_success_at for s in mine]
        stalest = None if any(t is None for t in times) else min(times)
        parts.append(f"{name} as of {as_of(stalest, timezone=timezone, now=now)}" if stalest else
                     f"{name}: not synced yet")
    zone = f" ({timezone})" if parts else ""
    return " · ".join(parts) + zone if parts else "No data synced yet"


def incomplete_backfills(summaries: list, backfills: dict[int, bool]) -> list[tuple[str, float | None]]:
    """Stores whose Shopify history is not all loaded: (name, percent loaded or None when unknown)."""
    out = []
    for s in summaries:
        if s.source != "shopify":
            continue
        loaded = s.completeness.get("percent")
        running = s.running is not None and s.running.kind == "HISTORICAL_INIT"
        if not backfills.get(s.shop_id, False) or (loaded is not None and loaded < 100):
            out.append((s.shop_name, s.percent if running and s.percent is not None else loaded))
    return out


def backfill_warning(stores: list[tuple[str, float | None]]) -> tuple[str, str, str] | None:
    """`Alpine's order history is still loading (62%): figures may be incomplete.`"""
    if not stores:
        return None
    names = ", ".join(f"{name} ({percent:g}%)" if percent is not None else name for name, percent in stores)
    done = "it is" if len(stores) == 1 else "they are"
    return ("backfill", "warning",
            f"Order history still loading for {names}: figures may be incomplete until {done} done.")


def fx_warning(fx_estimated: bool) -> tuple[str, str, str] | None:
    """Said when a conversion used an earlier day's rate (no rate was published for the day)."""
    if not fx_estimated:
        return None
    return ("fx", "info", "Some amounts are converted at an earlier day's exchange rate (no rate published "
                          "for that day yet): they are estimates.")


def no_ads_note(names: list[str]) -> tuple[str, str, str] | None:
    """Stores without a Meta ad account: their spend, MER, ROAS and CAC cannot be shown."""
    if not names:
        return None
    one = len(names) == 1
    text = (f"{', '.join(names)} {'has' if one else 'have'} no Meta ad account linked: no ad spend is counted "
            f"for {'it' if one else 'them'}. An admin can link one in Settings.")
    return ("no-ads", "secondary", text)
