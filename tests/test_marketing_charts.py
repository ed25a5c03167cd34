"""The Marketing and Products pages' pure builders: derived ad metrics, masking, grid rows and the trend figure."""

from datetime import date
from decimal import Decimal

import pytest

from dashboard import charts
from dashboard.metrics import METRICS


def test_ad_ratios_are_derived_from_metas_figures():
    row = charts.with_ad_ratios({"spend": Decimal("50.00"), "impressions": 20000, "clicks": 400, "purchases": 5,
                                 "purchase_value": Decimal("200.00"), "roas": None})
    assert row["ctr"] == Decimal("0.02")
    assert row["cpc"] == Decimal("0.125")
    assert row["cpm"] == Decimal("2.5")
    assert row["cpa"] == Decimal("10")
    assert row["roas"] == Decimal("4")


@pytest.mark.parametrize("zero", [0, Decimal("0"), None])
def test_a_zero_or_missing_denominator_gives_no_figure_not_zero_or_infinity(zero):
    row = charts.with_ad_ratios({"spend": Decimal("50.00"), "impressions": zero, "clicks": zero, "purchases": zero,
                                 "purchase_value": Decimal("10"), "roas": None})
    assert (row["ctr"], row["cpc"], row["cpm"], row["cpa"]) == (None, None, None, None)
    assert charts.with_ad_ratios({"spend": zero, "purchase_value": Decimal("10")})["roas"] is None


def test_missing_spend_gives_no_costs():
    row = charts.with_ad_ratios({"spend": None, "impressions": 10, "clicks": 2, "purchases": 1})
    assert (row["cpc"], row["cpm"], row["cpa"]) == (None, None, None) and row["ctr"] == Decimal("0.2")


@pytest.mark.parametrize(("email", "masked"), [
    ("jane.doe@example.com", "j***@example.com"),
    ("j@example.com", "j***@example.com"),
    ("a@b@example.com", "a***@example.com"),
    ("@example.com", "***@example.com"),
    ("not-an-email", "***"),
    (None, "***"),
])
def test_emails_are_masked_to_their_first_letter_and_domain(email, masked):
    assert charts.mask_email(email) == masked


def test_a_customer_is_named_else_masked_else_unnamed():
    assert charts.customer_label(" Jane Doe ", "jane@example.com") == "Jane Doe"
    assert charts.customer_label("  ", "jane@example.com") == "j***@example.com"
    assert charts.customer_label(None, None) == "Unnamed customer"


def test_grid_rows_sort_on_numbers_and_show_money_in_its_currency():
    columns = [("campaign_name", "Campaign", "text"), ("spend", "Spend", "money"), ("ctr", "CTR", "percent"),
               ("roas", "ROAS", "ratio"), ("clicks", "Clicks", "count"), ("day", "Day", "date")]
    rows = charts.grid_rows([
        {"campaign_name": "A", "spend": Decimal("1234.5"), "ctr": Decimal("0.0123"), "roas": Decimal("3.2"),
         "clicks": Decimal("12000"), "day": date(2026, 3, 2), "currency": "EUR"},
        {"campaign_name": None, "spend": None, "ctr": None, "roas": None, "clicks": 0, "day": None,
         "currency": "EUR"},
    ], columns)
    assert rows[0] == {"campaign_name": "A", "currency": "EUR", "spend": 1234.5, "spend_text": "€1,234.50",
                       "ctr": 0.0123, "ctr_text": "1.2%", "roas": 3.2, "roas_text": "3.20×", "clicks": 12000.0,
                       "clicks_text": "12,000", "day": "2026-03-02"}
    assert rows[1]["spend"] is None and rows[1]["spend_text"] == "–" and rows[1]["campaign_name"] == ""


def test_grid_columns_filter_numbers_as_numbers_and_explain_each_metric():
    defs = charts.grid_columns([("campaign_name", "Campaign", "text"), ("cpa", "CPA", "money")],
                               pinned="campaign_name")
    assert defs[0]["pinned"] == "left" and defs[0]["filter"] == "agTextColumnFilter"
    assert defs[1]["filter"] == "agNumberColumnFilter" and defs[1]["type"] == "numericColumn"
    assert defs[1]["headerTooltip"] == METRICS["cpa"].formula
    assert "cpa_text" in defs[1]["valueFormatter"]["function"]


def test_the_campaign_trend_draws_spend_and_value_with_roas_on_its_own_axis():
    rows = [{"date": date(2026, 3, 1), "currency": "EUR", "spend": Decimal("10"), "purchase_value": Decimal("30"),
             "roas": Decimal("3")},
            {"date": date(2026, 3, 2), "currency": "EUR", "spend": Decimal("20"), "purchase_value": Decimal("20"),
             "roas": Decimal("1")}]
    figure = charts.campaign_trend(rows, title="Prospecting")
    assert [trace.name for trace in figure.data] == ["Ad spend", "Purchase value", "ROAS"]
    assert [trace.yaxis for trace in figure.data] == ["y", "y", "y2"]
    assert list(figure.data[2].y) == [Decimal("3"), Decimal("1")]
    assert figure.data[0].line.color == METRICS["spend"].colour
    assert figure.layout.title.text == "Prospecting"
    assert figure.data[2].line.dash == "dot" and figure.data[1].line.dash is None
    assert figure.layout.yaxis.tickprefix == "€" and figure.layout.yaxis2.ticksuffix == "×"


def test_a_campaign_without_delivery_gets_a_message_not_a_blank_chart():
    figure = charts.campaign_trend([])
    assert figure.data == () and "No delivery" in figure.layout.annotations[0].text
