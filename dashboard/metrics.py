"""Every figure the pages show: its label, format, formula, colour and which way is better, in one place."""

from dataclasses import dataclass

# Okabe and Ito's palette: distinguishable with every common colour-vision deficiency.
BLUE, ORANGE, GREEN, PINK, SKY, VERMILION, YELLOW, GREY = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#6C757D")


@dataclass(frozen=True)
class Metric:
    label: str
    kind: str  # money, count, ratio or percent: how formats.value prints it
    formula: str  # the tooltip's words: peers define some of these both ways round
    colour: str
    higher_is_better: bool = True


METRICS = {
    "total_sales": Metric("Total sales", "money", "Net sales + shipping + taxes + duties + additional fees "
                          "(Shopify's total sales; tips and gift cards sold are not sales)", BLUE),
    "gross_sales": Metric("Gross sales", "money", "Product prices × quantities ordered, before discounts", SKY),
    "discounts": Metric("Discounts", "money", "Line and order discounts, booked on the order's day", YELLOW, False),
    "returns": Metric("Returns", "money", "Refunds, returns, edits and cancellations, each booked on the day "
                      "it happened (Shopify's sales reversals)", VERMILION, False),
    "net_sales": Metric("Net sales", "money", "Gross sales − discounts − returns", BLUE),
    "shipping": Metric("Shipping", "money", "Shipping charged, less shipping refunded", GREY),
    "taxes": Metric("Taxes", "money", "Taxes charged, less taxes refunded", GREY),
    "orders": Metric("Orders", "count", "Orders placed in the period (test and deleted orders excluded)", GREEN),
    "units": Metric("Units", "count", "Units ordered", GREEN),
    "aov": Metric("AOV", "money", "Average order value = (gross sales − discounts) ÷ orders "
                  "(Shopify's definition since 2023)", PINK),
    "spend": Metric("Ad spend", "money", "Meta ad spend, converted to the store's currency at each day's rate",
                    ORANGE, False),
    "mer": Metric("MER", "ratio", "Marketing efficiency ratio = total sales ÷ ad spend (some tools show the "
                  "inverse, ad spend ÷ sales); no spend, no MER", PINK),
    "roas": Metric("ROAS", "ratio", "Return on ad spend = Meta purchase value ÷ ad spend", VERMILION),
    "cac": Metric("CAC", "money", "Customer acquisition cost = ad spend ÷ new customers", YELLOW, False),
    "new_customers": Metric("New customers", "count", "Customers whose first order with the store was placed "
                            "in the period", GREEN),
    "returning_customers": Metric("Returning customers", "count", "Customers who had ordered before", SKY),
    "new_customer_share": Metric("New-customer share", "percent", "New customers ÷ customers who ordered", GREEN),
    "returning_rate": Metric("Returning-customer rate", "percent", "Returning customers ÷ customers who ordered",
                             SKY),
    "purchase_value": Metric("Purchase value", "money", "Meta-attributed purchase value", VERMILION),
    "purchases": Metric("Purchases", "count", "Meta-attributed purchases", VERMILION),
    "impressions": Metric("Impressions", "count", "Times the ads were shown", GREY),
    "clicks": Metric("Clicks", "count", "All clicks on the ads", SKY),
    "ctr": Metric("CTR", "percent", "Click-through rate = clicks ÷ impressions", SKY),
    "cpc": Metric("CPC", "money", "Cost per click = ad spend ÷ clicks", ORANGE, False),
    "cpm": Metric("CPM", "money", "Cost per thousand impressions = ad spend ÷ impressions × 1,000", ORANGE, False),
    "cpa": Metric("CPA", "money", "Cost per purchase = ad spend ÷ Meta purchases", ORANGE, False),
    "units_sold": Metric("Units sold", "count", "Units ordered in the period", GREEN),
    "units_returned": Metric("Units returned", "count", "Units refunded or returned in the period", VERMILION,
                             False),
    "repeat_rate": Metric("Repeat-purchase rate", "percent", "Customers with two or more orders ÷ customers", PINK),
}

# MER's basis, an agency setting (app_dashboard.agency_settings.mer_basis): which sales MER divides by ad spend.
MER_BASES = {"shopify": "Shopify's sales alone",
             "all_channels": "All channels (Shopify + uploaded marketplace orders)"}
MER_BASIS_LABELS = {"shopify": "MER on Shopify sales", "all_channels": "MER on all channels"}
MER_FORMULAS = {
    "shopify": METRICS["mer"].formula,
    "all_channels": "Marketing efficiency ratio = (Shopify's total sales + uploaded marketplace orders' net sales) "
                    "÷ ad spend (some tools show the inverse, ad spend ÷ sales); no spend, no MER",
}


def formula(metric: str, mer_basis: str = "shopify") -> str:
    """A metric's formula as the tooltip states it (MER's depends on the agency's basis)."""
    return MER_FORMULAS.get(mer_basis, MER_FORMULAS["shopify"]) if metric == "mer" else METRICS[metric].formula
