"""The shell's callbacks over HTTP: selectors and the URL stay in step."""

import json

from tests.web import callback, login


def _sync(client, changed: dict, **values):
    response = callback(client, "shop.value", changed | values)
    return json.loads(response.get_data(as_text=True))["response"]


def test_choosing_a_preset_sets_the_dates_and_the_url(client, make_shop, make_user):
    shop = make_shop()
    make_user("ana@agency.test", shops=[shop])
    login(client, "ana@agency.test")
    result = _sync(client, {"preset.value": "ytd"}, **{"shop.value": str(shop), "compare.value": "previous_year"})
    assert result["preset"]["value"] == "ytd"
    assert result["dates"]["start_date"].endswith("-01-01")
    assert result["_pages_location"]["search"] == f"?shop={shop}&preset=ytd&compare=previous_year"


def test_picking_dates_makes_the_range_custom(client, make_user):
    make_user("ana@agency.test")
    login(client, "ana@agency.test")
    result = _sync(client, {"dates.start_date": "2026-03-01"},
                   **{"dates.end_date": "2026-03-31", "preset.value": "last_7", "shop.value": "all",
                      "compare.value": "none"})
    assert result["preset"]["value"] == "custom"
    assert result["_pages_location"]["search"] == "?shop=all&preset=custom&start=2026-03-01&end=2026-03-31&compare=none"


def test_a_url_sets_the_selectors_without_rewriting_itself(client, make_shop, make_user):
    shop = make_shop()
    make_user("ana@agency.test", shops=[shop])
    login(client, "ana@agency.test")
    search = f"?shop={shop}&preset=custom&start=2026-01-01&end=2026-01-31&compare=none"
    result = _sync(client, {"_pages_location.search": search})
    assert (result["shop"]["value"], result["dates"]["end_date"]) == (str(shop), "2026-01-31")
    assert "_pages_location" not in result  # no_update: the URL was already right


def test_links_carry_the_selection(client, make_user):
    make_user("boss@agency.test", role="admin")
    login(client, "boss@agency.test")
    links = [{"id": {"type": "nav-link", "path": path}, "property": "href"} for path in ("/", "/settings")]
    response = callback(client, "nav-link", {"_pages_location.search": "?shop=all&preset=mtd&compare=none"},
                        outputs=links)
    result = json.loads(response.get_data(as_text=True))["response"]
    hrefs = sorted(value["href"] for value in result.values())
    assert hrefs == ["/?shop=all&preset=mtd&compare=none", "/settings?shop=all&preset=mtd&compare=none"]
