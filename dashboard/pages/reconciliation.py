"""Reconciliation: one store's orders (Shopify's, and uploaded marketplace orders) against its payout
transactions for the selected period: matched, missing on either side, differences, fees; downloadable."""

from collections import defaultdict
from decimal import Decimal
from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
from dash import html

import settings
from dashboard import db, queries
from dashboard.components import format_range

dash.register_page(__name__, path="/reconciliation", name="Reconciliation",
                   title="Reconciliation · Storefront analytics", order=6)

STATUSES = ("matched", "difference", "missing_payout", "missing_order")
SHOWN_ROWS = 200


def layout(**query):
    """Totals per side and status (each opening its rows), then the rows, for the selected store and period."""
    session = db.get_session()
    chosen = queries.read_selection(session=session, query=query)  # presets in the store's timezone
    if chosen.shop_id is None:
        return dbc.Alert("Choose a store: the reconciliation is per store.", color="info", id="choose-store")
    shop = queries.get_shop(session=session, shop_id=chosen.shop_id)
    if shop is None:
        return dbc.Alert("This store does not exist or you have no access to it.", color="warning", id="no-access")
    rows = queries.read_reconciliation(session=session, shop_id=shop.shop_id, start=chosen.start, end=chosen.end)
    status = query.get("status")
    shown = [r for r in rows if status in (None, r["status"])]
    download = "/reconciliation.csv?" + urlencode({"shop": shop.shop_id, "preset": "custom",
                                                   "start": chosen.start, "end": chosen.end})
    return html.Div([
        html.H1(f"Reconciliation · {shop.name}", className="h3 mb-1"),
        html.P(f"{format_range(chosen.start, chosen.end)} · amounts in {shop.currency}; a difference is more than "
               f"{settings.RECONCILE_TOLERANCE:g} apart", className="text-body-secondary", id="period"),
        totals_table(rows, query),
        html.A("Download (CSV)", href=download, id="download-reconciliation", className="d-block mb-3"),
        rows_table(shown[:SHOWN_ROWS]),
    ], id="reconciliation-page")


TOTALS_HEADERS = ("Status", "Orders", "Orders' amount", "Paid out", "Difference", "Fees")
ROWS_COLUMNS = {"order_ref": "Order", "side": "Side", "status": "Status", "day": "Day",
                "order_amount": "Order amount", "payout_amount": "Paid out", "fees": "Fees", "difference": "Difference"}
NUMBERS = "text-end text-nowrap"


def _cell(cell, label: str, value, **props):
    """A table cell that names its column (data-label): on a phone each row reads as "label value" lines."""
    return cell(value, **{"data-label": label}, **props)


def totals_table(rows: list[dict], query: dict) -> dbc.Table:
    """Counts and sums per status: orders' side, payouts' side, the difference and the fees."""
    sums = defaultdict(lambda: [0, Decimal(0), Decimal(0), Decimal(0)])
    for r in rows:
        entry = sums[r["status"]]
        entry[0] += 1
        entry[1] += r["order_amount"] or 0
        entry[2] += r["payout_amount"] or 0
        entry[3] += r["fees"] or 0
    total = [sum(v[i] for v in sums.values()) for i in range(4)]
    body = []
    for status in STATUSES:
        count, orders, payouts, fees = sums[status]
        link = html.A(status.replace("_", " "), href="/reconciliation?" + urlencode(
            {k: v for k, v in query.items() if k != "status"} | {"status": status}))
        values = (count, f"{orders:,.2f}", f"{payouts:,.2f}", f"{payouts - orders:,.2f}", f"{fees:,.2f}")
        body.append(html.Tr([_cell(html.Td, TOTALS_HEADERS[0], link),
                             *[_cell(html.Td, label, value, className=NUMBERS)
                               for label, value in zip(TOTALS_HEADERS[1:], values, strict=True)]],
                            id=f"total-{status}"))
    values = (total[0], f"{total[1]:,.2f}", f"{total[2]:,.2f}", f"{total[2] - total[1]:,.2f}", f"{total[3]:,.2f}")
    ids = (None, "total-orders", "total-payouts", "total-difference", "total-fees")
    body.append(html.Tr([_cell(html.Th, TOTALS_HEADERS[0], "Total"),
                         *[_cell(html.Th, label, value, className=NUMBERS, **({"id": i} if i else {}))
                           for label, value, i in zip(TOTALS_HEADERS[1:], values, ids, strict=True)]],
                        className="table-group-divider"))
    head = html.Thead(html.Tr([html.Th(h, className="" if h == "Status" else NUMBERS) for h in TOTALS_HEADERS]))
    return dbc.Table([head, html.Tbody(body)], size="sm", className="table-stack", id="reconciliation-totals")


def rows_table(rows: list[dict]):
    """The rows behind the totals; on a phone each reads as a small card, never wider than the screen."""
    if not rows:
        return html.P("Nothing to reconcile in this period.", className="text-body-secondary", id="no-rows")
    money = ("order_amount", "payout_amount", "fees", "difference")
    head = html.Thead(html.Tr([html.Th(label, className=NUMBERS if key in money else "")
                               for key, label in ROWS_COLUMNS.items()]))
    body = html.Tbody([html.Tr([_cell(html.Td, label, _shown(key, r[key]), className=NUMBERS if key in money else "")
                                for key, label in ROWS_COLUMNS.items()]) for r in rows])
    return dbc.Table([head, body], size="sm", striped=True, className="table-stack", id="reconciliation-rows")


def _shown(key: str, value) -> str:
    if value is None:
        return ""
    return str(value).replace("_", " ") if key in ("side", "status") else str(value)
