"""A store's catalog: brand themes, products with variants, SKUs, prices, costs and inventory."""

from __future__ import annotations

import math
import random
from datetime import datetime, time, timedelta
from decimal import Decimal

from sandbox.seeded import USD_PER_UNIT, hex_string, iso, q2

# Country, tax (rate, title), shipping (standard, express, free-over) by shop currency.
LOCALE = {
    "EUR": ("DE", Decimal("0.19"), "DE MwSt", Decimal("4.90"), Decimal("12.90"), Decimal("75")),
    "USD": ("US", Decimal("0.0725"), "CA State Tax", Decimal("5.99"), Decimal("14.99"), Decimal("80")),
    "GBP": ("GB", Decimal("0.20"), "GB VAT", Decimal("3.95"), Decimal("8.95"), Decimal("60")),
    "AUD": ("AU", Decimal("0.10"), "AU GST", Decimal("9.95"), Decimal("19.95"), Decimal("120")),
    "CAD": ("CA", Decimal("0.13"), "ON HST", Decimal("8.99"), Decimal("18.99"), Decimal("100")),
}



# theme -> (palette of brand hex colours, product colours, product templates)
# template: (title, product type, category path (depth <= 3), base price in USD, options)
APPAREL = (("Size", ("XS", "S", "M", "L", "XL")),)
THEMES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple]] = {
    "outdoor": (
        ("#1F3A34", "#E8DCC8", "#C8553D", "#2E86AB"),
        ("Forest", "Glacier", "Ember", "Slate"),
        (
            ("Merino Base Layer", "Base Layers", ("Apparel & Accessories", "Clothing", "Activewear"), 79, APPAREL),
            ("Alpine Shell Jacket", "Jackets", ("Apparel & Accessories", "Clothing", "Outerwear"), 249, APPAREL),
            ("Down Vest", "Jackets", ("Apparel & Accessories", "Clothing", "Outerwear"), 149, APPAREL),
            ("Trail Shorts", "Shorts", ("Apparel & Accessories", "Clothing", "Shorts"), 59, APPAREL),
            ("Hiking Socks", "Socks", ("Apparel & Accessories", "Clothing", "Socks"), 19, (("Size", ("S", "M", "L")),)),
            ("Wool Beanie", "Headwear", ("Apparel & Accessories", "Clothing Accessories", "Hats"), 29, ()),
            ("Daypack 24L", "Bags", ("Luggage & Bags", "Backpacks"), 119, ()),
            ("Trekking Poles", "Gear", ("Sporting Goods", "Outdoor Recreation", "Hiking"), 89, ()),
            ("Insulated Bottle", "Drinkware", ("Home & Garden", "Kitchen & Dining", "Drinkware"), 35, ()),
        ),
    ),
    "coffee": (
        ("#3B2418", "#F2E8DA", "#D98E04", "#6B8F71"),
        ("Cream", "Charcoal", "Sage"),
        (
            ("House Blend Beans", "Coffee", ("Food, Beverages & Tobacco", "Beverages", "Coffee"), 18,
             (("Size", ("250g", "1kg")), ("Grind", ("Whole bean", "Espresso", "Filter")))),
            ("Single Origin Ethiopia", "Coffee", ("Food, Beverages & Tobacco", "Beverages", "Coffee"), 22,
             (("Size", ("250g", "1kg")),)),
            ("Decaf Colombia", "Coffee", ("Food, Beverages & Tobacco", "Beverages", "Coffee"), 19,
             (("Size", ("250g", "1kg")),)),
            ("Ceramic Mug", "Drinkware", ("Home & Garden", "Kitchen & Dining", "Drinkware"), 24, ()),
            ("Pour-over Kettle", "Brewing", ("Home & Garden", "Kitchen & Dining", "Kitchen Appliances"), 69, ()),
            ("Cold Brew Kit", "Brewing", ("Home & Garden", "Kitchen & Dining", "Kitchen Tools"), 39, ()),
            ("Espresso Tamper", "Brewing", ("Home & Garden", "Kitchen & Dining", "Kitchen Tools"), 29, ()),
            ("Barista Apron", "Apparel", ("Apparel & Accessories", "Clothing", "Aprons"), 34, ()),
        ),
    ),
    "knit": (
        ("#2C3E50", "#F4EBD9", "#8E3B46", "#A3B18A"),
        ("Heather", "Oatmeal", "Navy", "Berry"),
        (
            ("Lambswool Jumper", "Knitwear", ("Apparel & Accessories", "Clothing", "Sweaters"), 95, APPAREL),
            ("Cable Knit Cardigan", "Knitwear", ("Apparel & Accessories", "Clothing", "Sweaters"), 120, APPAREL),
            ("Tartan Scarf", "Accessories", ("Apparel & Accessories", "Clothing Accessories", "Scarves"), 45, ()),
            ("Fisherman Beanie", "Accessories", ("Apparel & Accessories", "Clothing Accessories", "Hats"), 28, ()),
            ("Wool Socks", "Socks", ("Apparel & Accessories", "Clothing", "Socks"), 16, (("Size", ("S", "M", "L")),)),
            ("Knitting Kit", "Crafts", ("Arts & Entertainment", "Hobbies & Creative Arts", "Crafts"), 55, ()),
            ("Throw Blanket", "Home", ("Home & Garden", "Linens & Bedding", "Blankets"), 110, ()),
        ),
    ),
    "surf": (
        ("#0B3954", "#FFD166", "#06D6A0", "#EF476F"),
        ("Reef", "Sand", "Sunset"),
        (
            ("Boardshorts", "Swimwear", ("Apparel & Accessories", "Clothing", "Swimwear"), 55, APPAREL),
            ("Wetsuit 3/2", "Wetsuits", ("Sporting Goods", "Water Sports", "Wetsuits"), 289, APPAREL),
            ("Rash Guard", "Swimwear", ("Apparel & Accessories", "Clothing", "Swimwear"), 45, APPAREL),
            ("Surf Wax", "Accessories", ("Sporting Goods", "Water Sports", "Surfing"), 6, ()),
            ("Leash 7ft", "Accessories", ("Sporting Goods", "Water Sports", "Surfing"), 35, ()),
            ("Beach Towel", "Home", ("Home & Garden", "Linens & Bedding", "Towels"), 39, ()),
        ),
    ),
}


class Catalog:
    """The products of a store (a part of `Store`)."""

    def _make_products(self, templates) -> list[dict]:
        spec = self.spec
        rng = random.Random(f"{spec.seed}|{spec.domain}|catalog")
        fx_usd = USD_PER_UNIT.get(spec.currency, Decimal(1))
        created = datetime.combine(spec.start - timedelta(days=120), time(9), self.tz)
        products = []
        vendor = spec.name
        for pi, (title, ptype, cat, usd, options) in enumerate(templates):
            handle = title.lower().replace("&", "and").replace("/", "-").replace(" ", "-")
            pid = 8_100_000_000 + self.id_offset + pi * 1000
            base = Decimal(usd) / fx_usd
            if not self.spec.taxes_included:
                base = base / (1 + self.tax_rate) * Decimal("1.05")
            price0 = Decimal(math.floor(base)) + Decimal("0.95") if base >= 10 else q2(base)
            opts = list(options)
            if ptype not in ("Coffee",) and len(opts) < 2:
                opts.append(("Color", tuple(rng.sample(self._colours, min(3, len(self._colours))))))
            combos: list[tuple[tuple[str, str], ...]] = [()]
            for oname, values in opts:
                combos = [c + ((oname, v),) for c in combos for v in values]
            pcreated = created + timedelta(days=pi * 3, minutes=rng.randrange(600))
            url = f"/sandbox/images/{handle}.svg"
            variants = []
            for vi, combo in enumerate(combos):
                vid = 44_000_000_000 + self.id_offset + pi * 1000 + vi
                price = price0
                if any(v == "1kg" for _, v in combo):
                    price = q2(price0 * Decimal("3.2"))
                if any(v == "XL" for _, v in combo):
                    price = price + Decimal("5")
                cost = q2((price / (1 + self.tax_rate) if spec.taxes_included else price) *
                          Decimal(rng.choice(("0.32", "0.38", "0.45"))))
                sku = f"{self.theme[:3].upper()}-{pi + 1:03d}" + "".join(
                    "-" + v.replace(" ", "")[:3].upper() for _, v in combo)
                vtitle = " / ".join(v for _, v in combo) or "Default Title"
                variants.append({
                    "id": f"gid://shopify/ProductVariant/{vid}",
                    "legacyResourceId": str(vid),
                    "title": vtitle,
                    "displayName": f"{title} - {vtitle}",
                    "sku": sku,
                    "barcode": f"{(int(hex_string(12, 'ean', spec.seed, pi, vi), 16) % 10**12):012d}",
                    "position": vi + 1,
                    "price": str(price),
                    "compareAtPrice": str(q2(price * Decimal("1.25"))) if pi % 4 == 3 else None,
                    "taxable": True,
                    "inventoryQuantity": rng.randrange(0, 240),
                    "selectedOptions": [{"name": n, "value": v} for n, v in combo]
                    or [{"name": "Title", "value": "Default Title"}],
                    "createdAt": iso(pcreated),
                    "updatedAt": iso(pcreated + timedelta(days=7)),
                    "inventoryItem": {
                        "id": f"gid://shopify/InventoryItem/{vid + 1_000_000_000}",
                        "sku": sku,
                        "tracked": True,
                        "requiresShipping": True,
                        "unitCost": {"amount": str(cost), "currencyCode": spec.currency},
                        "measurement": {"weight": {"unit": "GRAMS", "value": float(rng.choice((150, 350, 800)))}},
                    },
                })
            products.append(self._product_dict(pid, title, handle, ptype, cat, vendor, opts, variants, pcreated,
                                               url, rng, is_gift=False))
        # the gift card product
        pi = len(templates)
        pid = 8_100_000_000 + self.id_offset + pi * 1000
        denoms = [Decimal(x) for x in (25, 50, 100)]
        pcreated = created
        variants = []
        for vi, d in enumerate(denoms):
            vid = 44_000_000_000 + self.id_offset + pi * 1000 + vi
            variants.append({
                "id": f"gid://shopify/ProductVariant/{vid}", "legacyResourceId": str(vid),
                "title": f"{d:.0f}", "displayName": f"Gift Card - {d:.0f}", "sku": None, "barcode": None,
                "position": vi + 1, "price": str(q2(d)), "compareAtPrice": None, "taxable": False,
                "inventoryQuantity": 0, "selectedOptions": [{"name": "Denominations", "value": f"{d:.0f}"}],
                "createdAt": iso(pcreated), "updatedAt": iso(pcreated),
                "inventoryItem": {"id": f"gid://shopify/InventoryItem/{vid + 1_000_000_000}",
                                  "sku": None, "tracked": False, "requiresShipping": False,
                                  "unitCost": None, "measurement": {"weight": {"unit": "GRAMS", "value": 0.0}}},
            })
        products.append(self._product_dict(pid, "Gift Card", "gift-card", "Gift Cards",
                                           ("Arts & Entertainment", "Party & Celebration", "Gift Giving"), vendor,
                                           [("Denominations", tuple(f"{d:.0f}" for d in denoms))], variants,
                                           pcreated, "/sandbox/images/gift-card.svg", rng, is_gift=True))
        return products

    def products_as_of(self, t: datetime) -> list[dict]:
        """The products created by `t`; one whose later edit is still to come shows its creation time."""
        stamp = iso(t)
        out = []
        for product in self.products:
            if product["createdAt"] > stamp:
                continue
            if product["updatedAt"] > stamp:
                product = dict(product, updatedAt=product["createdAt"], variants=[
                    dict(v, updatedAt=v["createdAt"]) if v["updatedAt"] > stamp else v for v in product["variants"]])
            out.append(product)
        return out

    def _product_dict(self, pid, title, handle, ptype, cat, vendor, opts, variants, created, url, rng, is_gift):
        img_id = 30_000_000_000 + self.id_offset + pid % 10**6
        images = [{"id": f"gid://shopify/ProductImage/{img_id + k}", "url": url if k == 0 else
                   url.replace(".svg", f"-{k + 1}.svg"), "altText": title, "width": 800, "height": 800}
                  for k in range(1 if is_gift else 2)]
        tags = [ptype.lower(), self.theme] + (["bestseller"] if rng.random() < 0.3 else [])
        for variant in variants:  # a variant names its product (ProductVariant.product is non-null)
            tracked = variant["inventoryItem"]["tracked"]
            variant.update(product={"id": f"gid://shopify/Product/{pid}"}, inventoryPolicy="DENY",
                           availableForSale=not tracked or variant["inventoryQuantity"] > 0,
                           requiresComponents=False, showUnitPrice=False)
        prices = sorted(Decimal(v["price"]) for v in variants)
        return {
            "id": f"gid://shopify/Product/{pid}",
            "legacyResourceId": str(pid),
            "title": title,
            "handle": handle,
            "vendor": vendor,
            "productType": ptype,
            "tags": sorted(set(tags)),
            "status": "ACTIVE",
            "isGiftCard": is_gift,
            "createdAt": iso(created),
            "updatedAt": iso(created + timedelta(days=7)),
            "publishedAt": iso(created + timedelta(hours=1)),
            "descriptionHtml": f"<p>{title} by {vendor}.</p><ul><li>Designed for everyday use</li>"
            f"<li>Ships in recyclable packaging</li></ul>",
            "category": {
                "id": "gid://shopify/TaxonomyCategory/sandbox-"
                + "-".join(c.lower().replace(" & ", "-").replace(" ", "-").replace(",", "") for c in cat),
                "name": cat[-1],
                "fullName": " > ".join(cat),
            },
            "options": [
                {"id": f"gid://shopify/ProductOption/{pid + k}", "name": n, "position": k + 1, "values": list(vals)}
                for k, (n, vals) in enumerate(opts)
            ] or [{"id": f"gid://shopify/ProductOption/{pid}", "name": "Title", "position": 1,
                   "values": ["Default Title"]}],
            "totalInventory": sum(v["inventoryQuantity"] for v in variants),
            "hasOnlyDefaultVariant": len(variants) == 1 and variants[0]["title"] == "Default Title",
            "hasOutOfStockVariants": any(v["inventoryQuantity"] <= 0 for v in variants),
            "tracksInventory": not is_gift,
            "requiresSellingPlan": False,
            "hasVariantsThatRequiresComponents": False,
            "priceRangeV2": {"minVariantPrice": {"amount": str(prices[0]), "currencyCode": self.spec.currency},
                             "maxVariantPrice": {"amount": str(prices[-1]), "currencyCode": self.spec.currency}},
            "seo": {"title": None, "description": None},  # Shopify falls back to the title and description
            "featuredImage": images[0],
            "images": images,
            "media": [{"__typename": "MediaImage", "id": f"gid://shopify/MediaImage/{int(i['id'].rsplit('/', 1)[1])}",
                       "alt": title, "mediaContentType": "IMAGE", "status": "READY", "image": i} for i in images],
            "variants": variants,
        }

