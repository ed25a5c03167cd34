"""What admins change from Settings: stores, Meta accounts, resyncs, users, agency settings, and the audit trail.

Every write function takes the writer's session (the scheduler role: the web role may not write shops, users
or credentials) and `by`, the admin acting. Callers check `current_user.is_admin` on the server first. Each
write adds its audit row in the same transaction, so a change and its record commit or fail together.
The read functions at the end take the web's session, as the logged-in admin (RLS applies).
"""

import secrets
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Row, delete, func, select, text, update
from sqlalchemy.orm import Session

import settings
from dashboard import accounts
from dashboard.metrics import MER_BASES
from ingest import jobs
from ingest.meta import connect as meta_connect
from ingest.shopify import connect as shopify_connect
from models import (
    LIVE_JOB_STATUSES,
    ROLES,
    AdAccount,
    AgencySettings,
    AuditEntry,
    Shop,
    ShopCredential,
    SyncJob,
    User,
    UserShop,
)

SHOPIFY_RESYNCS = {"incremental": "INCREMENTAL", "full": "HISTORICAL_INIT", "range": "HISTORICAL_INIT"}
META_RESYNCS = {"incremental": "INCREMENTAL", "full": "HISTORICAL_INIT", "range": "HISTORICAL_INIT"}


class AdminError(ValueError):
    """A request that cannot be done; the message is meant for the admin."""


def record(*, session: Session, by: int | None, action: str, shop_id: int | None = None, **details: Any) -> None:
    """Append a line to the audit trail (details must never hold a secret)."""
    session.add(AuditEntry(user_id=by, action=action, shop_id=shop_id, details=details))
    session.flush()


# -- stores ---------------------------------------------------------------------------------------------------


def connect_store(*, session: Session, by: int, domain: str, access_token: str | None = None,
                  client_id: str | None = None, client_secret: str | None = None,
                  webhook_secret: str | None = None) -> Shop:
    """Connect a store with a token or a client ID and secret; raises shopify ConnectError with the reason."""
    shop = shopify_connect.connect_store(
        session=session, domain=domain, access_token=access_token, client_id=client_id,
        client_secret=client_secret, webhook_secret=webhook_secret, granted_to=[by], requested_by=by)
    record(session=session, by=by, action="store.connect", shop_id=shop.id, domain=shop.shop_domain,
           credential="access token" if access_token is not None else "client credentials",
           webhook_secret=bool(webhook_secret))
    return shop


def _shop(session: Session, shop_id: int) -> Shop:
    shop = session.scalar(select(Shop).where(Shop.id == shop_id).with_for_update())
    if shop is None:
        raise AdminError("This store does not exist (any more).")
    return shop


def rename_store(*, session: Session, by: int, shop_id: int, name: str) -> None:
    """Give a store the name the dashboard shows."""
    name = (name or "").strip()
    if not name:
        raise AdminError("The name is empty.")
    shop = _shop(session, shop_id)
    record(session=session, by=by, action="store.rename", shop_id=shop_id, old=shop.name, new=name)
    shop.name, shop.updated_at = name, datetime.now(UTC)


def pause_store(*, session: Session, by: int, shop_id: int) -> None:
    """Stop scheduled syncs of an active store (a running job finishes; data stays)."""
    shop = _shop(session, shop_id)
    if shop.status != "active":
        raise AdminError(f"{shop.name} is {shop.status}, not active.")
    shop.status, shop.status_reason, shop.updated_at = "paused", "Paused by an admin in Settings.", datetime.now(UTC)
    record(session=session, by=by, action="store.pause", shop_id=shop_id)


def resume_store(*, session: Session, by: int, shop_id: int) -> None:
    """Start syncing a paused store again."""
    shop = _shop(session, shop_id)
    if shop.status != "paused":
        raise AdminError(f"{shop.name} is {shop.status}: only a paused store resumes (reconnect a disconnected one).")
    shop.status, shop.status_reason, shop.updated_at = "active", None, datetime.now(UTC)
    record(session=session, by=by, action="store.resume", shop_id=shop_id)


def set_sync_interval(*, session: Session, by: int, shop_id: int, minutes: int) -> None:
    """How often the scheduler queues an INCREMENTAL sync for the store."""
    if int(minutes) not in settings.SYNC_INTERVAL_MINUTES:
        raise AdminError(f"Choose an interval among {', '.join(map(str, settings.SYNC_INTERVAL_MINUTES))} minutes.")
    shop = _shop(session, shop_id)
    record(session=session, by=by, action="store.interval", shop_id=shop_id, old=shop.sync_interval_minutes,
           new=int(minutes))
    shop.sync_interval_minutes, shop.updated_at = int(minutes), datetime.now(UTC)


def disconnect_store(*, session: Session, by: int, shop_id: int, confirm: str, purge: bool = False) -> None:
    """Stop every sync and forget the credentials; with `purge`, delete the store and all its data.

    `confirm` must be the store's domain, typed by the admin.
    """
    shop = _shop(session, shop_id)
    if (confirm or "").strip().lower() != shop.shop_domain:
        raise AdminError(f"Type the store's domain, {shop.shop_domain}, to confirm.")
    cancelled = _cancel_live_jobs(session, shop_id)
    session.execute(delete(ShopCredential).where(ShopCredential.shop_id == shop_id))
    session.execute(update(AdAccount).where(AdAccount.shop_id == shop_id).values(access_token_enc=None))
    if purge:
        record(session=session, by=by, action="store.purge", shop_id=shop_id, domain=shop.shop_domain,
               cancelled_jobs=cancelled)
        # Every tenant table references shops ON DELETE CASCADE; the inbox knows the store by domain only.
        session.execute(text("DELETE FROM staging_ingest.webhook_inbox WHERE shop_domain = :d"),
                        {"d": shop.shop_domain})
        session.delete(shop)
        session.flush()
        return
    shop.status, shop.status_reason = "disconnected", "Disconnected by an admin in Settings; the data is kept."
    shop.updated_at = datetime.now(UTC)
    record(session=session, by=by, action="store.disconnect", shop_id=shop_id, domain=shop.shop_domain,
           cancelled_jobs=cancelled)


def _cancel_live_jobs(session: Session, shop_id: int, *, source: str | None = None, target: str | None = None
                      ) -> list[int]:
    query = select(SyncJob.id).where(SyncJob.shop_id == shop_id, SyncJob.status.in_(LIVE_JOB_STATUSES))
    if source is not None:
        query = query.where(SyncJob.source == source)
    if target is not None:
        query = query.where(SyncJob.target == target)
    ids = list(session.scalars(query))
    for job_id in ids:
        jobs.cancel(session=session, job_id=job_id)
    return ids


# -- resync and cancel ------------------------------------------------------------------------------------------


def resync(*, session: Session, by: int, shop_id: int, source: str, mode: str, target: str = "",
           since: date | None = None, until: date | None = None) -> tuple[int, bool]:
    """Queue an incremental, full or date-range sync; return (job id, created). A live twin is reused."""
    shop = _shop(session, shop_id)
    if shop.status != "active":
        raise AdminError(f"{shop.name} is {shop.status}: resume or reconnect it before a resync.")
    kind, params = _resync_job(session, shop_id, source, mode, target, since, until)
    job_id, created = jobs.enqueue(session=session, shop_id=shop_id, source=source, kind=kind, target=target,
                                   params=params, priority=15, requested_by=by)
    record(session=session, by=by, action="sync.resync", shop_id=shop_id, source=source, mode=mode, target=target,
           job_id=job_id, created=created, **params)
    return job_id, created


def _resync_job(session, shop_id, source, mode, target, since, until) -> tuple[str, dict]:
    """(kind, params) of a resync request, after checking it."""
    kinds = {"shopify": SHOPIFY_RESYNCS, "meta": META_RESYNCS}.get(source)
    if kinds is None or mode not in kinds:
        raise AdminError("Choose a source (Shopify or a Meta ad account) and a kind of resync.")
    if source == "shopify" and target:
        raise AdminError("A Shopify resync has no target.")
    if source == "meta":
        linked = session.scalar(select(AdAccount.access_token_enc).where(AdAccount.shop_id == shop_id,
                                                                         AdAccount.account_id == target))
        if not linked:
            raise AdminError(f"The Meta ad account {target or '(none)'} is not linked to this store with a token.")
    if mode != "range":
        return kinds[mode], {}
    if not since or not until or since > until:
        raise AdminError("Choose a date range: a start on or before its end.")
    if source == "meta":  # Meta's backfill runs from `days` ago to today
        return kinds[mode], {"days": (date.today() - since).days + 1}
    # Shopify's HISTORICAL_INIT takes ISO instants; `until` is inclusive of its whole day.
    return kinds[mode], {"since": f"{since.isoformat()}T00:00:00+00:00", "until": f"{until.isoformat()}T23:59:59+00:00"}


def retry_job(*, session: Session, by: int, job_id: int) -> tuple[int, bool]:
    """Queue a failed job's source, kind and target again; return (job id, created). A live twin is reused."""
    job = session.get(SyncJob, job_id)
    if job is None or job.status != "failed":
        raise AdminError("That job cannot be retried.")
    new_id, created = jobs.enqueue(session=session, shop_id=job.shop_id, source=job.source, kind=job.kind,
                                   target=job.target, params=job.params, requested_by=by)
    record(session=session, by=by, action="sync.retry", shop_id=job.shop_id, job_id=new_id, retried=job_id,
           created=created, source=job.source, kind=job.kind)
    return new_id, created


def cancel_job(*, session: Session, by: int | None, job_id: int) -> str:
    """Cancel a queued job now or a running one at its next checkpoint; return what happened, in words.

    `by` is None from the command line (`flask jobs cancel`).
    """
    job = session.get(SyncJob, job_id)
    if job is None:
        raise AdminError("This job does not exist.")
    status = jobs.cancel(session=session, job_id=job_id)
    record(session=session, by=by, action="sync.cancel", shop_id=job.shop_id, job_id=job_id, kind=job.kind,
           source=job.source, outcome=status or job.status)
    if status == "cancelled":
        return "Cancelled."
    if status == "running":
        return "Cancelling: the job stops at its next checkpoint."
    return f"The job had already {job.status}."


# -- Meta ---------------------------------------------------------------------------------------------------------


def link_ad_accounts(*, session: Session, by: int, shop_id: int, token: str, account_ids: list[str]) -> list[str]:
    """Check a Meta token against each account, then link them all (or replace their token); return the ids.

    Raises meta ConnectError, before saving anything, when Meta refuses one of them.
    """
    _shop(session, shop_id)
    token = (token or "").strip()
    if not token or not account_ids:
        raise AdminError("Give a Meta token and at least one ad account id.")
    found = [meta_connect.validate_account(token, account_id) for account_id in account_ids]
    for info in found:
        meta_connect.link_account(session=session, shop_id=shop_id, token=token, info=info)
    linked = [info.account_id for info in found]
    record(session=session, by=by, action="meta.link", shop_id=shop_id, accounts=linked)
    return linked


def unlink_ad_account(*, session: Session, by: int, shop_id: int, account_id: str) -> None:
    """Unlink an ad account from a store and stop its syncs (its past facts stay)."""
    cancelled = _cancel_live_jobs(session, shop_id, source="meta", target=account_id)
    gone = session.execute(delete(AdAccount).where(AdAccount.shop_id == shop_id, AdAccount.account_id == account_id)
                           ).rowcount
    if not gone:
        raise AdminError(f"{account_id} is not linked to this store.")
    record(session=session, by=by, action="meta.unlink", shop_id=shop_id, account=account_id,
           cancelled_jobs=cancelled)


# -- users --------------------------------------------------------------------------------------------------------


def create_user(*, session: Session, by: int, email: str, role: str, name: str = "",
                password: str | None = None) -> tuple[User, str | None]:
    """Create a user; without a password, invite them with a generated one, returned once (never stored)."""
    email = (email or "").strip()  # accounts.create_user checks the address and the password (user_rules)
    if accounts.get_user_by_email(session=session, email=email) is not None:
        raise AdminError(f"{email} already has an account.")
    generated = None if password else secrets.token_urlsafe(12)
    try:
        user = accounts.create_user(session=session, email=email, password=password or generated, role=role,
                                    name=(name or "").strip())
    except ValueError as error:
        raise AdminError(str(error).capitalize() + ".") from error
    if role == "admin":
        accounts.grant_all_shops(session=session, user_id=user.id)  # admins see every store
    record(session=session, by=by, action="user.create", email=email, role=role, invited=generated is not None,
           user_id=user.id)
    return user, generated


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id, with_for_update=True)
    if user is None:
        raise AdminError("This user does not exist.")
    return user


def set_role(*, session: Session, by: int, user_id: int, role: str) -> None:
    """Make a user an admin or a member; the agency always keeps one active admin."""
    if role not in ROLES:
        raise AdminError(f"The role must be one of {', '.join(ROLES)}.")
    user = _user(session, user_id)
    if user.role == role:
        return
    if user.role == "admin":
        # Lock every admin row so two admins demoting each other at once cannot both succeed.
        admins = session.scalars(select(User.id).where(User.role == "admin", User.is_active).with_for_update()).all()
        if len(admins) <= 1:
            raise AdminError("The agency needs at least one admin: make someone else an admin first.")
    record(session=session, by=by, action="user.role", email=user.email, old=user.role, new=role, user_id=user_id)
    user.role = role
    if role == "admin":
        accounts.grant_all_shops(session=session, user_id=user_id)


def set_grants(*, session: Session, by: int, user_id: int, shop_ids: list[int]) -> tuple[list[int], list[int]]:
    """Make a user's store access exactly `shop_ids`; return (granted, revoked) shop ids."""
    user = _user(session, user_id)
    wanted = {int(s) for s in shop_ids}
    existing = set(session.scalars(select(Shop.id)))
    if wanted - existing:
        raise AdminError("A chosen store does not exist (any more).")
    current = set(session.scalars(select(UserShop.shop_id).where(UserShop.user_id == user_id)))
    granted, revoked = sorted(wanted - current), sorted(current - wanted)
    if revoked and user.role == "admin":
        raise AdminError("Admins see every store: make them a member first to limit their access.")
    accounts.grant_shops(session=session, user_id=user_id, shop_ids=granted)
    if revoked:
        session.execute(delete(UserShop).where(UserShop.user_id == user_id, UserShop.shop_id.in_(revoked)))
    for shop_id in granted:
        record(session=session, by=by, action="user.grant", shop_id=shop_id, email=user.email, user_id=user_id)
    for shop_id in revoked:
        record(session=session, by=by, action="user.revoke", shop_id=shop_id, email=user.email, user_id=user_id)
    return granted, revoked


def sign_out_everywhere(*, session: Session, by: int, user_id: int) -> str:
    """End every session and remember-me cookie of a user; return their e-mail."""
    user = _user(session, user_id)
    accounts.end_sessions(session=session, user_id=user_id)
    record(session=session, by=by, action="user.sign_out", email=user.email, user_id=user_id)
    return user.email


# -- agency -------------------------------------------------------------------------------------------------------


def set_reporting_currency(*, session: Session, by: int, currency: str) -> None:
    """The currency All-stores figures are converted to."""
    currency = (currency or "").strip().upper()
    if currency not in settings.REPORTING_CURRENCIES:
        raise AdminError(f"Choose a currency among {', '.join(settings.REPORTING_CURRENCIES)}.")
    row = session.get(AgencySettings, True, with_for_update=True) or AgencySettings(id=True)
    record(session=session, by=by, action="agency.currency", old=row.reporting_currency, new=currency)
    row.reporting_currency, row.updated_at = currency, datetime.now(UTC)
    session.add(row)


def set_mer_basis(*, session: Session, by: int, basis: str) -> None:
    """Whether MER divides Shopify's sales alone, or all channels' (with uploaded marketplace orders)."""
    if basis not in MER_BASES:
        raise AdminError(f"Choose MER's basis among {', '.join(MER_BASES)}.")
    row = session.get(AgencySettings, True, with_for_update=True) or AgencySettings(id=True)
    record(session=session, by=by, action="agency.mer_basis", old=row.mer_basis, new=basis)
    row.mer_basis, row.updated_at = basis, datetime.now(UTC)
    session.add(row)


# -- reads, as the logged-in admin (web role) ---------------------------------------------------------------------

_STORE_ROWS = """
SELECT s.id AS shop_id, s.shop_domain, s.name, s.status, s.status_reason, s.sync_interval_minutes,
       j.id AS job_id, j.source, j.kind, j.target, j.status AS job_status, j.progress_done, j.progress_total,
       j.progress_label, j.cancel_requested_at IS NOT NULL AS cancelling,
       l.status AS last_status, l.kind AS last_kind, l.error_message AS last_error, l.error_hint AS last_hint,
       l.finished_at AS last_finished_at
FROM app_dashboard.shops s
LEFT JOIN LATERAL (
    SELECT * FROM app_dashboard.sync_jobs WHERE shop_id = s.id AND status IN ('queued', 'running')
    ORDER BY status = 'running' DESC, priority DESC, id LIMIT 1) j ON true
LEFT JOIN LATERAL (
    SELECT * FROM app_dashboard.sync_jobs WHERE shop_id = s.id AND status IN ('succeeded', 'failed', 'cancelled')
    ORDER BY finished_at DESC NULLS LAST, id DESC LIMIT 1) l ON true
ORDER BY lower(s.name), s.id
"""


def list_store_rows(*, session: Session) -> list[Row]:
    """Every store the admin sees, with its most urgent live job and its last finished one."""
    return list(session.execute(text(_STORE_ROWS)))


def list_ad_accounts(*, session: Session) -> list[Row]:
    """Linked Meta ad accounts with their store's name."""
    return list(session.execute(
        select(AdAccount.shop_id, AdAccount.account_id, AdAccount.name, AdAccount.currency, Shop.name.label("shop"))
        .join(Shop, Shop.id == AdAccount.shop_id).order_by(func.lower(Shop.name), AdAccount.account_id)))


def list_users_with_grants(*, session: Session) -> list[tuple[User, list[int]]]:
    """Every user and the ids of the stores they may see."""
    grants: dict[int, list[int]] = {}
    for user_id, shop_id in session.execute(select(UserShop.user_id, UserShop.shop_id).order_by(UserShop.shop_id)):
        grants.setdefault(user_id, []).append(shop_id)
    return [(user, grants.get(user.id, [])) for user in accounts.list_users(session=session)]


def list_audit(*, session: Session, limit: int = settings.AUDIT_ROWS_SHOWN) -> list[Row]:
    """The latest audit lines, newest first, with who did it."""
    return list(session.execute(
        select(AuditEntry.at, AuditEntry.action, AuditEntry.details, User.email, Shop.name.label("shop"))
        .outerjoin(User, User.id == AuditEntry.user_id).outerjoin(Shop, Shop.id == AuditEntry.shop_id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)))


def get_reporting_currency(*, session: Session) -> str:
    """The agency's reporting currency."""
    return session.scalar(select(AgencySettings.reporting_currency)) or "USD"


def get_mer_basis(*, session: Session) -> str:
    """Which sales MER divides (a key of MER_BASES)."""
    return session.scalar(select(AgencySettings.mer_basis)) or "shopify"
