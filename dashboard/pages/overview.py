"""Overview: KPI cards against the comparison period, sales, marketing, orders and customers over time."""

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html
from flask_login import current_user

from dashboard import charts, db, downloads, explain, formats, marketing_view, page_header, queries, selection
from dashboard.components import store_card
from dashboard.metrics import MER_BASIS_LABELS, METRICS, formula

dash.register_page(__name__, path="/", name="Overview", title="Overview · Storefront analytics", order=0)

KPIS = ("total_sales", "net_sales", "orders", "aov", "spend", "mer", "roas", "cac", "new_customer_share",
        "returning_rate")
# (download name, chart title, columns of its CSV)
CHART_COLUMNS = {
    "overview-sales": ("date", "currency", "orders", "gross_sales", "discounts", "returns", "net_sales", "shipping",
                       "taxes", "duties", "additional_fees", "total_sales", "spend"),
    "overview-mer-roas": ("date", "currency", "total_sales", "mer_sales", "spend", "purchase_value", "mer", "roas"),
    "overview-orders": ("date", "currency", "orders", "gross_sales", "discounts", "aov"),
    "overview-customers": ("date", "new_customers", "returning_customers", "new_customer_share", "returning_rate"),
}


def layout(**query):
    """Render the overview for the selection in the query string."""
    session = db.get_session()
    shops = queries.list_shops(session=session)
    if not shops:
        return no_stores()
    chosen = queries.read_selection(session=session, query=query)
    shown = [shop for shop in shops if chosen.shop_id in (None, shop.shop_id)]
    if not shown:
        return dbc.Alert("This store does not exist or you have no access to it.", color="warning", id="no-access")
    all_stores = chosen.shop_id is None
    currency = queries.get_reporting_currency(session=session) if all_stores else shown[0].currency
    basis = queries.get_mer_basis(session=session)
    days, stores = queries.read_overview(session=session, shop_id=chosen.shop_id,
                                         periods=marketing_view.periods(chosen), shops=shops, basis=basis)
    current, previous = days["current"], days.get("previous")
    now, before = charts.totals(current), (charts.totals(previous) if previous is not None else None)
    if not any(fact.has_ad_account for fact in queries.read_store_facts(session=session, shop_id=chosen.shop_id)):
        now, before = without_spend(now), without_spend(before)  # no ad account: no spend figure, not a zero
    rows = charts.bucket(current, chosen.grain, chosen.start, chosen.end)
    title = "All stores" if all_stores else shown[0].name
    return html.Div([
        page_header.header(session=session, chosen=chosen, title=title, fx_estimated=now["fx_estimated"]),
        missing_rate_note(current, currency) if all_stores else None,
        html.Div([kpi_card(metric, now, before, currency, basis) for metric in KPIS], className="kpi-grid mb-3",
                 id="kpis"),
        grain_control(chosen.grain),
        dbc.Row([
            chart_col("Sales and ad spend", "sales-chart", charts.sales_and_spend(rows, currency), "overview-sales",
                      "Click a point: the orders and refunds behind it."),
            chart_col("MER and ROAS", "mer-chart", charts.mer_and_roas(rows, MER_BASIS_LABELS[basis]),
                      "overview-mer-roas", mer_basis_hint(basis)),
            chart_col("Orders and AOV", "orders-chart", charts.orders_and_aov(rows, currency), "overview-orders"),
            chart_col("New and returning customers", "customers-chart", charts.new_and_returning(rows),
                      "overview-customers"),
            channel_col(session=session, chosen=chosen, currency=currency, basis=basis),
        ], className="g-3"),
        store_table(store_rows(stores), currency, basis) if all_stores and len(shops) > 1 else None,
        # Each store's status, currency and timezone: what its figures mean (a paused store's stop growing).
        dbc.Row([dbc.Col(store_card(shop), md=6, lg=4) for shop in shown], className="g-3 mt-2", id="store-cards"),
        explain.modal(),
    ], id="overview-page")


def missing_rate_note(rows: list[dict], currency: str | None):
    """All stores: days whose money could not be converted (no rate yet) leave the totals unknown, not smaller."""
    missing = sorted(row["date"] for row in rows if row.get("total_sales") is None)
    if not missing:
        return None
    return dbc.Alert(f"No exchange rate to {currency} yet for {len(missing)} day(s) from {missing[0]:%-d %b %Y}: "
                     "All-stores money for those days is not shown rather than summed in different currencies.",
                     color="warning", className="py-2 small", id="missing-fx")


def without_spend(totals: dict | None) -> dict | None:
    """Totals with ad spend unknown rather than zero (the header says no ad account is linked)."""
    return None if totals is None else totals | {"spend": None}


def mer_basis_hint(basis: str) -> str:
    """Which sales MER divides, in the words of the agency's setting."""
    return (f"{MER_BASIS_LABELS[basis]}: " + ("Shopify's total sales" if basis == "shopify" else
            "Shopify's total sales + uploaded marketplace orders' net sales") + " ÷ ad spend (Settings > Agency).")


def kpi_card(metric: str, now: dict, before: dict | None, currency: str | None, basis: str = "shopify") -> dbc.Card:
    """A KPI's value, its change against the comparison period, and its formula on hover."""
    label = METRICS[metric].label
    change = None if before is None else formats.change(metric, now.get(metric), before.get(metric))
    if before is not None and now.get(metric) == before.get(metric) == 0:
        change = formats.Change("no change", "neutral")  # nothing either time, not "new"
    return dbc.Card(dbc.CardBody([
        html.Div([html.Span(label, id=f"kpi-label-{metric}", className="kpi-label", tabIndex=0),
                  dbc.Tooltip(formula(metric, basis), target=f"kpi-label-{metric}", placement="top")]),
        html.Div(formats.value(metric, now.get(metric), currency), className="kpi-value", id=f"kpi-{metric}"),
        html.Div(MER_BASIS_LABELS[basis], className="kpi-basis", id="kpi-mer-basis") if metric == "mer" else None,
        html.Div(change.text, className=f"kpi-change tone-{change.tone}", id=f"kpi-change-{metric}",
                 title="Against the comparison period") if change else None,
        dbc.Button("Explain", id={"type": "explain-card", "metric": metric}, color="link", size="sm",
                   className="kpi-explain p-0 mt-1", title=f"Show how {label} is computed and the rows behind it"),
    ], className="d-flex flex-column"), className="kpi-card h-100 shadow-sm")


def grain_control(grain: str) -> html.Div:
    """Day, week or month buckets for the charts (kept in the URL)."""
    return html.Div([
        dbc.Label("Show by", html_for="grain", className="me-2 mb-0 small text-body-secondary"),
        dbc.RadioItems(id="grain", options=[{"label": label, "value": value}
                                            for value, label in selection.GRAINS.items()],
                       value=grain, inline=True, className="btn-group", inputClassName="btn-check",
                       labelClassName="btn btn-outline-secondary btn-sm", labelCheckedClassName="active"),
    ], className="d-flex align-items-center mb-2")


def chart_col(title: str, graph_id: str, figure, download: str, hint: str = "") -> dbc.Col:
    """A chart in a card, its title and CSV button above it."""
    return dbc.Col(dbc.Card(dbc.CardBody([
        html.Div([html.H2(title, className="h6 mb-0"), downloads.button(download)],
                 className="d-flex justify-content-between align-items-center gap-2"),
        html.Div(hint, className="small text-body-secondary") if hint else None,
        # No toolbar: it covered the legend on a phone; dragging still zooms, a double click resets.
        dcc.Graph(id=graph_id, figure=figure, config=charts.CONFIG | {"displayModeBar": False},
                  className="overview-graph"),
    ]), className="h-100 shadow-sm"), lg=6)


def channel_col(*, session, chosen: selection.Selection, currency: str | None, basis: str) -> dbc.Col | None:
    """Total sales split by channel, when marketplace orders were uploaded for the selection's stores."""
    if not queries.has_marketplace_sales(session=session, shop_id=chosen.shop_id, start=chosen.start,
                                         end=chosen.end):
        return None
    channels = queries.read_sales_by_channel(session=session, shop_id=chosen.shop_id, start=chosen.start,
                                             end=chosen.end)
    return chart_col("Total sales by channel", "channel-chart", charts.sales_by_channel(channels, currency),
                     "overview-channels", "Total sales and the KPIs above count Shopify's sales; "
                     + ("MER counts these channels too." if basis == "all_channels" else
                        "so does MER (Settings > Agency can make it count all channels)."))


@downloads.reader("overview-channels")
def read_channel_csv(*, session, chosen: selection.Selection, arg: str) -> list[dict]:
    """The channel split's rows."""
    return queries.read_sales_by_channel(session=session, shop_id=chosen.shop_id, start=chosen.start, end=chosen.end)


def store_table(rows: list[dict], currency: str, basis: str) -> html.Div:
    """All stores: each store's sales, spend and MER, with their changes, to spot the store that moved."""
    columns = [
        {"field": "store", "headerName": "Store", "pinned": "left", "minWidth": 140},
        *[_money(key, f"{label} ({currency})") for key, label in (("total_sales", "Sales"), ("spend", "Ad spend"))],
        {"field": "mer", "headerName": MER_BASIS_LABELS[basis], "type": "rightAligned",
         "valueFormatter": {"function": "params.value == null ? '–' : d3.format(',.2f')(params.value) + '×'"}},
        *[_change(f"{key}_change", f"{label} change", METRICS[key].higher_is_better)
          for key, label in (("total_sales", "Sales"), ("spend", "Spend"), ("mer", "MER"))],
    ]
    return html.Div([
        html.Div([html.H2("Stores", className="h5 mb-0"), downloads.button("overview-stores")],
                 className="d-flex justify-content-between align-items-center mt-4 mb-2"),
        dag.AgGrid(id="store-table", rowData=rows, columnDefs=columns, className="ag-theme-quartz",
                   defaultColDef={"sortable": True, "resizable": True, "filter": True, "minWidth": 110,
                                  "wrapHeaderText": True, "autoHeaderHeight": True},
                   dashGridOptions={"domLayout": "autoHeight"}, columnSize="responsiveSizeToFit",
                   style={"width": "100%"}),
    ], id="stores")


def _money(key: str, label: str) -> dict:
    return {"field": key, "headerName": label, "type": "rightAligned",
            "valueFormatter": {"function": "params.value == null ? '–' : d3.format(',.2f')(params.value)"}}


def _change(key: str, label: str, higher_is_better: bool) -> dict:
    # Arrow and sign in the text, the colour a second cue (formats.change's convention).
    good, bad = ("x > 0", "x < 0") if higher_is_better else ("x < 0", "x > 0")
    text = ("params.value == null ? '–' : (params.value > 0 ? '▲ +' : params.value < 0 ? '▼ −' : '= ') "
            "+ d3.format('.1%')(Math.abs(params.value))")
    return {"field": key, "headerName": label, "type": "rightAligned", "valueFormatter": {"function": text},
            "cellClassRules": {"tone-good": good, "tone-bad": bad}}


def store_rows(stores: dict[str, list[dict]]) -> list[dict]:
    """Per store: sales, spend and MER (on the agency's basis) in the reporting currency, and their changes."""
    now, before = stores["current"], {row["shop_id"]: row for row in stores.get("previous", [])}
    out = []
    for row in now:
        previous = before.get(row["shop_id"], {})
        figures = _figures(row, row.get("marketplace_sales", 0))
        earlier = _figures(previous, previous.get("marketplace_sales", 0)) if previous else {}
        out.append({"shop_id": row["shop_id"], "store": row["name"], **figures,
                    **{f"{key}_change": _fraction(figures[key], earlier.get(key)) for key in figures}})
    return out


def _figures(row: dict, marketplace_sales) -> dict:
    """Sales, spend and MER; MER adds the marketplace sales its basis counts (0 on Shopify's sales alone)."""
    sales, spend = row.get("total_sales_reporting"), row.get("spend_reporting")
    mer_sales = None if sales is None or marketplace_sales is None else sales + marketplace_sales
    mer = float(mer_sales / spend) if mer_sales is not None and spend else None
    return {"total_sales": None if sales is None else float(sales), "spend": None if spend is None else float(spend),
            "mer": mer}


def _fraction(current, previous) -> float | None:
    if current is None or not previous:
        return None
    return (current - previous) / abs(previous)


@downloads.reader("overview-stores")
def read_store_csv(*, session, chosen: selection.Selection, arg: str) -> list[dict]:
    """The stores table's rows."""
    return store_rows(queries.read_overview(session=session, shop_id=None, periods=marketing_view.periods(chosen))[1])


def _chart_reader(name: str):
    @downloads.reader(name)
    def read(*, session, chosen: selection.Selection, arg: str) -> list[dict]:
        shop = None if chosen.shop_id is None else queries.get_shop(session=session, shop_id=chosen.shop_id)
        if chosen.shop_id is not None and shop is None:
            return []  # not granted, or gone
        currency = shop.currency if shop else queries.get_reporting_currency(session=session)
        current = queries.read_daily_overview(session=session, shop_id=chosen.shop_id, start=chosen.start,
                                              end=chosen.end)
        rows = charts.bucket(current, chosen.grain, chosen.start, chosen.end)
        return [{key: (currency if key == "currency" else row.get(key)) for key in CHART_COLUMNS[name]}
                for row in rows]
    return read


for _name in CHART_COLUMNS:
    _chart_reader(_name)


def no_stores():
    """What a user sees before any store is connected (or granted to them)."""
    if current_user.is_admin:
        action = html.P(["Connect your first Shopify store in ", dbc.Button(
            "Settings", href="/settings", color="primary", size="sm", id="go-settings"), "."])
    else:
        action = html.P("Ask an admin of your agency to give you access to a store.")
    return dbc.Alert([html.H2("No store connected yet", className="h5"), action], color="info", id="no-stores")
