"""The Overview and the shell over HTTP: grain in the URL, the bar only where it applies, explain under RLS."""

import json
from datetime import UTC, datetime

from sqlalchemy import text

from dashboard import downloads, queries
from dashboard.selection import parse
from database import session_scope
from tests.reporting.warehouse import add_order, set_reporting_currency
from tests.web import callback, login


def _response(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))["response"]


def test_the_grain_is_written_into_the_url_and_survives_a_change_of_store(client, make_shop, make_user):
    shop = make_shop()
    make_user("ana@agency.test", shops=[shop])
    login(client, "ana@agency.test")
    result = _response(callback(client, "_pages_location.search@", {
        "grain.value": "week", "_pages_location.search": "?shop=all&preset=mtd&compare=none"}))
    assert result["_pages_location"]["search"] == "?shop=all&preset=mtd&compare=none&grain=week"
    result = _response(callback(client, "shop.value", {
        "shop.value": str(shop), "_pages_location.search": "?shop=all&preset=mtd&compare=none&grain=week",
        "preset.value": "mtd", "compare.value": "none"}))
    assert result["_pages_location"]["search"] == f"?shop={shop}&preset=mtd&compare=none&grain=week"
    unchanged = callback(client, "_pages_location.search@", {
        "grain.value": "year", "_pages_location.search": "?shop=all&preset=mtd&compare=none"})
    assert "grain" not in unchanged.get_data(as_text=True)  # an unknown grain changes nothing


def test_the_store_and_period_bar_shows_only_on_report_pages(client, make_user):
    make_user("boss@agency.test", role="admin")
    login(client, "boss@agency.test")
    for path, hidden, no_compare in (("/", False, False), ("/marketing", False, False),
                                     ("/products", False, False), ("/reconciliation", False, True),
                                     ("/settings", True, True), ("/status", True, True)):
        result = _response(callback(client, "filter-bar.className", {"_pages_location.pathname": path}))
        assert ("d-none" in result["filter-bar"]["className"]) is hidden, path
        assert ("d-none" in result["compare-col"]["className"]) is no_compare, path
        # The first render already knows, from the page that asked for the layout.
        layout = client.get("/_dash-layout", headers={"Referer": f"http://localhost{path}?shop=all"}).get_json()
        assert ("filter-bar d-none" in json.dumps(layout)) is hidden, path
        assert (_find(layout, "compare-col")["className"] == "d-none") is no_compare, path


def test_explain_lists_a_days_orders_and_never_another_users_store(client, make_shop, make_user, scheduler_sessions):
    mine = make_shop("mine.myshopify.com", "Mine", currency="EUR", timezone="UTC")
    theirs = make_shop("theirs.myshopify.com", "Theirs", currency="EUR", timezone="UTC")
    make_user("ana@agency.test", shops=[mine])
    add_order(scheduler_sessions, mine, "gid://shopify/Order/11", datetime(2026, 3, 2, 10, tzinfo=UTC), gross="30.00")
    add_order(scheduler_sessions, theirs, "gid://shopify/Order/22", datetime(2026, 3, 2, 10, tzinfo=UTC),
              gross="99.00")
    login(client, "ana@agency.test")
    clicked = {"points": [{"x": "2026-03-02"}]}
    for shop, shown in ((mine, True), (theirs, False), ("all", True)):
        search = f"?shop={shop}&preset=custom&start=2026-03-01&end=2026-03-31&compare=none"
        result = _response(callback(client, "explain-modal.is_open", {
            "sales-chart.clickData": clicked, "_pages_location.search": search}))
        body = json.dumps(result["explain-body"])
        assert result["explain-modal"]["is_open"] is True and "2 Mar 2026" in str(result["explain-title"])
        assert ("https://admin.shopify.com/store/mine/orders/11" in body) is shown
        assert "orders/22" not in body and "theirs" not in body


def test_the_explain_csv_has_every_row_with_its_link(web_sessions, make_shop, make_user, scheduler_sessions):
    from database import session_scope, set_app_user

    shop = make_shop("mine.myshopify.com", "Mine", currency="EUR", timezone="UTC")
    user = make_user("ana@agency.test", shops=[shop])
    for n in range(3):
        add_order(scheduler_sessions, shop, f"o{n}", datetime(2026, 3, 2, 10 + n, tzinfo=UTC), gross="10.00")
    chosen = parse(f"?shop={shop}&preset=custom&start=2026-03-01&end=2026-03-31", today=datetime(2026, 4, 1).date())
    with session_scope(web_sessions) as session:
        set_app_user(session, user)
        text = downloads.read_csv(session=session, name="explain", chosen=chosen, arg="2026-03-02")
        total = queries.read_daily_overview(session=session, shop_id=shop, start=chosen.start, end=chosen.end)
    lines = text.splitlines()
    assert lines[0].startswith("shop_domain,currency,day,order_name,order_id")
    assert len(lines) == 4 and all(line.endswith(",https://admin.shopify.com/store/mine/orders/" + line.split(",")[4])
                                   for line in lines[1:])
    assert total[0]["total_sales"] == 30


def test_a_cards_explain_shows_its_formula_and_the_rows_of_the_period(web_sessions, make_shop, make_user,
                                                                       scheduler_sessions):
    from plotly.utils import PlotlyJSONEncoder

    from dashboard import explain
    from database import session_scope, set_app_user
    from tests.reporting.warehouse import add_spend

    shop = make_shop("mine.myshopify.com", "Mine", currency="EUR", timezone="UTC")
    user = make_user("ana@agency.test", shops=[shop])
    add_order(scheduler_sessions, shop, "o1", datetime(2026, 3, 2, 10, tzinfo=UTC), gross="30.00")
    add_order(scheduler_sessions, shop, "o2", datetime(2026, 3, 9, 10, tzinfo=UTC), gross="20.00")
    add_spend(scheduler_sessions, shop, "2026-03-02", spend="25.00", currency="EUR", purchase_value="40")
    chosen = parse(f"?shop={shop}&preset=custom&start=2026-03-01&end=2026-03-31", today=datetime(2026, 4, 1).date())
    with session_scope(web_sessions) as session:
        set_app_user(session, user)
        title, body = explain.content(session=session, chosen=chosen, arg="total_sales")
        sales = json.dumps(body, cls=PlotlyJSONEncoder, ensure_ascii=False)
        title_mer, body_mer = explain.content(session=session, chosen=chosen, arg="mer")
        mer = json.dumps(body_mer, cls=PlotlyJSONEncoder, ensure_ascii=False)
    assert title == "Total sales · 1 Mar – 31 Mar 2026"
    assert "Net sales + shipping" in sales and "orders/o1" in sales and "orders/o2" in sales
    assert "They sum to 2 orders placed and €50.00 of total sales." in sales
    assert title_mer.startswith("MER") and "total sales ÷ ad spend" in mer
    assert '"date": "2026-03-02", "currency": "EUR", "total_sales": 30.0, "mer_sales": 30.0, "spend": 25.0' in mer
    assert '"mer": 1.2' in mer  # 30 / 25 that day


def test_a_downloads_preset_means_today_where_the_store_is(web_sessions, make_shop, make_user, monkeypatch):
    import settings
    from database import session_scope, set_app_user
    from tests.clock import DEFAULT, frozen

    monkeypatch.setattr(settings, "REPORTING_TIMEZONE", "UTC")
    shop = make_shop(currency="EUR", timezone="Pacific/Kiritimati")  # UTC+14: already 2 December at 10:00 UTC
    user = make_user("ana@agency.test", shops=[shop])
    with frozen(DEFAULT), session_scope(web_sessions) as session:
        set_app_user(session, user)
        agency = parse(f"?shop={shop}&preset=last_7", today=DEFAULT.date())  # the agency's day, for contrast
        local = queries.read_selection(session=session, query=f"?shop={shop}&preset=last_7")  # as downloads read it
        everyone = queries.read_selection(session=session, query="?shop=all&preset=last_7")
    assert (agency.end.isoformat(), local.end.isoformat(), everyone.end.isoformat()) == (
        "2026-12-01", "2026-12-02", "2026-12-01")


def test_all_stores_without_a_rate_say_so_instead_of_summing_currencies(client, make_shop, make_user,
                                                                         scheduler_sessions):
    euro = make_shop("euro.myshopify.com", "Euro", currency="EUR", timezone="UTC")
    dollar = make_shop("dollar.myshopify.com", "Dollar", currency="USD", timezone="UTC")
    set_reporting_currency(scheduler_sessions, "USD")
    add_order(scheduler_sessions, euro, "e1", datetime(2026, 3, 2, 10, tzinfo=UTC), gross="100.00")
    add_order(scheduler_sessions, dollar, "d1", datetime(2026, 3, 2, 10, tzinfo=UTC), gross="10.00")
    make_user("ana@agency.test", shops=[euro, dollar])
    login(client, "ana@agency.test")
    page = json.dumps(_response(callback(client, "_pages_content.children", {
        "_pages_location.pathname": "/",
        "_pages_location.search": "?shop=all&preset=custom&start=2026-03-01&end=2026-03-31&compare=none"})),
        ensure_ascii=False)
    assert "No exchange rate to USD yet for 1 day(s) from 2 Mar 2026" in page
    assert "$110.00" not in page  # never 100 EUR + 10 USD


def _find(node, component_id):
    """The props of the component with this id in a rendered layout."""
    if isinstance(node, dict):
        props = node.get("props", {})
        if props.get("id") == component_id:
            return props
        return next((found for child in [props.get("children"), *node.values()]
                     if (found := _find(child, component_id)) is not None), None)
    if isinstance(node, list):
        return next((found for child in node if (found := _find(child, component_id)) is not None), None)
    return None


def test_ad_spend_is_unknown_not_zero_until_an_ad_account_is_linked(client, make_shop, make_user,
                                                                    scheduler_sessions):
    from tests.reporting.warehouse import add_spend

    shop = make_shop(currency="EUR", timezone="UTC")
    make_user("ana@agency.test", shops=[shop])
    login(client, "ana@agency.test")
    page = {"_pages_location.pathname": "/",
            "_pages_location.search": f"?shop={shop}&preset=custom&start=2026-03-01&end=2026-03-31"}

    def spend_card() -> tuple[str, str]:
        layout = _response(callback(client, "_pages_content.children", page))["_pages_content"]["children"]
        return _find(layout, "kpi-spend")["children"], _find(layout, "kpi-change-spend")["children"]

    assert spend_card() == ("–", "no comparison")
    with session_scope(scheduler_sessions) as session:
        session.execute(text("INSERT INTO app_dashboard.ad_accounts (shop_id, account_id, name) "
                             "VALUES (:s, 'act_1', 'Prospecting')"), {"s": shop})
    add_spend(scheduler_sessions, shop, "2026-03-02", spend="25.00", currency="EUR")
    assert spend_card()[0] == "€25.00"
