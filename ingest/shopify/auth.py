"""Placeholder until the connect branch lands: a shop's client from its stored credential."""

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from database import session_scope
from ingest import crypto
from ingest.shopify.client import ShopifyClient, StaticToken
from models import Shop, ShopCredential


def client_for_shop(sessions: sessionmaker, shop_id: int) -> ShopifyClient:
    with session_scope(sessions) as session:
        shop, credential = session.execute(select(Shop, ShopCredential).join(
            ShopCredential, ShopCredential.shop_id == Shop.id).where(Shop.id == shop_id)).one()
        return ShopifyClient(shop.shop_domain, StaticToken(crypto.decrypt(credential.access_token_enc)))
