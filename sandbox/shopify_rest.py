"""The few REST Admin resources common clients read before anything else, in Shopify's REST shapes.

`GET /admin/api/{version}/shop.json` (https://shopify.dev/docs/api/admin-rest/latest/resources/shop) and
`GET /admin/oauth/access_scopes.json` (https://shopify.dev/docs/api/admin-rest/latest/resources/accessscope):
Singer and Airbyte Shopify sources call them first, to check the token and learn the shop's currency and timezone.
"""

import zlib
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sandbox.customers import ADDRESSES, COUNTRY_NAMES
from sandbox.seeded import iso


def shop_number(domain: str) -> int:
    """A shop's numeric id: stable across processes (Python's hash() is salted per process)."""
    return zlib.crc32(domain.encode()) + 10**9


def rest_shop(store) -> dict:
    """The shop resource of a store."""
    spec = store.spec
    zone = ZoneInfo(spec.iana_timezone)
    created = datetime.combine(spec.start - timedelta(days=180), time(9), zone)
    offset = datetime.combine(spec.end, time(12), zone).strftime("%z")
    slug = spec.domain.removesuffix(".myshopify.com")
    country = getattr(store, "country", "US")
    city, province, province_code, postcode = ADDRESSES[country][0]
    symbol = {"EUR": "€", "GBP": "£"}.get(spec.currency, "$")
    return {
        "id": shop_number(spec.domain),
        "name": spec.name,
        "email": f"owner@{slug}.example.com",
        "domain": spec.domain,
        "myshopify_domain": spec.domain,
        "province": province,
        "country": country,
        "address1": "1 Harbour Street",
        "zip": postcode,
        "city": city,
        "phone": None,
        "primary_locale": "en",
        "created_at": iso(created),
        "updated_at": iso(created + timedelta(days=1)),
        "country_code": country,
        "country_name": COUNTRY_NAMES[country],
        "currency": spec.currency,
        "customer_email": f"hello@{slug}.example.com",
        "timezone": f"(GMT{offset[:3]}:{offset[3:]}) {spec.iana_timezone}",
        "iana_timezone": spec.iana_timezone,
        "shop_owner": f"{spec.name} Owner",
        "money_format": f"{symbol}{{{{amount}}}}",
        "money_with_currency_format": f"{symbol}{{{{amount}}}} {spec.currency}",
        "weight_unit": "kg",
        "province_code": province_code,
        "taxes_included": spec.taxes_included,
        "tax_shipping": None,
        "county_taxes": True,
        "plan_display_name": spec.plan,
        "plan_name": spec.plan.lower().replace(" ", "_"),
        "has_discounts": True,
        "has_gift_cards": True,
        "has_storefront": True,
        "password_enabled": False,
        "setup_required": False,
        "pre_launch_enabled": False,
        "multi_location_enabled": True,
        "checkout_api_supported": True,
        "eligible_for_payments": True,
        "enabled_presentment_currencies": list(spec.presentment_currencies),
        "source": None,
    }
