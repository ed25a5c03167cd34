"""Pure figure builders: rows in, `go.Figure` out. One template and one colour per metric on every page."""

from datetime import date, timedelta
from decimal import Decimal

import plotly.graph_objects as go
import plotly.io as pio
from babel.numbers import get_currency_symbol

from dashboard import formats
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
TEMPLATE_JSON = pio.templates[TEMPLATE].to_plotly_json()
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


def plain(rows: list[dict], key: str) -> list:
    """A column's values as JSON takes them without help (Decimal to float, a day to its ISO date): Plotly's
    encoder calls back into Python for every value of another type, a good part of a page's time."""
    return [_plain(row.get(key)) for row in rows]


def _plain(value):
    if isinstance(value, Decimal):
        return float(value)
    return value.isoformat() if isinstance(value, date) else value


def figure(data: list[dict], **layout) -> go.Figure:
    """A figure from its traces and layout, built in one pass and not validated property by property (Plotly's
    checks took most of a page's figure time; test_overview_figures validates every builder's figure)."""
    return go.Figure({"data": data, "layout": {"template": TEMPLATE_JSON, **layout}}, _validate=False)


def line(rows: list[dict], x: str, metric: str, *, mode: str = "lines", yaxis: str = "y", **style) -> dict:
    """A metric's line over `x` in its colour."""
    return dict(type="scatter", x=plain(rows, x), y=plain(rows, metric), mode=mode, name=METRICS[metric].label,
                line=dict(color=METRICS[metric].colour, width=2), yaxis=yaxis, **style)


def bars(rows: list[dict], x: str, metric: str) -> dict:
    """A metric's bars over `x` in its colour."""
    return dict(type="bar", x=plain(rows, x), y=plain(rows, metric), name=METRICS[metric].label,
                marker=dict(color=METRICS[metric].colour))


def lines(rows: list[dict], x: str, metrics: list[str], *, title: str = "", height: int = 300,
          secondary: tuple[str, ...] = ()) -> go.Figure:
    """One line per metric over `x`, each in its metric's colour; metrics in `secondary` on a right-hand axis."""
    layout = dict(title=dict(text=title, font=dict(size=14)), height=height)
    if secondary:
        layout["yaxis2"] = dict(overlaying="y", side="right", showgrid=False, rangemode="tozero")
    return figure([line(rows, x, metric, yaxis="y2" if metric in secondary else "y") for metric in metrics], **layout)


# Marketing, products and customers
# Tables are dash-ag-grid's: each numeric column sorts and filters on its number and shows the text formats made
# (money in its currency), so sorting is numeric and every figure reads as on the rest of the dashboard.
GRID_TEXT = "_text"  # a row's display text of `field` is under `field + GRID_TEXT`


def ratio_or_none(numerator, denominator, scale=1):
    """numerator ÷ denominator × scale; None when either is missing or the denominator is zero (never 0 or ∞)."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return Decimal(str(numerator)) * scale / Decimal(str(denominator))


def with_ad_ratios(row: dict) -> dict:
    """A campaign row with CTR, CPC, CPM and CPA beside Meta's figures (and ROAS when the row has none)."""
    spend = row.get("spend")
    derived = {
        "ctr": ratio_or_none(row.get("clicks"), row.get("impressions")),
        "cpc": ratio_or_none(spend, row.get("clicks")),
        "cpm": ratio_or_none(spend, row.get("impressions"), 1000),
        "cpa": ratio_or_none(spend, row.get("purchases")),
    }
    if row.get("roas") is None:
        derived["roas"] = ratio_or_none(row.get("purchase_value"), spend)
    return {**row, **derived}


def mask_email(email: str | None) -> str:
    """`j***@example.com`: enough to tell customers apart on screen, not enough to write to them."""
    if not email or "@" not in email:
        return "***"
    local, domain = email.rsplit("@", 1)
    return f"{local[:1]}***@{domain}"


def customer_label(name: str | None, email: str | None) -> str:
    """A customer's name, else their masked email, else that they are unnamed."""
    if name and name.strip():
        return name.strip()
    return mask_email(email) if email else "Unnamed customer"


def _display(kind: str, value, currency: str | None) -> str:
    if kind == "money":
        return formats.money(value, currency)
    if kind in ("count", "ratio", "percent"):
        return {"count": formats.count, "ratio": formats.ratio, "percent": formats.percent}[kind](value)
    return "" if value is None else str(value)


def grid_rows(rows: list[dict], columns: list[tuple[str, str, str]]) -> list[dict]:
    """Rows for a grid of `columns` (field, header, kind): numbers as floats to sort on, and their display text."""
    out = []
    for row in rows:
        shown = {key: value for key, value in row.items() if not isinstance(value, Decimal | date)}
        for field, _header, kind in columns:
            value = row.get(field)
            if kind == "text":
                shown[field] = "" if value is None else str(value)
                continue
            if kind == "date":
                shown[field] = value.isoformat() if isinstance(value, date) else value
                continue
            shown[field] = None if value is None else float(value)
            shown[field + GRID_TEXT] = _display(kind, value, row.get("currency"))
        out.append(shown)
    return out


def grid_columns(columns: list[tuple[str, str, str]], *, pinned: str | None = None) -> list[dict]:
    """ag-grid column definitions: numbers right-aligned with a number filter, each metric's formula as tooltip."""
    defs = []
    for field, header, kind in columns:
        column = {"field": field, "headerName": header, "wrapHeaderText": True, "autoHeaderHeight": True}
        if field in METRICS:
            column["headerTooltip"] = METRICS[field].formula
        if kind == "text":
            column |= {"filter": "agTextColumnFilter", "tooltipField": field,
                       "minWidth": 120 if field == pinned else 110, "flex": 2 if field == pinned else 1}
        elif kind == "date":
            column |= {"filter": "agDateColumnFilter", "minWidth": 110, "flex": 1}
        else:
            column |= {"type": "numericColumn", "filter": "agNumberColumnFilter", "minWidth": 92, "flex": 1,
                       "valueFormatter": {"function": f"params.data ? params.data.{field}{GRID_TEXT} : ''"}}
        if field == pinned:
            column["pinned"] = "left"
        defs.append(column)
    return defs


def campaign_trend(rows: list[dict], *, title: str = "") -> go.Figure:
    """A campaign's daily spend and purchase value in their currency, with ROAS dotted on a right-hand axis."""
    if not rows:
        return empty("No delivery for this campaign in the period")
    figure = lines(rows, "date", ["spend", "purchase_value", "roas"], title=title, secondary=("roas",))
    # ROAS shares purchase value's colour (it is that value per unit spent): the dots tell them apart.
    figure.update_traces(line_dash="dot", selector=dict(name=METRICS["roas"].label))
    currency = rows[0].get("currency")
    symbol = get_currency_symbol(currency, locale=formats.LOCALE) if currency else ""
    figure.update_layout(yaxis=dict(tickprefix=symbol, tickformat=",.0f"), yaxis2=dict(ticksuffix="×"))
    return figure
# Overview ---------------------------------------------------------------------------------------------------
# The Overview's daily rows (queries.read_daily_overview) summed into days, weeks or months, their totals and
# derived metrics, and its four charts. Money of a bucket is None when any of its days is (a missing FX rate).
SUMMED = ("orders", "units", "gross_sales", "discounts", "returns", "net_sales", "shipping", "taxes", "duties",
          "additional_fees", "total_sales", "new_customers", "returning_customers", "spend", "purchase_value")
# MER's numerator (queries' mer-roas `mer_sales`: Shopify's total sales, plus uploaded marketplace orders' when
# MER uses all channels), summed when the rows carry it; rows without it divide total sales.
MER_SALES = "mer_sales"
SUMMED_MER = (*SUMMED, MER_SALES)


def bucket_start(day: date, grain: str) -> date:
    """The first day of the day's bucket: itself, its week's Monday, or its month's first day."""
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


CENTS, BASIS_POINTS = Decimal("0.01"), Decimal("0.0001")


def _ratio(numerator, denominator, places: Decimal = CENTS):
    if numerator is None or not denominator:
        return None
    return (_decimal(numerator) / _decimal(denominator)).quantize(places)


def _decimal(value) -> Decimal:
    # Decimals and ints are exact as they are (a year of days: 2,000 conversions a page); a float through its text.
    return value if isinstance(value, Decimal) else Decimal(value) if isinstance(value, int) else Decimal(str(value))


def derive(row: dict) -> dict:
    """A row's derived metrics (AOV, MER, ROAS, CAC, new and returning shares) from its sums."""
    customers = (row.get("new_customers") or 0) + (row.get("returning_customers") or 0)
    sold = None if row.get("gross_sales") is None or row.get("discounts") is None else (
        row["gross_sales"] - row["discounts"])
    return row | {
        "aov": _ratio(sold, row.get("orders")),
        "mer": _ratio(row.get(MER_SALES, row.get("total_sales")), row.get("spend")),
        "roas": _ratio(row.get("purchase_value"), row.get("spend")),
        # no spend (no ad account, or none that day): no CAC, not a cost of zero
        "cac": _ratio(row.get("spend"), row.get("new_customers")) if row.get("spend") else None,
        "new_customer_share": _ratio(row.get("new_customers"), customers, BASIS_POINTS),
        "returning_rate": _ratio(row.get("returning_customers"), customers, BASIS_POINTS),
    }


def _add(total: dict, row: dict) -> None:
    for key in SUMMED_MER if MER_SALES in row or MER_SALES in total else SUMMED:
        value, before = row.get(key, 0), total.get(key, 0)  # absent: nothing that day; None: not converted
        total[key] = None if before is None or value is None else before + value
    total["fx_estimated"] = bool(total.get("fx_estimated")) or bool(row.get("fx_estimated"))


def bucket(rows: list[dict], grain: str, start: date, end: date) -> list[dict]:
    """Every bucket of [start, end] (empty days count as zero), summed, with derived metrics."""
    buckets: dict[date, dict] = {}
    day = start
    while day <= end:
        key = bucket_start(day, grain)
        if key not in buckets:
            buckets[key] = {"date": key}
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


DATES = dict(margin=dict(b=60))  # two-line date ticks ("Sep 6 / 2026") need more than the template's 8 px below


def _money_axis(currency: str | None) -> dict:
    return dict(title=dict(text=currency or ""), tickformat=",.0f")


def sales_and_spend(rows: list[dict], currency: str | None) -> go.Figure:
    """Total sales and ad spend per bucket; each point is clickable (explain that day)."""
    if not rows or not any(row.get("total_sales") or row.get("spend") for row in rows):
        return empty("No sales or ad spend in this period")
    # A store without ad spend gets no flat line at zero (the header says why there is none).
    spent = any(row.get("spend") for row in rows)
    return figure([line(rows, "date", metric, mode="lines+markers", marker=dict(size=5))
                   for metric in (["total_sales", "spend"] if spent else ["total_sales"])],
                  title=dict(text="", font=dict(size=14)), height=300, yaxis=_money_axis(currency), **DATES)


def mer_and_roas(rows: list[dict], mer_label: str = METRICS["mer"].label) -> go.Figure:
    """MER (its line named for its basis, e.g. "MER on all channels") and ROAS per bucket (gaps: no spend)."""
    if not any(row.get("mer") is not None or row.get("roas") is not None for row in rows):
        return empty("No ad spend in this period: no MER or ROAS")
    data = [line(rows, "date", metric, mode="lines+markers", marker=dict(size=5), connectgaps=False)
            for metric in ("mer", "roas")]
    data[0]["name"] = mer_label
    return figure(data, title=dict(text="", font=dict(size=14)), height=300, yaxis=dict(ticksuffix="×"), **DATES)


def orders_and_aov(rows: list[dict], currency: str | None) -> go.Figure:
    """Orders as bars, AOV as a line on the right-hand axis."""
    if not any(row.get("orders") for row in rows):
        return empty("No orders in this period")
    return figure([bars(rows, "date", "orders"), line(rows, "date", "aov", mode="lines+markers", yaxis="y2")],
                  height=300, yaxis2=dict(overlaying="y", side="right", showgrid=False, rangemode="tozero",
                                          **_money_axis(currency)), **DATES)


def sales_by_channel(rows: list[dict], currency: str | None) -> go.Figure:
    """Total sales per sales channel (Shopify, then each uploaded marketplace), largest on top."""
    rows = [row for row in rows if row.get("sales") is not None]
    if not rows:
        return empty("No sales in this period")
    rows = sorted(rows, key=lambda row: row["sales"])
    figure = go.Figure(layout=dict(template=TEMPLATE, height=80 + 40 * len(rows), hovermode="closest",
                                   showlegend=False))
    figure.add_bar(y=[row["channel"] for row in rows], x=plain(rows, "sales"), orientation="h",
                   marker_color=METRICS["total_sales"].colour,
                   text=[formats.money(row["sales"], currency) for row in rows], textposition="auto",
                   customdata=[formats.count(row["orders"]) for row in rows],
                   hovertemplate="%{y}: %{text} from %{customdata} orders<extra></extra>")
    figure.update_yaxes(automargin=True)
    return figure


def new_and_returning(rows: list[dict]) -> go.Figure:
    """New and returning customers per bucket, stacked."""
    if not any(row.get("new_customers") or row.get("returning_customers") for row in rows):
        return empty("No customers ordered in this period")
    return figure([bars(rows, "date", metric) for metric in ("new_customers", "returning_customers")],
                  barmode="stack", height=300, legend=dict(traceorder="normal"), **DATES)
