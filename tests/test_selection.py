"""Presets, comparison periods and the query string (pure logic)."""

from datetime import date, timedelta
from urllib.parse import parse_qsl

import pytest

from dashboard import selection
from dashboard.selection import comparison_range, parse, preset_range

TODAY = date(2026, 11, 22)


@pytest.mark.parametrize("preset,expected", [
    ("last_7", (date(2026, 11, 16), TODAY)),
    ("last_30", (date(2026, 10, 24), TODAY)),
    ("mtd", (date(2026, 11, 1), TODAY)),
    ("last_month", (date(2026, 10, 1), date(2026, 10, 31))),
    ("qtd", (date(2026, 10, 1), TODAY)),
    ("ytd", (date(2026, 1, 1), TODAY)),
    ("last_365", (date(2025, 11, 23), TODAY)),
])
def test_presets(preset, expected):
    assert preset_range(preset, TODAY) == expected


def test_last_month_in_january_is_december():
    assert preset_range("last_month", date(2027, 1, 15)) == (date(2026, 12, 1), date(2026, 12, 31))


def test_previous_period_has_the_same_length_just_before():
    assert comparison_range(date(2026, 11, 1), date(2026, 11, 30), "previous_period") == (
        date(2026, 10, 2), date(2026, 10, 31))


def test_previous_year_maps_29_february_to_the_28th():
    assert comparison_range(date(2028, 2, 29), date(2028, 3, 1), "previous_year") == (
        date(2027, 2, 28), date(2027, 3, 1))


def test_no_comparison():
    assert comparison_range(TODAY, TODAY, "none") is None


def test_query_round_trip_keeps_presets_relative_and_custom_ranges_fixed():
    relative = parse("?shop=7&preset=last_7&compare=previous_year", today=TODAY)
    assert relative.to_query() == "?shop=7&preset=last_7&compare=previous_year"
    custom = parse({"shop": "all", "preset": "custom", "start": "2026-03-01", "end": "2026-03-31"}, today=TODAY)
    assert custom.to_query() == "?shop=all&preset=custom&start=2026-03-01&end=2026-03-31&compare=previous_period"
    assert parse(custom.to_query(), today=date(2030, 1, 1)) == custom


@pytest.mark.parametrize("query", ["", "?shop=drop%20table&preset=forever&compare=x&start=nope",
                                   "?preset=custom&start=2026-13-01"])
def test_anything_invalid_falls_back_to_defaults(query):
    chosen = parse(query, today=TODAY)
    assert (chosen.shop, chosen.preset, chosen.compare) == ("all", "last_30", "previous_period")
    assert (chosen.start, chosen.end) == preset_range("last_30", TODAY)


def test_reversed_custom_dates_are_put_in_order():
    chosen = parse("?preset=custom&start=2026-05-10&end=2026-05-01", today=TODAY)
    assert (chosen.start, chosen.end) == (date(2026, 5, 1), date(2026, 5, 10))


def test_shop_id():
    assert parse("?shop=12", today=TODAY).shop_id == 12
    assert parse("?shop=all", today=TODAY).shop_id is None
    assert selection.today("Pacific/Kiritimati") >= selection.today("Pacific/Pago_Pago")


def test_a_notice_in_the_url_survives_the_rewrite_and_a_change_of_selector_drops_it():
    landed = selection.parse("?connected=alpha.myshopify.com", today=TODAY)
    assert dict(parse_qsl(landed.to_query().lstrip("?")))["connected"] == "alpha.myshopify.com"
    changed = selection.parse({"shop": "all", "preset": "last_7", "compare": "none"}, today=TODAY)
    assert "connected" not in changed.to_query()


def test_grain_defaults_to_day_and_stays_out_of_the_url():
    chosen = parse("?shop=all&preset=last_7", today=TODAY)
    assert chosen.grain == "day" and "grain" not in chosen.to_query()


@pytest.mark.parametrize("grain", ["week", "month"])
def test_a_grain_round_trips_through_the_url(grain):
    chosen = parse(f"?shop=3&preset=mtd&grain={grain}", today=TODAY)
    assert chosen.grain == grain
    assert dict(parse_qsl(chosen.to_query().lstrip("?")))["grain"] == grain
    assert parse(chosen.to_query(), today=TODAY) == chosen


@pytest.mark.parametrize("bad", ["year", "", "DAY", "week ", "1"])
def test_an_unknown_grain_falls_back_to_day(bad):
    assert parse({"grain": bad}, today=TODAY).grain == "day"


def test_presets_mean_today_in_the_selected_stores_timezone():
    asked = []

    def timezone_of(shop_id):
        asked.append(shop_id)
        return "Pacific/Kiritimati" if shop_id == 7 else "Pacific/Pago_Pago"  # UTC+14 and UTC-11: 25 h apart

    store = selection.parse_local("?shop=7&preset=last_7", timezone_of=timezone_of)
    everyone = selection.parse_local("?shop=all&preset=last_7", timezone_of=timezone_of)
    assert asked == [7, None]
    assert store.end == everyone.end + timedelta(days=1) or store.end == everyone.end + timedelta(days=2)
