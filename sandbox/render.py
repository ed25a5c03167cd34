"""A simulated order in the shape of Shopify Admin GraphQL 2026-01 (the dict every API answer reads).

Every field the project (`ingest/shopify/queries.py`) or the open-source taps tried against the sandbox read is
modelled from the generator's own facts: `number` from the name, `originalTotalPriceSet` from the sale,
`totalReceivedSet` and `netPaymentSet` from the transactions, `amountSet` on each transaction, and so on. A field
nobody reads is answered by `shopify_graphql.zero_value` (null where the schema allows it, else its type's zero),
in paged and bulk answers alike. `PLACEHOLDERS` lists the read fields still answered with a stand-in, and why;
tests/sandbox/test_fidelity.py fails when any other read, non-null field comes back as its type's zero.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sandbox.customers import ADDRESSES, COUNTRY_NAMES, FIRST_NAMES, LAST_NAMES
from sandbox.seeded import ZERO, digest, iso, q2
from sandbox.simulation import SimOrder

PLACEHOLDERS = {
    "Order.staffMember": "null: the sandbox models no staff (and Shopify needs read_users to name them)",
    "Order.returnStatus": "always NO_RETURN: refunds are made without Return objects, which are not modelled",
    "Order.customAttributes": "always []: no cart attributes or gift messages are generated",
    "Order.poNumber": "null: no B2B purchase orders",
    "Order.customerLocale": "the shop's country's language, not a per-customer choice",
    "OrderTransaction.authorizationCode": "six digits from the transaction id, not from a payment processor",
    "OrderTransaction.paymentId": "the order id and the attempt, not a checkout's",
}

GATEWAY_NAMES = {"shopify_payments": "Shopify Payments", "cash": "Cash", "bogus": "Bogus"}
# The app that created an order, by source (OrderApp: Shopify's own apps' ids).
APPS = {"web": {"id": "gid://shopify/App/580111", "name": "Online Store"},
        "pos": {"id": "gid://shopify/App/129785", "name": "Point of Sale"},
        "shopify_draft_order": {"id": "gid://shopify/App/1354745", "name": "Draft Orders"}}
LOCALES = {"DE": "de", "US": "en", "GB": "en-GB", "AU": "en-AU", "CA": "en-CA"}
CONFIRMATION_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # Shopify's, without look-alikes (e.g. XPAV284CT)


class OrderRenderer:
    """Renders a `SimOrder` as the API's order dict (a part of `Store`)."""

    def render_order(self, sim: SimOrder, cutoff: datetime | None = None) -> dict:
        """The order as it stands at `cutoff` (the store's end if None); `sim` was simulated to the same moment."""
        spec = self.spec
        cutoff = cutoff or self._cutoff
        cur, pres, fx = spec.currency, sim.presentment, sim.fx
        incl = spec.taxes_included
        seq, p = sim.seq, sim.plan
        ids = self.id_offset  # this store's own id range
        oid = 5_500_000_000 + ids + seq

        bags: dict[str, dict] = {}

        def bag(x: Decimal) -> dict:
            # one per amount as written ("0.00" and "-0.00" apart) and order, shared by every field that holds
            # it (bags are never mutated)
            amount = str(x)
            made = bags.get(amount)
            if made is None:
                made = bags[amount] = {"shopMoney": {"amount": amount, "currencyCode": cur},
                                       "presentmentMoney": {"amount": str(q2(x * fx)), "currencyCode": pres}}
            return made

        zero = bag(ZERO)

        def taxlines(amount: Decimal, rate: Decimal) -> list[dict]:
            if not rate:
                return []
            return [{"title": self.tax_title, "rate": float(rate), "ratePercentage": float(rate * 100),
                     "priceSet": bag(amount)}]

        li_id = [f"gid://shopify/LineItem/{13_000_000_000 + ids + seq * 20 + ln.index}" for ln in sim.lines]
        ship_id = f"gid://shopify/ShippingLine/{4_300_000_000 + ids + seq}"
        line_items = []
        code = {"__typename": "DiscountCodeApplication", "index": 0, "code": p.discount_code}
        for ln in sim.lines:
            shown = ln.unit * ln.quantity
            is_product = ln.kind == "product"
            line_items.append({
                "id": li_id[ln.index],
                "name": f"{ln.title} - {ln.variant_title}" if ln.variant_title else ln.title,
                "title": ln.title,
                "variantTitle": ln.variant_title,
                "sku": ln.sku,
                "vendor": spec.name if ln.kind != "tip" else None,
                "quantity": ln.quantity,
                "currentQuantity": ln.quantity - ln.returned,
                "requiresShipping": is_product,
                "isGiftCard": ln.kind == "gift_card",
                "taxable": is_product,
                "product": {"id": ln.product["id"]} if ln.product else None,
                "variant": {"id": ln.variant["id"]} if ln.variant else None,
                "originalUnitPriceSet": bag(ln.unit),
                "originalTotalSet": bag(shown),
                "discountedTotalSet": bag(shown - ln.disc_display),
                "totalDiscountSet": bag(ln.disc_display),
                "taxLines": taxlines(ln.tax, ln.rate),
                "discountedUnitPriceSet": bag(q2(ln.unit - ln.disc_display / ln.quantity)),
                "discountAllocations": [{"allocatedAmountSet": bag(ln.disc_display), "discountApplication": code}]
                if ln.disc_display else [],
                "customAttributes": [],
                "duties": [],
                "refundableQuantity": ln.quantity - ln.returned,
                "restockable": is_product and ln.quantity > ln.returned,
            })
        products = [ln for ln in sim.lines if ln.kind != "tip"]
        subtotal = sum((ln.unit * ln.quantity - ln.disc_display for ln in products), ZERO)
        discounts = sum((ln.disc_display for ln in products), ZERO)
        tax = sum((ln.tax for ln in sim.lines), ZERO) + sim.shipping_tax
        tip = sum((ln.total for ln in sim.lines if ln.kind == "tip"), ZERO)
        sales_events = [e for e in sim.events if e.kind in ("order", "edit")]
        total = sum((e.amount for e in sales_events), ZERO)
        reversals = [e for e in sim.events if e.kind in ("refund", "cancel")]
        refunded = -sum((e.amount for e in reversals), ZERO)
        paid, net = bag(total), bag(total - refunded)
        returned_sales = [s for e in reversals for s in e.sales]
        ret_sub = -sum((s.total - (ZERO if incl else s.tax) for s in returned_sales
                        if s.line_type in ("PRODUCT", "GIFT_CARD")), ZERO)
        ret_tax = -sum((s.tax for s in returned_sales), ZERO)
        ret_disc = -sum((s.disc_after if incl else s.disc for s in returned_sales), ZERO)

        shipping_lines = []
        if sim.shipping_display is not None:
            shipping_lines.append({
                "id": ship_id, "title": p.shipping_title, "code": p.shipping_title.upper().replace(" ", "_"),
                "source": "shopify", "originalPriceSet": bag(sim.shipping_display),
                "discountedPriceSet": bag(sim.shipping_display), "taxLines": taxlines(sim.shipping_tax, self.tax_rate),
            })

        gateway = "bogus" if p.test else ("cash" if p.source == "pos" else "shopify_payments")
        created = iso(sim.created)
        order_ref = {"id": f"gid://shopify/Order/{oid}"}

        def transaction(number: int, kind: str, amount: Decimal, at: str, parent: dict | None) -> dict:
            tid = 7_100_000_000 + ids + seq * 20 + number
            return {"id": f"gid://shopify/OrderTransaction/{tid}", "kind": kind, "status": "SUCCESS",
                    "gateway": gateway, "formattedGateway": GATEWAY_NAMES[gateway],
                    "manualPaymentGateway": gateway == "cash", "amountSet": bag(amount), "createdAt": at,
                    "processedAt": at, "test": p.test, "parentTransaction": parent, "order": order_ref,
                    "authorizationCode": None if gateway == "cash" else f"{tid % 10**6:06d}",
                    "paymentId": f"c{oid}.{number + 1}", "errorCode": None,
                    "totalUnsettledSet": zero, "manuallyCapturable": False, "multiCapturable": False, "fees": []}

        sale_tx = transaction(0, "SALE", sim.events[0].amount, created, None)
        transactions = [sale_tx]
        refunds = []
        agreements = []
        for e in sim.events:
            ag_id = 2_600_000_000 + ids + seq * 20 + e.number
            sales = []
            for k, s in enumerate(e.sales):
                sale = {
                    "__typename": {"PRODUCT": "ProductSale", "SHIPPING": "ShippingLineSale", "TIP": "TipSale",
                                   "GIFT_CARD": "GiftCardSale"}[s.line_type],
                    "id": f"gid://shopify/Sale/{9_800_000_000_000 + ids + seq * 400 + e.number * 40 + k}",
                    "actionType": s.action,
                    "lineType": s.line_type,
                    "quantity": s.quantity,
                    "totalAmount": bag(s.total),
                    "totalDiscountAmountBeforeTaxes": bag(s.disc),
                    "totalDiscountAmountAfterTaxes": bag(s.disc_after),
                    "totalTaxAmount": bag(s.tax),
                }
                if s.line_type == "SHIPPING":
                    sale["shippingLine"] = {"id": ship_id}
                else:
                    sale["lineItem"] = {"id": li_id[s.line]}
                sales.append(sale)
            at = iso(e.at)
            if e.kind == "order":
                agreements.append({"__typename": "OrderAgreement", "id": f"gid://shopify/SalesAgreement/{ag_id}",
                                   "happenedAt": at, "reason": "ORDER", "sales": sales})
                continue
            if e.kind == "edit":
                agreements.append({"__typename": "OrderEditAgreement",
                                   "id": f"gid://shopify/SalesAgreement/{ag_id}", "happenedAt": at,
                                   "reason": "ORDER_EDIT", "sales": sales})
                transactions.append(transaction(e.number, "SALE", e.amount, at, None))
                continue
            rid = 910_000_000 + ids + seq * 10 + e.number
            amount = -e.amount
            tx = transaction(e.number, "REFUND", amount, at, {"id": sale_tx["id"]})
            transactions.append(tx)
            rli = []
            rsl = []
            for k, s in enumerate(e.sales):
                if s.line_type == "SHIPPING":
                    rsl.append({"id": f"gid://shopify/RefundShippingLine/{rid * 10 + k}",
                                "shippingLine": {"id": ship_id}, "subtotalAmountSet": bag(-(s.gross - s.disc)),
                                "taxAmountSet": bag(-s.tax)})
                    continue
                ln = sim.lines[s.line]
                restock = "CANCEL" if e.kind == "cancel" else ("RETURN" if ln.kind == "product" else "NO_RESTOCK")
                rli.append({"id": f"gid://shopify/RefundLineItem/{rid * 10 + k}", "quantity": -s.quantity,
                            "restockType": restock, "restocked": restock != "NO_RESTOCK",
                            "lineItem": {"id": li_id[s.line]}, "priceSet": bag(ln.unit),
                            "subtotalSet": bag(-(s.total - (ZERO if incl else s.tax))),
                            "totalTaxSet": bag(-s.tax)})
            refund = {"id": f"gid://shopify/Refund/{rid}", "legacyResourceId": str(rid), "createdAt": at,
                      "processedAt": at, "updatedAt": at, "note": e.note, "totalRefundedSet": bag(amount),
                      "refundLineItems": rli, "refundShippingLines": rsl, "transactions": [tx]}
            refunds.append(refund)
            agreements.append({"__typename": "RefundAgreement", "id": f"gid://shopify/SalesAgreement/{ag_id}",
                               "happenedAt": at, "reason": "REFUND", "refund": {"id": refund["id"]},
                               "sales": sales})

        now_ok = sim.created + timedelta(days=2) < cutoff
        if sim.cancelled_at is not None:
            fulfillment = "UNFULFILLED"
        elif p.source == "pos" or (now_ok and any(ln.kind == "product" for ln in sim.lines)):
            fulfillment = "FULFILLED"
        else:
            fulfillment = "UNFULFILLED"
        fulfilled = fulfillment == "FULFILLED" or sim.cancelled_at is not None
        for ln, item in zip(sim.lines, line_items, strict=True):
            left = 0 if fulfilled or ln.kind != "product" else ln.quantity - ln.returned
            item.update(unfulfilledQuantity=left, nonFulfillableQuantity=ln.quantity - ln.returned - left,
                        merchantEditable=sim.cancelled_at is None)
        if refunded == 0:
            financial = "PAID"
        elif refunded >= total:
            financial = "REFUNDED"
        else:
            financial = "PARTIALLY_REFUNDED"
        closed_at = sim.cancelled_at or (sim.created + timedelta(days=2) if fulfillment == "FULFILLED" and now_ok
                                         else None)
        if closed_at is not None and closed_at >= cutoff:
            closed_at = None
        updated = max([e.at for e in sim.events] + ([closed_at] if closed_at else []))

        customer = None
        address = None
        email = None
        if p.customer is not None:
            base = self._customer_base(p.customer)
            customer = {"id": base["id"], "email": base["email"], "firstName": base["firstName"],
                        "lastName": base["lastName"], "numberOfOrders": str(self._count_as_of(p.customer, cutoff)),
                        "createdAt": base["createdAt"]}
            address = base["address"]
            email = base["email"]
        else:
            h = digest("guest", spec.seed, seq)
            city, prov, code, zipc = ADDRESSES[self.country][h[0] % len(ADDRESSES[self.country])]
            address = {"id": f"gid://shopify/MailingAddress/{7_500_000_000 + ids + seq}",
                       "firstName": FIRST_NAMES[h[1] % len(FIRST_NAMES)],
                       "lastName": LAST_NAMES[h[2] % len(LAST_NAMES)],
                       "address1": f"{h[3] % 90 + 1} High Street", "city": city, "province": prov,
                       "provinceCode": code, "country": COUNTRY_NAMES[self.country], "countryCodeV2": self.country,
                       "zip": zipc}
            email = f"guest{seq}@example.com"

        disc_apps = []
        if p.discount_code:
            disc_apps.append({"__typename": "DiscountCodeApplication", "code": p.discount_code, "index": 0,
                              "allocationMethod": "ACROSS", "targetSelection": "ALL", "targetType": "LINE_ITEM",
                              "value": {"__typename": "PricingPercentageValue", "percentage": float(p.discount_pct)}})
        tags = []
        if p.discount_code:
            tags.append("promo")
        if sim.returning:
            tags.append("returning-customer")
        journey = {"ready": True, "customerOrderIndex": sim.customer_order_index, "daysToConversion": 0,
                   "firstVisit": None, "lastVisit": None}
        if p.landing:
            h = digest("visit", spec.seed, seq)
            days = h[0] % 4 if h[1] % 3 == 0 else 0
            utm = None
            if "utm_source=" in p.landing:
                q = dict(kv.split("=", 1) for kv in p.landing.split("?", 1)[1].split("&"))
                utm = {"source": q.get("utm_source"), "medium": q.get("utm_medium"),
                       "campaign": q.get("utm_campaign"), "content": None, "term": None}
            source = ("facebook" if p.referrer and "facebook" in p.referrer else
                      "instagram" if p.referrer and "instagram" in p.referrer else
                      "google" if p.referrer and "google" in p.referrer else "direct")
            visit = {"id": f"gid://shopify/CustomerVisit/{3_300_000_000 + ids + seq}", "landingPage": p.landing,
                     "referrerUrl": p.referrer, "source": source, "utmParameters": utm,
                     "occurredAt": iso(sim.created - timedelta(days=days, minutes=5 + h[2] % 50))}
            journey.update(daysToConversion=days, firstVisit=visit, lastVisit=dict(
                visit, id=f"gid://shopify/CustomerVisit/{3_400_000_000 + ids + seq}",
                occurredAt=iso(sim.created - timedelta(minutes=1 + h[3] % 4))))
        return {
            "id": f"gid://shopify/Order/{oid}",
            "legacyResourceId": str(oid),
            "name": f"#{1001 + seq}",
            "number": 1001 + seq,  # the number the name is made of
            "confirmationNumber": "".join(CONFIRMATION_LETTERS[b % len(CONFIRMATION_LETTERS)]
                                          for b in digest("confirmation", spec.seed, seq)[:9]),
            "poNumber": None,  # B2B purchase orders only
            "sourceIdentifier": f"{self.id_offset // 10**9}-1-{1001 + seq}" if p.source == "pos" else None,
            "app": APPS[p.source],
            "retailLocation": {"id": f"gid://shopify/Location/{61_000_000_000 + ids}"} if p.source == "pos" else None,
            "staffMember": None,  # needs read_users, which the sandbox's apps are never granted
            "customerLocale": LOCALES.get(self.country, "en"),
            "returnStatus": "NO_RETURN",  # refunds here are made without Return objects, as most shops do
            "taxExempt": False,
            "dutiesIncluded": False,
            "customAttributes": [],
            "totalWeight": str(sum(int(ln.variant["inventoryItem"]["measurement"]["weight"]["value"]) * ln.quantity
                                   for ln in sim.lines if ln.kind == "product")),
            "createdAt": created,
            "processedAt": created,
            "updatedAt": iso(updated),
            "cancelledAt": iso(sim.cancelled_at) if sim.cancelled_at else None,
            "cancelReason": p.cancel_reason if sim.cancelled_at else None,
            "closed": closed_at is not None,
            "closedAt": iso(closed_at) if closed_at else None,
            "test": p.test,
            "currencyCode": cur,
            "presentmentCurrencyCode": pres,
            "taxesIncluded": incl,
            "email": email,
            "phone": None,
            "sourceName": p.source,
            "landingPageUrl": p.landing,
            "referrerUrl": p.referrer,
            "tags": tags,
            "note": None,
            "discountCodes": [p.discount_code] if p.discount_code else [],
            "discountCode": p.discount_code,
            "displayFinancialStatus": financial,
            "displayFulfillmentStatus": fulfillment,
            "customer": customer,
            "billingAddress": address,
            "shippingAddress": address if sim.shipping_display is not None else None,
            "subtotalPriceSet": bag(subtotal),
            "totalDiscountsSet": bag(discounts),
            "totalShippingPriceSet": bag(sim.shipping_display or ZERO),
            "totalTaxSet": bag(tax),
            "totalTipReceivedSet": bag(tip),
            "totalPriceSet": paid,
            "totalRefundedSet": bag(refunded),
            "currentSubtotalPriceSet": bag(subtotal - ret_sub),
            "currentTotalTaxSet": bag(tax - ret_tax),
            "currentTotalDiscountsSet": bag(discounts - ret_disc),
            "currentTotalPriceSet": net,
            "totalOutstandingSet": zero,
            # at creation, before edits and refunds
            "originalTotalPriceSet": paid if len(sales_events) == 1 else bag(sim.events[0].amount),
            "totalReceivedSet": paid,  # every sale transaction (the order and its edits)
            "netPaymentSet": net,  # received minus refunded
            "totalCapturableSet": zero,  # captured at checkout
            "currentTotalDutiesSet": None,  # no duties: Shopify answers null
            "originalTotalDutiesSet": None,
            "currentTotalAdditionalFeesSet": None,
            "originalTotalAdditionalFeesSet": None,
            "lineItems": line_items,
            "shippingLines": shipping_lines,
            "taxLines": taxlines(tax, self.tax_rate) if tax else [],
            "discountApplications": disc_apps,
            "customerJourneySummary": journey,
            "subtotalLineItemsQuantity": sum(ln.quantity for ln in products),
            "currentSubtotalLineItemsQuantity": sum(ln.quantity - ln.returned for ln in products),
            "paymentGatewayNames": [gateway],
            "totalRefundedShippingSet": bag(-sum((s.total - s.tax for s in returned_sales
                                                  if s.line_type == "SHIPPING"), ZERO)),
            "requiresShipping": sim.shipping_display is not None,
            "fullyPaid": True,
            "unpaid": False,
            "confirmed": True,
            "edited": any(e.kind == "edit" for e in sim.events),
            "billingAddressMatchesShippingAddress": sim.shipping_display is not None,
            "canMarkAsPaid": False,  # paid at checkout
            "capturable": False,
            "canNotifyCustomer": email is not None,
            "customerAcceptsMarketing": False,
            "estimatedTaxes": False,
            "hasTimelineComment": False,
            "merchantEditable": sim.cancelled_at is None,
            "merchantEditableErrors": [] if sim.cancelled_at is None else ["Canceled orders can't be edited."],
            "fulfillable": not fulfilled and any(ln.kind == "product" for ln in sim.lines),
            "refundable": total > refunded,
            "restockable": any(item["restockable"] for item in line_items),
            "currentShippingPriceSet": bag((sim.shipping_display or ZERO) + sum(  # as displayed, less refunds
                (s.total if incl else s.total - s.tax for s in returned_sales if s.line_type == "SHIPPING"), ZERO)),
            "currentTaxLines": taxlines(tax - ret_tax, self.tax_rate) if tax - ret_tax else [],
            "additionalFees": [],
            "alerts": [],
            "disputes": [],
            "transactions": transactions,
            "refunds": refunds,
            "agreements": agreements,
        }

