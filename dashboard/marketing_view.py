"""The Marketing and the Products and customers pages' parts: KPI tiles, grids, empty states, downloads, callbacks."""

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State, dcc, html
from flask_login import current_user
from sqlalchemy.orm import Session

from dashboard import charts, db, downloads, formats, queries, selection
from dashboard.metrics import METRICS

TONES = {"good": "text-success", "bad": "text-danger", "neutral": "text-body-secondary"}
# (field, header, kind): what the grids show, in order.
CAMPAIGN_COLUMNS = [
    ("campaign_name", "Campaign", "text"), ("account_id", "Account", "text"), ("spend", "Spend", "money"),
    ("impressions", "Impressions", "count"), ("clicks", "Clicks", "count"), ("ctr", "CTR", "percent"),
    ("cpc", "CPC", "money"), ("cpm", "CPM", "money"), ("purchases", "Purchases", "count"),
    ("purchase_value", "Purchase value", "money"), ("roas", "ROAS", "ratio"), ("cpa", "CPA", "money"),
]
PRODUCT_COLUMNS = [
    ("product_title", "Product", "text"), ("variant_title", "Variant", "text"), ("sku", "SKU", "text"),
    ("net_sales", "Net sales", "money"), ("units_sold", "Units sold", "count"),
    ("units_returned", "Units returned", "count"), ("return_rate", "Return rate", "percent"),
]
CUSTOMER_COLUMNS = [
    ("customer", "Customer", "text"), ("orders", "Orders", "count"), ("first_order_day", "First order", "date"),
    ("net_sales", "Net sales", "money"),
]
PAGE_SIZE = 10


# -- parts ---------------------------------------------------------------------------------------------------------
def kpi(metric: str, current: dict | None, previous: dict | None, *, currency: str | None = None,
        field: str | None = None, note: str = "") -> dbc.Col:
    """A tile: the metric's label (its formula on hover), its value and its change against the comparison."""
    field = field or metric
    now = (current or {}).get(field)
    before = (previous or {}).get(field) if previous is not None else None
    change = formats.change(metric, now, before) if previous is not None else None
    return dbc.Col(dbc.Card(dbc.CardBody([
        html.Div(METRICS[metric].label, className="kpi-label", title=METRICS[metric].formula),
        html.Div(formats.value(metric, now, currency), className="kpi-value"),
        html.Div(change.text, className=f"kpi-change small {TONES[change.tone]}") if change else None,
        html.Div(note, className="kpi-note small text-body-secondary") if note else None,
    ]), className="kpi h-100 shadow-sm", id={"type": "kpi", "metric": metric}), xs=6, md=4, xl=2)


def empty_state(title: str, text: str, *, id: str, settings_link: bool = False) -> dbc.Alert:
    """A designed empty state: what is missing, and (for admins) where to fix it."""
    action = []
    if settings_link and current_user.is_admin:
        action = [html.P(["Link a Meta ad account to the store in ",
                          dbc.Button("Settings", href="/settings", color="primary", size="sm", id=f"{id}-settings"),
                          "."], className="mb-0")]
    elif settings_link:
        action = [html.P("Ask an admin of your agency to link one in Settings.", className="mb-0")]
    return dbc.Alert([html.H2(title, className="h5"), html.P(text, className="mb-2" if action else "mb-0"),
                      *action], color="info", id=id, className="empty-state")


def section(title: str, body, *, download: str, arg: str = "", id: str | None = None, tools=None) -> dbc.Card:
    """A card with a title, a CSV button for its rows and the chart or table."""
    heading = html.Div([html.H2(title, className="h6 mb-0 me-auto"), *(tools or []),
                        html.Span(downloads.button(download, arg=arg), id=f"{id}-csv" if id else None)],
                       className="d-flex flex-wrap align-items-center gap-2 mb-2")
    return dbc.Card(dbc.CardBody([heading, body]), className="section mb-4 shadow-sm", id=id)


def toggle(id: str, label: str, options: dict[str, str], value: str) -> html.Div:
    """A labelled group of buttons choosing one of `options` (value -> label)."""
    return html.Div(dbc.RadioItems(
        id=id, value=value, inline=True, className="btn-group btn-group-sm", inputClassName="btn-check",
        labelClassName="btn btn-outline-secondary", labelCheckedClassName="active",
        options=[{"label": text, "value": key} for key, text in options.items()]), role="group",
        **{"aria-label": label})


def grid(id: str, rows: list[dict], columns: list, *, selectable: bool = False, **extra) -> dag.AgGrid:
    """A sortable, filterable grid paged in the browser."""
    options = {"pagination": True, "paginationPageSize": PAGE_SIZE, "paginationPageSizeSelector": [10, 25, 50, 100],
               "domLayout": "autoHeight", "tooltipShowDelay": 300, "enableCellTextSelection": True}
    if selectable:
        options["rowSelection"] = {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True}
    return dag.AgGrid(
        id=id, rowData=charts.grid_rows(rows, columns), columnDefs=charts.grid_columns(columns, pinned=columns[0][0]),
        defaultColDef={"sortable": True, "resizable": True, "floatingFilter": True, "suppressHeaderMenuButton": True,
                       "suppressHeaderFilterButton": True, "suppressFloatingFilterButton": False},
        dashGridOptions=options, className="grid", style={"height": None},
        **extra)


def no_access() -> dbc.Alert:
    """A store in the URL this user may not see (or that is gone)."""
    return dbc.Alert("This store does not exist or you have no access to it.", color="warning", id="no-access")


def open_page(*, session: Session, query) -> tuple[selection.Selection | None, list, dbc.Alert | None]:
    """The selection (presets in the store's timezone) and its stores' facts, or the alert shown instead."""
    if not queries.list_shops(session=session):
        return None, [], no_stores()
    chosen = queries.read_selection(session=session, query=query)
    facts = queries.read_store_facts(session=session, shop_id=chosen.shop_id)
    return chosen, facts, None if facts else no_access()


def no_stores() -> dbc.Alert:
    """What a user sees before any store is connected (or granted to them)."""
    text = ("Connect a Shopify store in Settings." if current_user.is_admin
            else "Ask an admin of your agency to give you access to a store.")
    return empty_state("No store connected yet", text, id="no-stores")


def periods(chosen: selection.Selection) -> dict[str, tuple]:
    """The selection's period and its comparison, by name."""
    named = {"current": (chosen.start, chosen.end)}
    if chosen.comparison:
        named["previous"] = chosen.comparison
    return named


# -- rows: what the pages and their CSV downloads read -------------------------------------------------------------
def campaign_key(row: dict) -> str:
    """A campaign's key in the grid and in its download's name: `act_1-120001`."""
    return f"{row['account_id']}-{row['campaign_id']}"


def parse_campaign_key(key: object) -> tuple[str, str] | None:
    """(account id, campaign id) from a key the browser sent, or None when it is not one."""
    if not isinstance(key, str) or "-" not in key or len(key) > 200:
        return None
    account, campaign = key.split("-", 1)
    return (account, campaign) if account and campaign else None


def read_campaigns(*, session: Session, chosen: selection.Selection) -> list[dict]:
    """The campaigns report for the selection, with CTR, CPC, CPM and CPA beside it."""
    rows = queries.read_report(session=session, report="campaigns", shop_id=chosen.shop_id, start=chosen.start,
                               end=chosen.end)
    return [charts.with_ad_ratios(row) | {"key": campaign_key(row)} for row in rows]


def read_products(*, session: Session, chosen: selection.Selection, level: str, order: str) -> list[dict]:
    """The top variants or products, with the share of their units returned."""
    rows = queries.read_top_products(session=session, shop_id=chosen.shop_id, start=chosen.start, end=chosen.end,
                                     level=level, order=order)
    return [row | {"return_rate": charts.ratio_or_none(row["units_returned"], row["units_sold"])} for row in rows]


def read_customers(*, session: Session, chosen: selection.Selection) -> list[dict]:
    """The top customers, named or with a masked email: the raw email never leaves the server."""
    rows = queries.read_report(session=session, report="top-customers", shop_id=chosen.shop_id,
                               start=chosen.start, end=chosen.end)
    return [{"shop_domain": row["shop_domain"], "customer_id": row["customer_id"],
             "customer": charts.customer_label(row["display_name"], row["email"]), "orders": row["orders"],
             "first_order_day": row["first_order_day"], "last_order_day": row["last_order_day"],
             "currency": row["currency"], "net_sales": row["net_sales"], "fx_estimated": row["fx_estimated"]}
            for row in rows]


def parse_product_view(arg: object) -> tuple[str, str]:
    """(level, order) from a `variant-net_sales` argument; the default for anything else."""
    level, _, order = str(arg or "").partition("-")
    if level in queries.PRODUCT_LEVELS and order in queries.PRODUCT_ORDERS:
        return level, order
    return queries.PRODUCT_LEVELS[0], queries.PRODUCT_ORDERS[0]


@downloads.reader("campaigns")
def campaigns_csv(*, session, chosen, arg=""):
    """Exactly the export CLI's campaigns report (CTR and the costs are derived from its columns)."""
    return queries.read_report(session=session, report="campaigns", shop_id=chosen.shop_id, start=chosen.start,
                               end=chosen.end)


@downloads.reader("campaign-trend")
def campaign_trend_csv(*, session, chosen, arg=""):
    """The selected campaign's days, as its chart draws them."""
    key = parse_campaign_key(arg)
    if key is None:
        return []
    return queries.read_campaign_daily(session=session, shop_id=chosen.shop_id, account_id=key[0],
                                       campaign_id=key[1], start=chosen.start, end=chosen.end)


@downloads.reader("top-products")
def top_products_csv(*, session, chosen, arg=""):
    """The products table as toggled (`variant-net_sales` is the export CLI's top-products)."""
    level, order = parse_product_view(arg)
    return queries.read_top_products(session=session, shop_id=chosen.shop_id, start=chosen.start, end=chosen.end,
                                     level=level, order=order)


@downloads.reader("top-customers")
def top_customers_csv(*, session, chosen, arg=""):
    """The customers table as shown: names or masked emails, never the address itself."""
    return read_customers(session=session, chosen=chosen)


# -- callbacks -----------------------------------------------------------------------------------------------------
def trend_section(session: Session, chosen: selection.Selection, selected: dict | None) -> dbc.Card:
    """The selected campaign's daily trend (one query), or a prompt to select one."""
    key = parse_campaign_key((selected or {}).get("key"))
    if key is None:
        figure, arg, title = charts.empty("Select a campaign in the table to see its daily trend"), "", "Trend"
    else:
        rows = queries.read_campaign_daily(session=session, shop_id=chosen.shop_id, account_id=key[0],
                                           campaign_id=key[1], start=chosen.start, end=chosen.end)
        figure, arg = charts.campaign_trend(rows), "-".join(key)
        title = f"Trend: {selected.get('campaign_name') or key[1]}"
    graph = html.Div(dcc.Graph(figure=figure, config=charts.CONFIG, id="campaign-trend-graph"), role="img",
                     **{"aria-label": f"{title}: daily spend, purchase value and ROAS"})
    return section(title, graph, download="campaign-trend", arg=arg, id="campaign-trend")


def register_callbacks(app: Dash, location: str) -> None:
    """The two pages' callbacks, bound to this app."""

    @app.callback(
        Output("campaign-trend-holder", "children"),
        Input("campaign-grid", "selectedRows"),
        State(location, "search"),
    )
    def show_trend(selected_rows, search):
        """The selected campaign's trend (the first load selects the biggest spender)."""
        session = db.get_session()
        chosen = queries.read_selection(session=session, query=search or "")
        first = selected_rows[0] if isinstance(selected_rows, list) and selected_rows else None
        return trend_section(session, chosen, first if isinstance(first, dict) else None)

    @app.callback(
        Output("product-grid", "rowData"),
        Output("product-grid", "columnDefs"),
        Output("products-csv", "children"),
        Input("product-level", "value"),
        Input("product-order", "value"),
        State(location, "search"),
        prevent_initial_call=True,
    )
    def switch_products(level, order, search):
        """Re-rank the products table, and point its CSV button at the same rows."""
        level, order = parse_product_view(f"{level}-{order}")
        session = db.get_session()
        chosen = queries.read_selection(session=session, query=search or "")
        rows = read_products(session=session, chosen=chosen, level=level, order=order)
        columns = product_columns(level)
        return (charts.grid_rows(rows, columns), charts.grid_columns(columns, pinned=columns[0][0]),
                downloads.button("top-products", arg=f"{level}-{order}"))


def product_columns(level: str) -> list:
    """Products drop the variant's own columns."""
    if level == "variant":
        return PRODUCT_COLUMNS
    return [column for column in PRODUCT_COLUMNS if column[0] not in ("variant_title", "sku")]
