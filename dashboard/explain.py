"""Explain a number: a KPI card or a day of the sales chart opens its formula and the rows behind it.

Sales figures show the orders placed and the reversals (refunds, cancellations, edits) booked in the days
asked (reporting.sales_ledger, which sums to the daily figures to the cent), each linked to the order in the
store's Shopify admin. Marketing figures (ad spend, MER, ROAS, CAC) show the days they are computed from.
"""

from datetime import date, timedelta

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update

from dashboard import charts, db, downloads, formats, queries, selection
from dashboard.components import format_range
from dashboard.metrics import MER_BASIS_LABELS, METRICS
from dashboard.metrics import formula as formula_of

SHOWN_ROWS = 500  # the modal's table; the CSV has every row
MARKETING = ("spend", "mer", "roas", "cac")
MONEY = ("gross_sales", "discounts", "returns", "net_sales", "shipping", "taxes", "duties", "additional_fees",
         "total_sales")
LEDGER_LABELS = {"gross_sales": "Gross sales", "discounts": "Discounts", "returns": "Returns",
                 "net_sales": "Net sales", "shipping": "Shipping", "taxes": "Taxes", "duties": "Duties",
                 "additional_fees": "Fees", "total_sales": "Total sales"}
DAILY_COLUMNS = ("date", "currency", "total_sales", "mer_sales", "spend", "purchase_value", "new_customers", "mer",
                 "roas", "cac")


def modal() -> dbc.Modal:
    """The one modal every explain button and chart click fills."""
    return dbc.Modal([
        dbc.ModalHeader(dbc.ModalTitle(id="explain-title")),
        dbc.ModalBody(dcc.Loading(html.Div(id="explain-body"), delay_show=200)),
    ], id="explain-modal", size="xl", scrollable=True, fullscreen="md-down", is_open=False)


def admin_url(shop_domain: str, order_id: str, legacy_id: int | None) -> str:
    """The order in the store's Shopify admin (admin.shopify.com/store/<handle>/orders/<number>)."""
    handle = shop_domain.removesuffix(".myshopify.com")
    number = legacy_id if legacy_id is not None else order_id.rsplit("/", 1)[-1]
    return f"https://admin.shopify.com/store/{handle}/orders/{number}"


def days_of(arg: str, chosen: selection.Selection) -> tuple[date, date] | None:
    """The days a download or a click names: one day (or its week or month at that grain), else the period."""
    day = selection.parse_date(arg)
    if day is None:
        return (chosen.start, chosen.end) if arg in METRICS else None
    first = max(charts.bucket_start(day, chosen.grain), chosen.start)
    if chosen.grain == "week":
        last = charts.bucket_start(day, "week") + timedelta(days=6)
    elif chosen.grain == "month":
        last = (charts.bucket_start(day, "month") + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    else:
        last = day
    return first, min(last, chosen.end)


@downloads.reader("explain")
def read_explain(*, session, chosen: selection.Selection, arg: str) -> list[dict]:
    """Every row behind a card (arg: its metric) or a day (arg: the ISO day)."""
    days = days_of(arg, chosen)
    if days is None:
        return []
    if arg in MARKETING:
        return read_marketing_days(session=session, chosen=chosen)
    rows = queries.read_sales_ledger(session=session, shop_id=chosen.shop_id, start=days[0], end=days[1])
    return [row | {"admin_url": admin_url(row["shop_domain"], row["order_id"], row["legacy_id"])} for row in rows]


def read_marketing_days(*, session, chosen: selection.Selection) -> list[dict]:
    """The days a marketing figure is computed from."""
    rows = queries.read_report(session=session, report="mer-roas", shop_id=chosen.shop_id, start=chosen.start,
                               end=chosen.end)
    return [{key: row.get(key) for key in DAILY_COLUMNS} for row in rows]


def _grid(rows: list[dict], columns: list[dict], grid_id: str) -> dag.AgGrid:
    # Columns as wide as their content: the amounts a reader compares stay on screen together.
    return dag.AgGrid(id=grid_id, rowData=rows, columnDefs=columns, className="ag-theme-quartz explain-grid",
                      defaultColDef={"sortable": True, "resizable": True, "minWidth": 70},
                      dashGridOptions={"domLayout": "autoHeight", "pagination": True, "paginationPageSize": 50,
                                       "rowHeight": 34, "headerHeight": 38},
                      columnSize="autoSize", style={"width": "100%"})


def _money_column(key: str, label: str) -> dict:
    return {"field": key, "headerName": label, "type": "rightAligned",
            "valueFormatter": {"function": "params.value == null ? '–' : d3.format(',.2f')(params.value)"}}


def ledger_table(rows: list[dict], all_stores: bool) -> dag.AgGrid:
    """The ledger's rows: the order (a link to Shopify's admin), what was booked, and each component."""
    shown = [{"order": f"[{row['order_name'] or row['order_id']}]({row['admin_url']})", **{
        key: (float(row[key]) if key in MONEY else row[key]) for key in (
            "shop_domain", "currency", "day", "booked", "orders", "units", *MONEY)}} for row in rows]
    for row in shown:
        row["day"] = row["day"].isoformat()
    columns = [{"field": "order", "headerName": "Order", "cellRenderer": "markdown", "linkTarget": "_blank",
                "pinned": "left", "minWidth": 90, "width": 100},
               *([{"field": "shop_domain", "headerName": "Store"}] if all_stores else []),
               {"field": "booked", "headerName": "Booked"}, {"field": "day", "headerName": "Day"},
               {"field": "orders", "headerName": "Placed", "type": "rightAligned"},
               {"field": "units", "headerName": "Units", "type": "rightAligned"},
               *[_money_column(key, LEDGER_LABELS[key]) for key in MONEY],
               {"field": "currency", "headerName": "Currency"}]
    return _grid(shown, columns, "explain-grid")


def marketing_table(rows: list[dict]) -> dag.AgGrid:
    """The days behind a marketing figure."""
    shown = [{key: (float(v) if key not in ("date", "currency", "new_customers") and v is not None else v)
              for key, v in row.items()} | {"date": row["date"].isoformat()} for row in rows]
    columns = [{"field": "date", "headerName": "Day"},
               *[_money_column(key, METRICS[key].label) for key in ("total_sales", "spend", "purchase_value")],
               _money_column("mer_sales", "MER's sales"),
               {"field": "new_customers", "headerName": "New customers", "type": "rightAligned"},
               *[_money_column(key, METRICS[key].label) for key in ("mer", "roas", "cac")],
               {"field": "currency", "headerName": "Currency"}]
    return _grid(shown, columns, "explain-grid")


def window_start(daily: list[dict], first: date, last: date, cap: int = SHOWN_ROWS) -> date:
    """The first of the latest days whose orders fit in `cap` rows (a period's ledger shows its latest days)."""
    placed = 0
    for row in sorted(daily, key=lambda r: r["date"], reverse=True):
        placed += row.get("orders") or 0
        if placed >= cap:
            return max(first, min(last, row["date"]))
    return first


def explain_sales(*, session, chosen: selection.Selection, first: date, last: date, arg: str) -> list:
    """The formula, then the orders and reversals booked over [first, last] (its latest days, capped)."""
    daily = queries.read_report(session=session, report="daily-revenue", shop_id=chosen.shop_id, start=first,
                                end=last)
    since = window_start(daily, first, last)  # a year's ledger is thousands of rows: read only what is shown
    rows = queries.read_sales_ledger(session=session, shop_id=chosen.shop_id, start=since, end=last,
                                     limit=SHOWN_ROWS + 1)
    capped = len(rows) > SHOWN_ROWS
    rows = [row | {"admin_url": admin_url(row["shop_domain"], row["order_id"], row["legacy_id"])}
            for row in rows[:SHOWN_ROWS]]
    if not rows:
        return [html.P("No order was placed and nothing was refunded, cancelled or edited in these days.",
                       className="text-body-secondary", id="explain-empty")]
    if since > first:
        summary = (f"The latest days are shown, from {since:%-d %b %Y} ({len(rows)} rows); the CSV has every row "
                   "of the period.")
    elif capped:
        summary = f"The first {SHOWN_ROWS} rows are shown; the CSV has them all."
    else:
        summary = (f"{len(rows)} rows: each order placed and each reversal booked, one row per order and day. "
                   + sums_sentence(rows, all_stores=chosen.shop_id is None))
    return [html.P(summary, className="small", id="explain-summary"),
            ledger_table(rows, all_stores=chosen.shop_id is None),
            html.Div(downloads.button("explain", arg=arg, label="CSV of every row"), className="mt-2")]


def sums_sentence(rows: list[dict], *, all_stores: bool) -> str:
    """`They sum to 12 orders and €1,234.56 of total sales.` (per currency for several stores)."""
    by_currency: dict[str, list] = {}
    for row in rows:
        by_currency.setdefault(row["currency"], []).append(row)
    parts = [formats.money(sum(r["total_sales"] for r in mine), currency) for currency, mine in by_currency.items()]
    orders = sum(row["orders"] for row in rows)
    return f"They sum to {formats.count(orders)} orders placed and {' + '.join(parts)} of total sales" + (
        " (each store in its currency)." if all_stores and len(parts) > 1 else ".")


def content(*, session, chosen: selection.Selection, arg: str) -> tuple[str, list]:
    """The modal's title and body for a card (arg: its metric) or a day (arg: ISO day)."""
    days = days_of(arg, chosen)
    if days is None:
        return "Nothing to explain", [html.P("This figure cannot be explained.")]
    first, last = days
    period = format_range(first, last) if first != last else f"{first:%-d %b %Y}"
    metric = METRICS.get(arg, METRICS["total_sales"])
    title = f"{metric.label if arg in METRICS else 'Sales'} · {period}"
    basis = queries.get_mer_basis(session=session) if arg == "mer" else "shopify"
    formula = html.P([html.Strong(f"{MER_BASIS_LABELS[basis] if arg == 'mer' else metric.label}: "),
                      formula_of(arg if arg in METRICS else "total_sales", basis)],
                     className="explain-formula", id="explain-formula")
    if arg in MARKETING:
        rows = read_marketing_days(session=session, chosen=chosen)
        return title, [formula, html.P("The days it is computed from (money in the store's currency; All stores "
                                       "in the reporting currency).", className="small"),
                       marketing_table(rows), html.Div(downloads.button("explain", arg=arg, label="CSV"),
                                                       className="mt-2")]
    return title, [formula, *explain_sales(session=session, chosen=chosen, first=first, last=last, arg=arg)]


def register_callbacks(app: Dash, location: str) -> None:
    """Open the modal from a card's button or a click on the sales chart."""

    @app.callback(
        Output("explain-modal", "is_open"),
        Output("explain-title", "children"),
        Output("explain-body", "children"),
        Input({"type": "explain-card", "metric": ALL}, "n_clicks"),
        Input("sales-chart", "clickData"),
        State(location, "search"),
        prevent_initial_call=True,
    )
    def open_explain(_clicks, click_data, search):
        trigger = ctx.triggered_id
        if isinstance(trigger, dict) and ctx.triggered and ctx.triggered[0]["value"]:
            arg = trigger["metric"]
        elif trigger == "sales-chart" and click_data and click_data.get("points"):
            arg = str(click_data["points"][0].get("x", ""))[:10]
        else:
            return no_update, no_update, no_update
        session = db.get_session()
        chosen = queries.read_selection(session=session, query=search or "")
        title, body = content(session=session, chosen=chosen, arg=arg)
        return True, title, body
