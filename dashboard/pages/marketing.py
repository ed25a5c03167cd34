"""Marketing: Meta's figures for the selection, campaign by campaign, and a selected campaign's daily trend."""

import dash
import dash_bootstrap_components as dbc
from dash import html

from dashboard import charts, db, marketing_view, page_header, queries, selection
from dashboard.marketing_view import CAMPAIGN_COLUMNS, empty_state, grid, kpi, section

dash.register_page(__name__, path="/marketing", name="Marketing", title="Marketing · Storefront analytics", order=1)


def layout(**query):
    """Render the Marketing page for the selection in the query string."""
    session = db.get_session()
    chosen, facts, refusal = marketing_view.open_page(session=session, query=query)
    if refusal:
        return refusal
    if not any(fact.has_ad_account for fact in facts):
        whose = "This store has no" if chosen.shop_id is not None else "None of your stores has a"
        return html.Div([
            page_header.header(session=session, chosen=chosen, title="Marketing"),
            empty_state("No ad account linked", f"{whose} Meta ad account linked, so there is no ad spend, "
                        "ROAS or campaign to show.", id="no-ad-account", settings_link=True),
        ])
    campaigns = marketing_view.read_campaigns(session=session, chosen=chosen)
    totals = queries.read_marketing_totals(session=session, shop_id=chosen.shop_id,
                                           periods=marketing_view.periods(chosen))
    estimated = any(row["fx_estimated"] for row in [*campaigns, *totals.values()])
    return html.Div([
        page_header.header(session=session, chosen=chosen, title="Marketing", fx_estimated=estimated),
        kpis(totals, chosen),
        campaigns_section(campaigns) if campaigns else empty_state(
            "No ad delivery in this period", "Meta reports no spend or impressions for these dates. Pick a "
            "longer period, or check the ad account's sync on the Status page.", id="no-campaigns"),
        html.Div(id="campaign-trend-holder") if campaigns else None,
    ], className="marketing-page")


def kpis(totals: dict, chosen: selection.Selection) -> dbc.Row:
    """Spend, purchases, purchase value, ROAS, CPA and CTR, each against the comparison period."""
    current = charts.with_ad_ratios(totals.get("current") or {})
    previous = (charts.with_ad_ratios(totals.get("previous") or {})
                if chosen.comparison else None)
    currency = current.get("currency") or (previous or {}).get("currency")
    return dbc.Row([kpi(metric, current, previous, currency=currency)
                    for metric in ("spend", "purchases", "purchase_value", "roas", "cpa", "ctr")],
                   className="g-3 mb-4", id="marketing-kpis")


def campaigns_section(campaigns: list[dict]) -> dbc.Card:
    """Every campaign of the period, the biggest spender selected so its trend shows at once."""
    table = grid("campaign-grid", campaigns, CAMPAIGN_COLUMNS, selectable=True, getRowId="params.data.key",
                 selectedRows=[{"key": campaigns[0]["key"]}])
    hint = html.P("Select a campaign to see its daily trend below.", className="small text-body-secondary mb-2")
    return section("Campaigns", html.Div([hint, table]), download="campaigns", id="campaigns")
