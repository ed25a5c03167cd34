"""The sandbox's order facts reach the warehouse: number and payment sets are real values, not zeros."""

from decimal import Decimal

from sqlalchemy import text

from database import session_scope
from tests.ingest.shopify.conftest import run_job


def _money(bag: dict) -> tuple[Decimal, Decimal]:
    return Decimal(bag["shopMoney"]["amount"]), Decimal(bag["presentmentMoney"]["amount"])


def test_a_backfilled_store_has_its_order_numbers_and_payment_sets(scheduler_sessions, worker, shop_id, store):
    run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT")
    with session_scope(scheduler_sessions) as session:
        rows = session.execute(text(
            "SELECT order_id, number, original_total_price_shop, original_total_price_presentment, "
            "total_received_shop, total_received_presentment, net_payment_shop, net_payment_presentment, "
            "sales_channel, confirmation_number FROM core_warehouse.orders WHERE shop_id = :s"), {"s": shop_id}).all()
    warehouse = {r[0]: tuple(r[1:]) for r in rows}
    expected = {o["id"]: (o["number"], *_money(o["originalTotalPriceSet"]), *_money(o["totalReceivedSet"]),
                          *_money(o["netPaymentSet"]), o["app"]["name"], o["confirmationNumber"])
                for o in store.orders()}
    assert warehouse == expected
    assert all(number > 1000 for number, *_ in warehouse.values())
    assert all(received > 0 for _, _, _, received, *_ in warehouse.values())
    assert any(net < received for _, _, _, received, _, net, *_ in warehouse.values())  # refunds subtracted
