"""Connect a Meta ad account to a shop: validate token and account, save the token encrypted, queue a backfill."""

from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from ingest import crypto, jobs
from ingest.errors import PermanentError, SyncError
from ingest.meta.client import PERMISSION_HINT, TOKEN_HINT, MetaClient
from models import AdAccount

ACCOUNT_FIELDS = "id,name,currency,timezone_name,account_status"
CLOSED = 101  # Meta's account_status for a closed account: nothing left to sync


class ConnectError(Exception):
    """The token or the account cannot be connected; the message says why and what to do."""


@dataclass(frozen=True)
class AccountInfo:
    """What Meta says about an ad account, checked before anything is saved."""

    account_id: str
    name: str
    currency: str
    iana_timezone: str
    account_status: int


def normalize(account_id: str) -> str:
    """'act_123' from '123' or 'act_123'."""
    account_id = account_id.strip()
    return account_id if account_id.startswith("act_") else f"act_{account_id}"


def validate_account(token: str, account_id: str) -> AccountInfo:
    """Read the account and one day of its insights with this token, or raise ConnectError saying why."""
    account_id = normalize(account_id)
    try:
        with MetaClient(token) as meta:
            node = meta.get(account_id, {"fields": ACCOUNT_FIELDS})
            # Insights need ads_read: probe them too, a token may read the account node without it.
            meta.get(f"{account_id}/insights", {"date_preset": "yesterday", "fields": "spend", "limit": "1"})
    except PermanentError as error:
        if error.hint == TOKEN_HINT:
            raise ConnectError(f"The Meta token is invalid or expired: create a new one. ({error})") from error
        if error.hint == PERMISSION_HINT:
            raise ConnectError(f"The Meta token lacks the ads_read permission for {account_id}: create a token "
                               f"with ads_read. ({error})") from error
        raise ConnectError(f"Meta refused {account_id} with this token: is the id right and the account shared "
                           f"with the token's user? ({error})") from error
    except SyncError as error:
        raise ConnectError(f"Meta is not answering right now, try again in a minute. ({error})") from error
    info = AccountInfo(account_id, node.get("name") or "", node.get("currency") or "", node.get("timezone_name") or "",
                       int(node.get("account_status") or 0))
    if not info.currency or not info.iana_timezone:
        raise ConnectError(f"Meta did not return the currency and timezone of {account_id}.")
    if info.account_status == CLOSED:
        raise ConnectError(f"The ad account {account_id} ({info.name}) is closed in Meta.")
    return info


def link_account(*, session: Session, shop_id: int, token: str, info: AccountInfo) -> tuple[int, int]:
    """Save the account with its encrypted token on the shop and queue its backfill; return (account, job) ids."""
    values = dict(shop_id=shop_id, account_id=info.account_id, name=info.name, currency=info.currency,
                  iana_timezone=info.iana_timezone, account_status=info.account_status,
                  access_token_enc=crypto.encrypt(token))
    statement = insert(AdAccount).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["shop_id", "account_id"],
        set_={**{k: statement.excluded[k] for k in values if k not in ("shop_id", "account_id")},
              "updated_at": func.now()},
    ).returning(AdAccount.id)
    account_pk = session.execute(statement).scalar_one()
    job_id, _ = jobs.enqueue(session=session, shop_id=shop_id, source="meta", kind="HISTORICAL_INIT",
                             target=info.account_id)
    jobs.record_event(session=session, level="INFO", shop_id=shop_id, job_id=job_id,
                      message=f"Connected Meta ad account {info.account_id} ({info.name}, {info.currency})")
    return account_pk, job_id
