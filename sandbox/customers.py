"""A store's customers: names, addresses, when they signed up, how many orders they placed."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import cached_property

from sandbox.seeded import digest, iso

ADDRESSES = {
    "DE": [("Berlin", "Berlin", "BE", "10115"), ("München", "Bavaria", "BY", "80331"),
           ("Hamburg", "Hamburg", "HH", "20095"), ("Köln", "North Rhine-Westphalia", "NW", "50667"),
           ("Freiburg", "Baden-Württemberg", "BW", "79098")],
    "US": [("Los Angeles", "California", "CA", "90012"), ("San Francisco", "California", "CA", "94103"),
           ("Portland", "Oregon", "OR", "97205"), ("Seattle", "Washington", "WA", "98101"),
           ("Austin", "Texas", "TX", "78701"), ("Brooklyn", "New York", "NY", "11201")],
    "GB": [("London", "England", "ENG", "EC1A 1BB"), ("Edinburgh", "Scotland", "SCT", "EH1 1YZ"),
           ("Manchester", "England", "ENG", "M1 1AE"), ("Cardiff", "Wales", "WLS", "CF10 1EP")],
    "AU": [("Sydney", "New South Wales", "NSW", "2000"), ("Melbourne", "Victoria", "VIC", "3000"),
           ("Brisbane", "Queensland", "QLD", "4000"), ("Byron Bay", "New South Wales", "NSW", "2481")],
    "CA": [("Toronto", "Ontario", "ON", "M5H 2N2"), ("Ottawa", "Ontario", "ON", "K1P 1J1"),
           ("Vancouver", "British Columbia", "BC", "V6B 1A1")],
}
COUNTRY_NAMES = {"DE": "Germany", "US": "United States", "GB": "United Kingdom", "AU": "Australia", "CA": "Canada"}

FIRST_NAMES = ["Anna", "Ben", "Clara", "David", "Emma", "Finn", "Grace", "Hugo", "Isla", "Jonas", "Kira", "Liam", "Mia",
          "Noah", "Olivia", "Paul", "Quinn", "Rosa", "Sam", "Theo", "Uma", "Vera", "Will", "Yara", "Zoe", "Leo",
          "Nina", "Oscar", "Lena", "Max"]
LAST_NAMES = ["Adler", "Brown", "Costa", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jones", "Keller",
         "Lopez", "Martin", "Nguyen", "Okafor", "Patel", "Quist", "Rossi", "Schmidt", "Taylor", "Urban", "Vogel",
         "Walsh", "Young", "Zimmer", "Murphy", "Kelly", "Novak"]

CUSTOMER_IDS = 6_500_000_000  # where customers' ids start in each store's block


class Customers:
    """The customers of a store (a part of `Store`)."""

    def _customer_created(self, i: int) -> datetime:
        day = self._cust_origin + timedelta(days=i * self._cust_span // max(1, self.n_customers))
        minute = int.from_bytes(digest("cust-time", self.spec.seed, i)[:2], "big") % 1440
        return datetime.combine(day, time(), self.tz) + timedelta(minutes=minute)

    def _customer_base(self, i: int) -> dict:
        h = digest("cust", self.spec.seed, self.spec.domain, i)
        first, last = FIRST_NAMES[h[0] % len(FIRST_NAMES)], LAST_NAMES[h[1] % len(LAST_NAMES)]
        cid = CUSTOMER_IDS + self.id_offset + i
        address_id = f"gid://shopify/MailingAddress/{7_000_000_000 + self.id_offset + i}"
        city, prov, code, zipc = ADDRESSES[self.country][h[2] % len(ADDRESSES[self.country])]
        created = iso(self._customer_created(i))
        return {
            "id": f"gid://shopify/Customer/{cid}",
            "legacyResourceId": str(cid),
            "firstName": first,
            "lastName": last,
            "displayName": f"{first} {last}",
            "email": f"{first.lower()}.{last.lower()}.{i}@example.com",
            "createdAt": created,
            "address": {"id": address_id, "firstName": first, "lastName": last,
                        "address1": f"{h[3] % 200 + 1} Market Street",
                        "city": city, "province": prov, "provinceCode": code, "country": COUNTRY_NAMES[self.country],
                        "countryCodeV2": self.country, "zip": zipc},
        }

    @cached_property
    def customers(self) -> list[dict]:
        """Every customer, as they stand at the store's end."""
        counts = self._counts()
        return [self._customer(i, counts[i]) for i in range(self.n_customers)]

    def customers_as_of(self, t: datetime) -> list[dict]:
        """The customers signed up by `t`, with the orders they had placed by then."""
        if t >= self._cutoff:
            return self.customers
        counts = self._counts_as_of(t)
        return [self._customer(i, counts[i]) for i in range(self.n_customers) if self._customer_created(i) <= t]

    def _customer(self, i: int, orders: int) -> dict:
        b = self._customer_base(i)
        return {
            "id": b["id"], "legacyResourceId": b["legacyResourceId"], "firstName": b["firstName"],
            "lastName": b["lastName"], "displayName": b["displayName"], "email": b["email"], "phone": None,
            "createdAt": b["createdAt"], "updatedAt": b["createdAt"], "numberOfOrders": str(orders),
            "state": "ENABLED" if orders else "DISABLED", "tags": ["repeat"] if orders > 1 else [],
            "defaultAddress": b["address"],
            "addresses": [b["address"]],
        }

