"""The Meta job handlers: HISTORICAL_INIT backfills in checkpointed chunks, INCREMENTAL keeps the recent days fresh."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

import settings
from database import session_scope
from ingest import crypto
from ingest.errors import PermanentError
from ingest.meta import insights, load
from ingest.meta.client import MetaClient
from ingest.runner import JobContext, handler
from models import AdAccount, SyncCursor

RESTATED = "insights_restated"  # sync_cursors resource: the account-local day the trailing window was last pulled


@dataclass(frozen=True)
class Account:
    """An ad account as a job needs it: ids, currency, timezone and the decrypted token."""

    shop_id: int
    account_id: str
    currency: str
    iana_timezone: str
    token: str

    def today(self) -> date:
        """Today in the account's timezone: the dates Meta reports in."""
        return datetime.now(ZoneInfo(self.iana_timezone)).date()


def load_account(ctx: JobContext) -> Account:
    """The job's ad account (its target), or a permanent error asking to reconnect it."""
    with session_scope(ctx.sessions) as session:
        row = session.scalar(select(AdAccount).where(AdAccount.shop_id == ctx.job.shop_id,
                                                     AdAccount.account_id == ctx.job.target))
    if row is None or not row.access_token_enc:
        raise PermanentError(f"Meta ad account {ctx.job.target} is not connected",
                             hint="Reconnect the Meta ad account in Settings.")
    return Account(row.shop_id, row.account_id, row.currency or "", row.iana_timezone or "UTC",
                   crypto.decrypt(row.access_token_enc))


def sync_range(ctx: JobContext, account: Account, client: MetaClient, since: date, until: date) -> int:
    """Fetch and upsert both levels' daily rows for [since, until]; return rows inserted or changed."""
    changed = 0
    for level in insights.LEVELS:
        for page in insights.fetch(client, account.account_id, level=level, since=since, until=until,
                                   today=account.today(), tick=ctx.raise_if_stopping):
            with session_scope(ctx.sessions) as session:
                changed += load.upsert_page(session=session, shop_id=account.shop_id, account_id=account.account_id,
                                            level=level, rows=page, currency=account.currency,
                                            synced_at=datetime.now(UTC))
    return changed


def backfill_plan(state: dict, params: dict, today: date) -> tuple[date, date, date]:
    """(since, until, cursor) from the saved state, or a new plan: the days before `cursor` remain."""
    if "cursor" not in state:
        days = min(int(params.get("days", settings.META_BACKFILL_DAYS)), settings.META_RETENTION_DAYS)
        state.update(since=(today - timedelta(days=days)).isoformat(), until=today.isoformat(),
                     cursor=today.isoformat())
    return tuple(date.fromisoformat(state[k]) for k in ("since", "until", "cursor"))


@handler("meta", "HISTORICAL_INIT")
def historical_init(ctx: JobContext) -> None:
    """Backfill, newest chunk first; the cursor advances only after a chunk is loaded, so a restart resumes it."""
    account = load_account(ctx)
    resumed = "cursor" in ctx.state
    since, until, cursor = backfill_plan(ctx.state, ctx.params, account.today())
    ctx.log("INFO", f"{'Resuming' if resumed else 'Starting'} Meta backfill of {account.account_id}: "
                    f"{since} to {cursor}", since=since.isoformat(), cursor=cursor.isoformat())
    total = (until - since).days + 1
    ctx.checkpoint(done=(until - cursor).days, total=total, label=f"Meta {account.account_id} from {cursor}")
    with MetaClient(account.token) as client:
        for start, stop in insights.chunks(since, cursor, settings.META_CHUNK_DAYS):
            sync_range(ctx, account, client, start, stop)
            ctx.state["cursor"] = (start - timedelta(days=1)).isoformat()
            ctx.state["requests"] = ctx.state.get("requests", 0) + client.requests
            client.requests = 0
            ctx.checkpoint(done=(until - start).days + 1, total=total,
                           label=f"Meta {account.account_id} from {start}")
    # The backfill has just pulled the trailing window: the day's restatement is done.
    save_restated(ctx, account, until)


@handler("meta", "INCREMENTAL")
def incremental(ctx: JobContext) -> None:
    """Today's partial day; on an account-local day's first run, the trailing 28 days again (Meta restates)."""
    account = load_account(ctx)
    today = account.today()
    full = restated_on(ctx, account) != today
    since = today - timedelta(days=settings.META_RESTATEMENT_DAYS) if full else today
    with MetaClient(account.token) as client:
        changed = sync_range(ctx, account, client, since, today)
    if full:
        save_restated(ctx, account, today)
    ctx.state.update(since=since.isoformat(), until=today.isoformat(), changed=changed, requests=client.requests)
    ctx.checkpoint(done=1, total=1, label=f"Meta {account.account_id} {since} to {today}")


def restated_on(ctx: JobContext, account: Account) -> date | None:
    """The account-local day the trailing window was last pulled."""
    with session_scope(ctx.sessions) as session:
        value = session.scalar(select(SyncCursor.cursor_value).where(
            SyncCursor.shop_id == account.shop_id, SyncCursor.source == "meta", SyncCursor.resource == RESTATED,
            SyncCursor.target == account.account_id))
    return date.fromisoformat(value) if value else None


def save_restated(ctx: JobContext, account: Account, day: date) -> None:
    """Remember that the trailing window was pulled on `day`."""
    values = dict(shop_id=account.shop_id, source="meta", resource=RESTATED, target=account.account_id,
                  cursor_value=day.isoformat(), cursor_at=datetime.now(UTC), updated_at=datetime.now(UTC))
    statement = insert(SyncCursor).values(**values)
    with session_scope(ctx.sessions) as session:
        session.execute(statement.on_conflict_do_update(
            index_elements=["shop_id", "source", "resource", "target"],
            set_={k: statement.excluded[k] for k in ("cursor_value", "cursor_at", "updated_at")}))
