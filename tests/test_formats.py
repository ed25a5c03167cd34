"""Figures read the same everywhere: money in its currency, counts, ratios, changes with a sign and an arrow."""

from decimal import Decimal

import pytest

from dashboard import formats


@pytest.mark.parametrize(("amount", "currency", "text"), [
    (Decimal("1234.5"), "EUR", "€1,234.50"),
    (Decimal("-3"), "USD", "-$3.00"),
    (Decimal("0.005"), "GBP", "£0.00"),
    (1234567, "JPY", "¥1,234,567"),
    (None, "EUR", "–"),
    (Decimal("1"), None, "–"),
])
def test_money_is_in_its_currency(amount, currency, text):
    assert formats.money(amount, currency) == text


def test_counts_ratios_and_percentages():
    assert formats.count(Decimal("12345")) == "12,345"
    assert formats.ratio(Decimal("3.214")) == "3.21×"
    assert formats.percent(Decimal("0.1234")) == "12.3%"
    assert formats.value("mer", None) == "–"
    assert formats.value("aov", Decimal("50"), "EUR") == "€50.00"


def test_a_change_reads_without_colour_and_knows_which_way_is_good():
    up_sales = formats.change("total_sales", Decimal("110"), Decimal("100"))
    assert (up_sales.text, up_sales.tone) == ("▲ +10.0%", "good")
    up_cac = formats.change("cac", Decimal("110"), Decimal("100"))
    assert (up_cac.text, up_cac.tone) == ("▲ +10.0%", "bad")
    down = formats.change("orders", 50, 100)
    assert (down.text, down.tone) == ("▼ −50.0%", "bad")
    assert formats.change("orders", 5, 0).text == "new"
    assert formats.change("orders", 5, None).tone == "neutral"
