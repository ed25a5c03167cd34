"""SQLAlchemy 2 typed models of the app_dashboard schema (the migrations are the source of truth)."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

APP = "app_dashboard"

ROLES = ("admin", "member")
SHOP_STATUSES = ("active", "paused", "disconnected")
SOURCES = ("shopify", "meta", "upload")
JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
LIVE_JOB_STATUSES = ("queued", "running")
EVENT_LEVELS = ("INFO", "WARN", "ERROR")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    pass


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class User(Base):
    """A person who logs in: agency staff (admin) or a marketer (member)."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="users_role_check"),
        Index("users_email_key", text("lower(email)"), unique=True),
        {"schema": APP},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    email: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text, server_default="")
    # Deferred: the web role may not read it (app_dashboard.check_password compares it in the database).
    password_hash: Mapped[str] = mapped_column(Text, deferred=True)
    role: Mapped[str] = mapped_column(Text, server_default="member")
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # Part of every session and remember-me cookie: bumping it ends them all.
    session_version: Mapped[int] = mapped_column(Integer, server_default="1")
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()


class LoginAttempt(Base):
    """Failed logins for one e-mail (as typed, known or not) from one client address, and when it may try again."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("login_attempts_updated_idx", "updated_at"), {"schema": APP})

    email: Mapped[str] = mapped_column(Text, primary_key=True)
    address: Mapped[str] = mapped_column(Text, primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    retry_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    succeeded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # its last login from here


class Shop(Base):
    """A connected Shopify store."""

    __tablename__ = "shops"
    __table_args__ = (
        CheckConstraint(_in("status", SHOP_STATUSES), name="shops_status_check"),
        {"schema": APP},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    shop_domain: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(Text)
    iana_timezone: Mapped[str] = mapped_column(Text)
    plan: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="active")
    shopify_gid: Mapped[str | None] = mapped_column(Text)
    sync_interval_minutes: Mapped[int] = mapped_column(Integer, server_default="10")
    # Why the shop is paused or disconnected, in words the status page shows.
    status_reason: Mapped[str | None] = mapped_column(Text)
    shopify_order_count: Mapped[int | None] = mapped_column(BigInteger)
    warehouse_order_count: Mapped[int | None] = mapped_column(BigInteger)
    completeness_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set by a trigger when the status becomes 'disconnected': shop/redact may erase only 48 hours later.
    disconnected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class UserShop(Base):
    """A grant: this user may see this shop."""

    __tablename__ = "user_shops"
    __table_args__ = ({"schema": APP},)

    user_id: Mapped[int] = mapped_column(ForeignKey(f"{APP}.users.id", ondelete="CASCADE"), primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey(f"{APP}.shops.id", ondelete="CASCADE"), primary_key=True)
    granted_at: Mapped[datetime] = _now()


class ShopCredential(Base):
    """How we authenticate to a shop; every secret is Fernet-encrypted (ingest.crypto)."""

    __tablename__ = "shop_credentials"
    __table_args__ = (
        CheckConstraint(
            _in("kind", ("admin_token", "client_credentials", "oauth")), name="shop_credentials_kind_check"
        ),
        {"schema": APP},
    )

    shop_id: Mapped[int] = mapped_column(ForeignKey(f"{APP}.shops.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    access_token_enc: Mapped[str] = mapped_column(Text)
    refresh_token_enc: Mapped[str | None] = mapped_column(Text)
    client_id: Mapped[str | None] = mapped_column(Text)
    client_secret_enc: Mapped[str | None] = mapped_column(Text)
    scopes: Mapped[str] = mapped_column(Text, server_default="")
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refresh_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The secret Shopify signs webhooks with, when it is not the client secret (a custom app's API secret).
    webhook_secret_enc: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = _now()


class WebhookKey(Base):
    """A shop's webhook signing key, readable by no role: app_dashboard.verify_webhook uses it."""

    __tablename__ = "webhook_keys"
    __table_args__ = ({"schema": APP},)

    shop_id: Mapped[int] = mapped_column(ForeignKey(f"{APP}.shop_credentials.shop_id", ondelete="CASCADE"),
                                         primary_key=True)
    key: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = _now()


class AdAccount(Base):
    """A Meta ad account linked to a shop."""

    __tablename__ = "ad_accounts"
    __table_args__ = (
        Index("ad_accounts_shop_account_key", "shop_id", "account_id", unique=True),
        {"schema": APP},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey(f"{APP}.shops.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text, server_default="")
    currency: Mapped[str | None] = mapped_column(Text)
    iana_timezone: Mapped[str | None] = mapped_column(Text)
    account_status: Mapped[int | None] = mapped_column(Integer)
    access_token_enc: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class SyncJob(Base):
    """One unit of sync work, claimed by a scheduler under a lease (see ingest.jobs)."""

    __tablename__ = "sync_jobs"
    __table_args__ = (
        CheckConstraint(_in("source", SOURCES), name="sync_jobs_source_check"),
        CheckConstraint(_in("status", JOB_STATUSES), name="sync_jobs_status_check"),
        Index(
            "sync_jobs_one_live_key",
            "shop_id",
            "source",
            "kind",
            "target",
            unique=True,
            postgresql_where=text(_in("status", LIVE_JOB_STATUSES)),
        ),
        Index(
            "sync_jobs_due_idx",
            text("priority DESC"),
            "run_after",
            "id",
            postgresql_where=text("status = 'queued'"),
        ),
        Index("sync_jobs_lease_idx", "lease_expires_at", postgresql_where=text("status = 'running'")),
        Index("sync_jobs_shop_idx", "shop_id", text("id DESC")),
        Index("sync_jobs_success_idx", "shop_id", "source", text("finished_at DESC"),
              postgresql_where=text("status = 'succeeded'")),
        {"schema": APP},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey(f"{APP}.shops.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    # What within the shop, when a source has several (e.g. a Meta ad account); '' otherwise.
    target: Mapped[str] = mapped_column(Text, server_default="")
    status: Mapped[str] = mapped_column(Text, server_default="queued")
    priority: Mapped[int] = mapped_column(Integer, server_default="0")
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    run_after: Mapped[datetime] = _now()
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    max_attempts: Mapped[int] = mapped_column(Integer, server_default="5")
    lease_owner: Mapped[str | None] = mapped_column(Text)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    progress_done: Mapped[int] = mapped_column(BigInteger, server_default="0")
    progress_total: Mapped[int | None] = mapped_column(BigInteger)
    progress_label: Mapped[str] = mapped_column(Text, server_default="")
    state: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    error_class: Mapped[str | None] = mapped_column(Text)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_hint: Mapped[str | None] = mapped_column(Text)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey(f"{APP}.users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _now()
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = _now()


class SyncCursor(Base):
    """Where an incremental sync resumes, per shop, source, resource and target."""

    __tablename__ = "sync_cursors"
    __table_args__ = ({"schema": APP},)

    shop_id: Mapped[int] = mapped_column(ForeignKey(f"{APP}.shops.id", ondelete="CASCADE"), primary_key=True)
    source: Mapped[str] = mapped_column(Text, primary_key=True)
    resource: Mapped[str] = mapped_column(Text, primary_key=True)
    target: Mapped[str] = mapped_column(Text, primary_key=True, server_default="")
    cursor_value: Mapped[str | None] = mapped_column(Text)
    cursor_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = _now()


class SyncEvent(Base):
    """A line of the live event log."""

    __tablename__ = "sync_events"
    __table_args__ = (
        CheckConstraint(_in("level", EVENT_LEVELS), name="sync_events_level_check"),
        Index("sync_events_shop_idx", "shop_id", text("id DESC")),
        Index("sync_events_job_idx", "job_id"),
        {"schema": APP},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey(f"{APP}.shops.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey(f"{APP}.sync_jobs.id", ondelete="SET NULL"))
    level: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = _now()


class SchedulerHeartbeat(Base):
    """A running scheduler process, as last seen."""

    __tablename__ = "scheduler_heartbeats"
    __table_args__ = ({"schema": APP},)

    instance_id: Mapped[str] = mapped_column(Text, primary_key=True)
    hostname: Mapped[str] = mapped_column(Text)
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = _now()
    last_seen_at: Mapped[datetime] = _now()
    jobs_running: Mapped[int] = mapped_column(Integer, server_default="0")
    stopping: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class AuditEntry(Base):
    """A line of the admins' audit trail: who changed what, when (never a secret in `details`)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("audit_log_at_idx", text("at DESC"), text("id DESC")),
        {"schema": APP},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = _now()
    user_id: Mapped[int | None] = mapped_column(ForeignKey(f"{APP}.users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(Text)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey(f"{APP}.shops.id", ondelete="SET NULL"))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class AgencySettings(Base):
    """The agency's own settings: one row."""

    __tablename__ = "agency_settings"
    __table_args__ = (
        CheckConstraint("id", name="agency_settings_one_row"),
        CheckConstraint("reporting_currency ~ '^[A-Z]{3}$'", name="agency_settings_currency_check"),
        CheckConstraint("mer_basis IN ('shopify', 'all_channels')", name="agency_settings_mer_basis_check"),
        {"schema": APP},
    )

    id: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default=text("true"))
    reporting_currency: Mapped[str] = mapped_column(Text, server_default="USD")
    mer_basis: Mapped[str] = mapped_column(Text, server_default="shopify")  # MER_BASES: which sales MER divides
    updated_at: Mapped[datetime] = _now()


UPLOAD_KINDS = ("marketplace-orders", "payouts")
BATCH_STATUSES = ("received", "parsing", "loaded", "partially_loaded", "failed", "replaced")
UPLOAD_STEPS = ("received", "parsed", "loaded", "reconciled", "replaced", "failed")


class UploadBatch(Base):
    """One uploaded CSV file for a store: kept with its SHA-256, loaded through the sync_jobs queue."""

    __tablename__ = "upload_batches"
    __table_args__ = (
        CheckConstraint(_in("kind", UPLOAD_KINDS), name="upload_batches_kind_check"),
        CheckConstraint(_in("status", BATCH_STATUSES), name="upload_batches_status_check"),
        Index("upload_batches_file_key", "shop_id", "kind", "sha256", unique=True,
              postgresql_where=text("status <> 'failed'")),
        Index("upload_batches_shop_idx", "shop_id", "id"),
        {"schema": APP},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey(f"{APP}.shops.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="received")
    filename: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str] = mapped_column(Text)
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey(f"{APP}.sync_jobs.id", ondelete="SET NULL"))
    rows_total: Mapped[int | None] = mapped_column(BigInteger)
    rows_loaded: Mapped[int | None] = mapped_column(BigInteger)
    rows_rejected: Mapped[int | None] = mapped_column(BigInteger)
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    replaced_by: Mapped[int | None] = mapped_column(ForeignKey(f"{APP}.upload_batches.id", ondelete="SET NULL"))
    error: Mapped[str | None] = mapped_column(Text)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey(f"{APP}.users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class UploadLogEntry(Base):
    """A step of a batch's processing (received, parsed, loaded, reconciled, ...), kept for audit."""

    __tablename__ = "upload_log"
    __table_args__ = (
        CheckConstraint(_in("step", UPLOAD_STEPS), name="upload_log_step_check"),
        Index("upload_log_batch_idx", "batch_id", "id"),
        {"schema": APP},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey(f"{APP}.upload_batches.id", ondelete="CASCADE"))
    shop_id: Mapped[int] = mapped_column(ForeignKey(f"{APP}.shops.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = _now()
    rows: Mapped[int | None] = mapped_column(BigInteger)
    good: Mapped[int | None] = mapped_column(BigInteger)
    bad: Mapped[int | None] = mapped_column(BigInteger)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
