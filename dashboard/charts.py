"""Pure figure builders: rows in, `go.Figure` out. One template and one colour per metric on every page."""

from datetime import date, timedelta
from decimal import Decimal

import plotly.graph_objects as go
import plotly.io as pio

from dashboard.metrics import METRICS

TEMPLATE = "storefront"
pio.templates[TEMPLATE] = go.layout.Template(
    layout=dict(
        font=dict(family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size=12, color="#212529"),
        colorway=[METRICS[m].colour for m in ("total_sales", "spend", "orders", "aov", "roas", "cac")],
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        margin=dict(l=8, r=8, t=36, b=8),
        hovermode="x unified",
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
        xaxis=dict(showgrid=False, linecolor="#ADB5BD", automargin=True),
        yaxis=dict(gridcolor="#E9ECEF", zeroline=False, automargin=True, rangemode="tozero"),
    )
)
# The chart's toolbar: downloads go through the page's CSV buttons, so keep only what helps reading.
CONFIG = {"displaylogo": False, "responsive": True,
          "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"]}


def empty(message: str) -> go.Figure:
    """A figure that says why there is nothing to draw (no orders in the range, no ad account...)."""
    figure = go.Figure(layout=dict(template=TEMPLATE, height=260))
    figure.add_annotation(text=message, showarrow=False, font=dict(size=14, color="#6C757D"),
                          xref="paper", yref="paper", x=0.5, y=0.5)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


def lines(rows: list[dict], x: str, metrics: list[str], *, title: str = "", height: int = 300,
          secondary: tuple[str, ...] = ()) -> go.Figure:
    """One line per metric over `x`, each in its metric's colour; metrics in `secondary` on a right-hand axis."""
    figure = go.Figure(layout=dict(template=TEMPLATE, title=dict(text=title, font=dict(size=14)), height=height))
    for metric in metrics:
        figure.add_scatter(x=[row[x] for row in rows], y=[row.get(metric) for row in rows], mode="lines",
                           name=METRICS[metric].label, line=dict(color=METRICS[metric].colour, width=2),
                           yaxis="y2" if metric in secondary else "y")
    if secondary:
        figure.update_layout(yaxis2=dict(overlaying="y", side="right", showgrid=False, rangemode="tozero"))
    return figure


# Overview ---------------------------------------------------------------------------------------------------
# The Overview's daily rows (queries.read_daily_overview) summed into days, weeks or months, their totals and
# derived metrics, and its four charts. Money of a bucket is None when any of its days is (a missing FX rate).
SUMMED = ("orders", "units", "gross_sales", "discounts", "returns", "net_sales", "shipping", "taxes", "duties",
          "additional_fees", "total_sales", "new_customers", "returning_customers", "spend", "purchase_value")


def bucket_start(day: date, grain: str) -> date:
    """The first day of the day's bucket: itself, its week's Monday, or its month's first day."""
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def _ratio(numerator, denominator, places: str = "0.01"):
    if numerator is None or not denominator:
        return None
    return (Decimal(str(numerator)) / Decimal(str(denominator))).quantize(Decimal(places))


def derive(row: dict) -> dict:
    """A row's derived metrics (AOV, MER, ROAS, CAC, new and returning shares) from its sums."""
    customers = (row.get("new_customers") or 0) + (row.get("returning_customers") or 0)
    sold = None if row.get("gross_sales") is None or row.get("discounts") is None else (
        row["gross_sales"] - row["discounts"])
    return row | {
        "aov": _ratio(sold, row.get("orders")),
        "mer": _ratio(row.get("total_sales"), row.get("spend")),
        "roas": _ratio(row.get("purchase_value"), row.get("spend")),
        # no spend (no ad account, or none that day): no CAC, not a cost of zero
        "cac": _ratio(row.get("spend"), row.get("new_customers")) if row.get("spend") else None,
        "new_customer_share": _ratio(row.get("new_customers"), customers, "0.0001"),
        "returning_rate": _ratio(row.get("returning_customers"), customers, "0.0001"),
    }


def _add(total: dict, row: dict) -> None:
    for key in SUMMED:
        value = row.get(key, 0)  # absent: nothing of it that day; None: a figure that could not be converted
        total[key] = None if total.get(key, 0) is None or value is None else total.get(key, 0) + value
    total["fx_estimated"] = bool(total.get("fx_estimated")) or bool(row.get("fx_estimated"))


def bucket(rows: list[dict], grain: str, start: date, end: date) -> list[dict]:
    """Every bucket of [start, end] (empty days count as zero), summed, with derived metrics."""
    buckets: dict[date, dict] = {}
    day = start
    while day <= end:
        buckets.setdefault(bucket_start(day, grain), {"date": bucket_start(day, grain)})
        day += timedelta(days=1)
    for row in rows:
        key = bucket_start(_as_date(row["date"]), grain)
        if key in buckets:
            _add(buckets[key], row)
    for total in buckets.values():
        for key in SUMMED:
            total.setdefault(key, 0)
        total.setdefault("fx_estimated", False)
    return [derive(buckets[key]) for key in sorted(buckets)]


def totals(rows: list[dict]) -> dict:
    """The period's sums and derived metrics (what the KPI cards show)."""
    total: dict = {}
    for row in rows:
        _add(total, row)
    for key in SUMMED:
        total.setdefault(key, 0)
    total.setdefault("fx_estimated", False)
    return derive(total)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _money_axis(figure: go.Figure, currency: str | None) -> go.Figure:
    figure.update_yaxes(title_text=currency or "", tickformat=",.0f")
    return figure


def _room_for_dates(figure: go.Figure) -> go.Figure:
    # Two-line date ticks ("Sep 6 / 2026") need more than the template's 8 px below the plot.
    figure.update_layout(margin=dict(b=60))
    return figure


def sales_and_spend(rows: list[dict], currency: str | None) -> go.Figure:
    """Total sales and ad spend per bucket; each point is clickable (explain that day)."""
    if not rows or not any(row.get("total_sales") or row.get("spend") for row in rows):
        return empty("No sales or ad spend in this period")
    # A store without ad spend gets no flat line at zero (the header says why there is none).
    spent = any(row.get("spend") for row in rows)
    figure = lines(rows, "date", ["total_sales", "spend"] if spent else ["total_sales"])
    figure.update_traces(mode="lines+markers", marker=dict(size=5))
    return _room_for_dates(_money_axis(figure, currency))


def mer_and_roas(rows: list[dict]) -> go.Figure:
    """MER and ROAS per bucket (gaps where there was no spend)."""
    if not any(row.get("mer") is not None or row.get("roas") is not None for row in rows):
        return empty("No ad spend in this period: no MER or ROAS")
    figure = lines(rows, "date", ["mer", "roas"])
    figure.update_traces(mode="lines+markers", marker=dict(size=5), connectgaps=False)
    figure.update_yaxes(ticksuffix="×")
    return _room_for_dates(figure)


def orders_and_aov(rows: list[dict], currency: str | None) -> go.Figure:
    """Orders as bars, AOV as a line on the right-hand axis."""
    if not any(row.get("orders") for row in rows):
        return empty("No orders in this period")
    figure = go.Figure(layout=dict(template=TEMPLATE, height=300))
    figure.add_bar(x=[row["date"] for row in rows], y=[row.get("orders") for row in rows],
                   name=METRICS["orders"].label, marker_color=METRICS["orders"].colour)
    figure.add_scatter(x=[row["date"] for row in rows], y=[row.get("aov") for row in rows], mode="lines+markers",
                       name=METRICS["aov"].label, line=dict(color=METRICS["aov"].colour, width=2), yaxis="y2")
    figure.update_layout(yaxis2=dict(overlaying="y", side="right", showgrid=False, rangemode="tozero",
                                     title_text=currency or "", tickformat=",.0f"))
    return _room_for_dates(figure)


def new_and_returning(rows: list[dict]) -> go.Figure:
    """New and returning customers per bucket, stacked."""
    if not any(row.get("new_customers") or row.get("returning_customers") for row in rows):
        return empty("No customers ordered in this period")
    figure = go.Figure(layout=dict(template=TEMPLATE, barmode="stack", height=300,
                                   legend=dict(traceorder="normal")))
    for metric in ("new_customers", "returning_customers"):
        figure.add_bar(x=[row["date"] for row in rows], y=[row.get(metric) for row in rows],
                       name=METRICS[metric].label, marker_color=METRICS[metric].colour)
    return _room_for_dates(figure)
