"""Truth on tiny scripted stores, checked against figures computed by hand."""

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal as D

from sandbox import truth
from sandbox.generator import PlannedLine, PlannedOrder, PlannedRefund, build_store, demo_specs


def tiny_spec(**kw):
    base = demo_specs(stores=2, today=date(2026, 3, 6))[1]
    kw = {"currency": "USD", "iana_timezone": "America/New_York", "taxes_included": False, "tax_rate": D("0.10"),
          "presentment_currencies": ("USD", "CAD"), "start": date(2026, 3, 1), "end": date(2026, 3, 6)} | kw
    return replace(base, **kw)


def hand_store():
    plain = PlannedOrder(  # 2 x 50.00 + 5.00 shipping, 10 % tax
        at=datetime(2026, 3, 2, 10, 0), lines=(PlannedLine(0, 0, 2, D("50.00")),), customer=0, shipping=D("5.00"))
    refunded = PlannedOrder(  # 3 x 20.00, 10 % off, one unit refunded at 21:30 New York = 02:30Z the next day
        at=datetime(2026, 3, 2, 15, 0), lines=(PlannedLine(1, 0, 3, D("20.00")),), customer=1,
        discount_code="WELCOME10", discount_pct=D("10"), shipping=D("5.00"), presentment="CAD",
        refunds=(PlannedRefund(datetime(2026, 3, 4, 21, 30), ((0, 1),), note="Too small"),))
    cancelled = PlannedOrder(  # 80.00, free shipping, placed 23:30 on the 3rd, cancelled 00:15 on the 4th
        at=datetime(2026, 3, 3, 23, 30), lines=(PlannedLine(2, 0, 1, D("80.00")),), customer=2,
        shipping=D("0.00"), shipping_title="Free shipping", cancel_at=datetime(2026, 3, 4, 0, 15))
    test = PlannedOrder(at=datetime(2026, 3, 3, 12, 0), lines=(PlannedLine(0, 0, 1, D("50.00")),), test=True)
    gift_tip = PlannedOrder(  # 50.00 at the till, plus a 25.00 gift card and a 5.00 tip
        at=datetime(2026, 3, 4, 9, 0), lines=(PlannedLine(0, 0, 1, D("50.00")),), gift_card=D("25"), tip=D("5.00"),
        source="pos")
    return build_store(tiny_spec(), [plain, refunded, cancelled, test, gift_tip])


def row(date_, orders, gross, disc, returns, net, shipping, taxes, total):
    return {"date": date_, "orders": orders, "gross_sales": D(gross), "discounts": D(disc), "returns": D(returns),
            "net_sales": D(net), "shipping": D(shipping), "taxes": D(taxes), "duties": D("0"),
            "additional_fees": D("0"), "total_sales": D(total)}


def test_hand_computed_days():
    store = hand_store()
    got = truth.daily_sales(store, date(2026, 3, 1), date(2026, 3, 5))
    assert got == [
        row("2026-03-01", 0, "0", "0", "0", "0", "0", "0", "0"),
        # plain: 100 + 5 ship + 10.50 tax; refunded: 60 - 6 disc + 5 ship + 5.40 + 0.50 tax
        row("2026-03-02", 2, "160.00", "6.00", "0", "154.00", "10.00", "16.40", "180.40"),
        # cancelled order's sale (the test order does not count)
        row("2026-03-03", 1, "80.00", "0", "0", "80.00", "0", "8.00", "88.00"),
        # gift/tip order 50 + 5 tax; refund of 1 unit: returns 20 - 2 discount = 18, tax -1.80; cancel: 80, tax -8
        row("2026-03-04", 1, "50.00", "0", "98.00", "-48.00", "0", "-4.80", "-52.80"),
        row("2026-03-05", 0, "0", "0", "0", "0", "0", "0", "0"),
    ]
    tot = truth.totals(store, date(2026, 3, 1), date(2026, 3, 5))
    assert tot["orders"] == 4
    assert (tot["gross_sales"], tot["discounts"], tot["returns"], tot["net_sales"]) == (
        D("290.00"), D("6.00"), D("98.00"), D("186.00"))
    assert (tot["shipping"], tot["taxes"], tot["total_sales"]) == (D("10.00"), D("19.60"), D("215.60"))


def test_hand_store_api_dicts():
    store = hand_store()
    orders = store.orders()
    assert [o["name"] for o in orders] == ["#1001", "#1002", "#1003", "#1004", "#1005"]
    plain, refunded, test, cancelled, gift_tip = orders  # ascending createdAt: the test order is at noon on the 3rd
    assert plain["totalPriceSet"]["shopMoney"] == {"amount": "115.50", "currencyCode": "USD"}
    assert refunded["presentmentCurrencyCode"] == "CAD"
    assert refunded["totalPriceSet"]["shopMoney"]["amount"] == "64.90"  # 60 - 6 + 5.40 tax + 5 shipping + 0.50 tax
    assert refunded["refunds"][0]["createdAt"] == "2026-03-05T02:30:00Z"
    assert refunded["refunds"][0]["totalRefundedSet"]["shopMoney"]["amount"] == "19.80"
    assert refunded["displayFinancialStatus"] == "PARTIALLY_REFUNDED"
    assert refunded["lineItems"][0]["currentQuantity"] == 2
    assert test["test"] is True
    assert cancelled["createdAt"] == "2026-03-04T04:30:00Z" and cancelled["cancelledAt"] == "2026-03-04T05:15:00Z"
    assert cancelled["displayFinancialStatus"] == "REFUNDED" and cancelled["cancelReason"] == "CUSTOMER"
    assert gift_tip["totalTipReceivedSet"]["shopMoney"]["amount"] == "5.00"
    assert gift_tip["totalPriceSet"]["shopMoney"]["amount"] == "85.00"  # 50 + 5 tax + 25 gift card + 5 tip
    assert {s["__typename"] for a in gift_tip["agreements"] for s in a["sales"]} == {
        "ProductSale", "GiftCardSale", "TipSale"}
    assert store.daily_order_summary(date(2026, 3, 2)) == (2, D("180.40"))
    assert store.daily_order_summary(date(2026, 3, 3)) == (1, D("88.00"))


def test_tax_included_shop_by_hand():
    spec = tiny_spec(currency="EUR", iana_timezone="Europe/Berlin", taxes_included=True, tax_rate=D("0.19"),
                     presentment_currencies=("EUR",))
    order = PlannedOrder(at=datetime(2026, 3, 2, 18, 0), lines=(PlannedLine(0, 0, 1, D("119.00")),),
                         discount_code="WELCOME10", discount_pct=D("10"), shipping=D("5.95"))
    store = build_store(spec, [order])
    day = truth.daily_sales(store, date(2026, 3, 2), date(2026, 3, 2))[0]
    # 119.00 incl. 19 % less 11.90 = 107.10 paid, of which 17.10 tax; discount before tax 10.00; gross 100.00;
    # shipping 5.95 incl. 0.95 tax
    assert day == row("2026-03-02", 1, "100.00", "10.00", "0", "90.00", "5.00", "18.05", "113.05")
    o = store.orders()[0]
    assert o["totalPriceSet"]["shopMoney"]["amount"] == "113.05" and o["taxesIncluded"] is True


def test_demo_store_totals_add_up():
    store = build_store(demo_specs(stores=1, today=date(2026, 3, 6), days=60)[0])
    rows = truth.daily_sales(store, store.spec.start, store.spec.end)
    assert len(rows) == 60
    for r in rows:
        assert r["net_sales"] == r["gross_sales"] - r["discounts"] - r["returns"]
        assert r["total_sales"] == r["net_sales"] + r["shipping"] + r["taxes"] + r["duties"] + r["additional_fees"]
        assert all(r[k].as_tuple().exponent == -2 for k in truth.AMOUNT_KEYS)
    tot = truth.totals(store, store.spec.start, store.spec.end)
    assert tot["orders"] == sum(r["orders"] for r in rows) == sum(1 for o in store.orders() if not o["test"])
    # a sub-range computed alone equals the same days of the full range
    lo, hi = store.spec.start + timedelta(days=20), store.spec.start + timedelta(days=25)
    assert truth.daily_sales(store, lo, hi) == [r for r in rows if lo.isoformat() <= r["date"] <= hi.isoformat()]


def test_order_edit_counts_on_its_own_day():
    order = PlannedOrder(at=datetime(2026, 3, 2, 22, 0), lines=(PlannedLine(0, 0, 1, D("100.00")),),
                         edit_at=datetime(2026, 3, 3, 1, 0), edit_add=PlannedLine(1, 0, 1, D("20.00")))
    store = build_store(tiny_spec(), [order])
    rows = truth.daily_sales(store, date(2026, 3, 2), date(2026, 3, 3))
    assert rows == [row("2026-03-02", 1, "100.00", "0", "0", "100.00", "0", "10.00", "110.00"),
                    row("2026-03-03", 0, "20.00", "0", "0", "20.00", "0", "2.00", "22.00")]
    o = store.orders()[0]
    assert o["edited"] is True and o["totalPriceSet"]["shopMoney"]["amount"] == "132.00"
    assert [a["__typename"] for a in o["agreements"]] == ["OrderAgreement", "OrderEditAgreement"]
    assert [t["amountSet"]["shopMoney"]["amount"] for t in o["transactions"]] == ["110.00", "22.00"]
    assert [li["quantity"] for li in o["lineItems"]] == [1, 1]
