"""Every read the dashboard makes: through the reporting schema, as the logged-in user (RLS applies)."""

from sqlalchemy import Row, text
from sqlalchemy.orm import Session

_SHOPS = """
    SELECT shop_id, shop_domain, name, currency, iana_timezone, status
    FROM reporting.shop_directory
"""


def list_shops(*, session: Session) -> list[Row]:
    """The stores this user may see, by name."""
    return list(session.execute(text(_SHOPS + " ORDER BY lower(name), shop_id")))


def get_shop(*, session: Session, shop_id: int) -> Row | None:
    """One store, if this user may see it."""
    return session.execute(text(_SHOPS + " WHERE shop_id = :shop_id"), {"shop_id": shop_id}).first()
