"""The two upload kinds: their columns, how a file's headers are matched to them, and a template to download."""

import re
from dataclasses import dataclass

# ISO 4217 codes in use (active codes as of 2026, plus the funds and precious-metal codes some exports carry).
_ISO_4217 = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE
CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ
GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD
MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG
QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD
TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW
ZWG ZWL
"""
CURRENCIES = frozenset(_ISO_4217.split())


@dataclass(frozen=True)
class Column:
    """A column of an upload kind: its name in staging, its header in our template, other headers it accepts."""

    name: str
    header: str
    aliases: tuple[str, ...] = ()
    required: bool = True


@dataclass(frozen=True)
class Format:
    """An upload kind: its job kind, staging table and columns (in staging's order)."""

    kind: str
    job_kind: str
    staging: str
    columns: tuple[Column, ...]
    example: tuple[str, ...]

    def headers(self) -> list[str]:
        return [c.header for c in self.columns]


MARKETPLACE_ORDERS = Format(
    kind="marketplace-orders",
    job_kind="MARKETPLACE_ORDERS",
    staging="staging_ingest.marketplace_order_rows",
    columns=(
        Column("order_id", "Order ID", ("order", "order number", "order no", "id")),
        Column("ordered_at", "Date", ("order date", "ordered at", "created at", "date time", "datetime")),
        Column("currency", "Currency", ("currency code",)),
        Column("gross", "Gross", ("gross sales", "gross amount", "subtotal")),
        Column("discounts", "Discounts", ("discount",), required=False),
        Column("refunds", "Refunds", ("refund", "returns"), required=False),
        Column("fees", "Fees", ("fee", "marketplace fees", "commission"), required=False),
        Column("net", "Net", ("net amount", "payout", "net proceeds")),
        Column("channel", "Channel", ("channel name", "sales channel", "marketplace")),
    ),
    example=("A-1001", "2026-11-30T14:05:00+01:00", "EUR", "59.90", "5.00", "0.00", "7.19", "47.71", "Amazon"),
)

# Shopify admin, Finance > Payouts > Export transactions (README: Uploads cites the sources).
PAYOUTS = Format(
    kind="payouts",
    job_kind="PAYOUTS",
    staging="staging_ingest.payout_rows",
    columns=(
        Column("transaction_date", "Transaction Date"),
        Column("type", "Type"),
        Column("order_name", "Order"),
        Column("card_brand", "Card Brand", required=False),
        Column("card_source", "Card Source", required=False),
        Column("payout_status", "Payout Status", required=False),
        Column("payout_date", "Payout Date", required=False),
        Column("payout_id", "Payout ID", required=False),
        Column("available_on", "Available On", required=False),
        Column("amount", "Amount"),
        Column("fee", "Fee"),
        Column("net", "Net"),
        Column("checkout", "Checkout", required=False),
        Column("payment_method_name", "Payment Method Name", ("payment method",), required=False),
        Column("presentment_amount", "Presentment Amount", required=False),
        Column("presentment_currency", "Presentment Currency", required=False),
        Column("currency", "Currency"),
    ),
    example=("2026-11-30 14:05:12 +0100", "charge", "#1001", "visa", "online", "paid", "2026-12-02",
             "90001", "2026-12-02", "59.90", "1.85", "58.05", "#123456789", "card", "59.90", "EUR", "EUR"),
)

FORMATS = {f.kind: f for f in (MARKETPLACE_ORDERS, PAYOUTS)}


class HeaderError(ValueError):
    """The file's header lacks required columns (a mapping names them)."""


def normalise(header: str) -> str:
    """A header compared case-, space- and punctuation-insensitively ("Order ID", "order_id", " ORDER-ID ")."""
    return re.sub(r"[\s_\-.:#]+", "", header.strip().lstrip("\ufeff")).lower()


def match_headers(fmt: Format, headers: list[str], mapping: dict[str, str] | None = None) -> list[int | None]:
    """For each of the format's columns, the index of the file's column holding it (None: absent, optional).

    `mapping` maps a file's header to one of our column names or template headers, for files that name them
    otherwise. Raises HeaderError naming the missing columns and the headers found.
    """
    wanted: dict[str, str] = {}
    for column in fmt.columns:
        for name in (column.name, column.header, *column.aliases):
            wanted.setdefault(normalise(name), column.name)
    for theirs, ours in (mapping or {}).items():
        target = wanted.get(normalise(ours))
        if target is None:
            raise HeaderError(f"the mapping names {ours!r}, which is not a column of {fmt.kind} "
                              f"(columns: {', '.join(fmt.headers())})")
        wanted[normalise(theirs)] = target
    found: dict[str, int] = {}
    for index, header in enumerate(headers):
        name = wanted.get(normalise(header))
        if name is not None and name not in found:
            found[name] = index
    missing = [c.header for c in fmt.columns if c.required and c.name not in found]
    if missing:
        raise HeaderError(f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                          f"(the file's header: {', '.join(h.strip() for h in headers) or 'empty'}); "
                          "map the file's columns to ours")
    return [found.get(c.name) for c in fmt.columns]


def template(fmt: Format) -> str:
    """A CSV template with our headers and one example row."""
    return ",".join(fmt.headers()) + "\r\n" + ",".join(fmt.example) + "\r\n"
