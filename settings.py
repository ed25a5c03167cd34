"""Configuration, read once from the environment (and a `.env` file beside this one)."""

import os
import secrets
from pathlib import Path

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent
load_dotenv(ROOT / ".env")


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or default


def _local_secret(name: str, make) -> str:
    """Return a secret kept in VAR_DIR, generating it on first use (embedded default only)."""
    path = VAR_DIR / name
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(make())
    return path.read_text().strip()


def _new_fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


# Where the embedded default keeps its database and generated secrets. Made absolute: the embedded server's
# runtime folder (XDG_RUNTIME_DIR, under VAR_DIR) is ignored with a warning when relative.
VAR_DIR = Path(_env("VAR_DIR", str(ROOT / "var"))).resolve()

# The owner/migration connection. Unset means the embedded default (`python app.py`).
DATABASE_URL = _env("DATABASE_URL")
# Optional separate login for the web role; without it the web uses DATABASE_URL and
# switches to the web role (SET LOCAL ROLE) in every transaction.
WEB_DATABASE_URL = _env("WEB_DATABASE_URL")
EMBEDDED = DATABASE_URL is None

WEB_ROLE = "dashboard_web"
SCHEDULER_ROLE = "dashboard_scheduler"

# Secrets: required from the environment in production, generated into VAR_DIR when embedded.
SECRET_KEY = _env("SECRET_KEY") or (
    _local_secret("flask-secret-key", lambda: secrets.token_urlsafe(48)) if EMBEDDED else None
)
# Comma-separated Fernet keys, newest first; older keys still decrypt (rotation).
TOKEN_ENCRYPTION_KEYS = _env("TOKEN_ENCRYPTION_KEYS") or (
    _local_secret("token-encryption-key", _new_fernet_key) if EMBEDDED else None
)

HOST = _env("HOST", "127.0.0.1")
PORT = int(_env("PORT", "8050"))
# The embedded default's simulated Shopify and Meta (sandbox/), on loopback.
SANDBOX_PORT = int(_env("SANDBOX_PORT", "8081"))
SANDBOX_STORES = int(_env("SANDBOX_STORES", "3"))
SANDBOX_SEED = int(_env("SANDBOX_SEED", "1"))
# The agency's own timezone: what "today" means for All stores.
REPORTING_TIMEZONE = _env("REPORTING_TIMEZONE", "UTC")
LOG_FORMAT = _env("LOG_FORMAT", "text")  # "json" for structured lines
LOG_LEVEL = _env("LOG_LEVEL", "INFO")
# `python app.py` (the embedded default) logs here and keeps its console to a few lines and the warnings.
LOG_FILE = Path(_env("LOG_FILE", str(VAR_DIR / "log" / "app.log")))
# Cookies marked Secure: on by default in production (HTTPS), off for the embedded default on loopback.
SECURE_COOKIES = _env("SECURE_COOKIES", "0" if EMBEDDED else "1") == "1"

# Login throttling, per e-mail and client address: after LOGIN_FREE_FAILURES failures that address waits before
# its next try on that e-mail, DELAY seconds doubling up to DELAY_MAX. Failures a day old are forgotten.
LOGIN_FREE_FAILURES = int(_env("LOGIN_FREE_FAILURES", "5"))
LOGIN_DELAY_SECONDS = int(_env("LOGIN_DELAY_SECONDS", "60"))
LOGIN_DELAY_MAX_SECONDS = int(_env("LOGIN_DELAY_MAX_SECONDS", "3600"))
# An e-mail with this many failures in the last hour, from all addresses together, is tried only from
# addresses it has logged in from in the last REMEMBER_DAYS: guessing from many addresses stops there.
LOGIN_ACCOUNT_FAILURES_PER_HOUR = int(_env("LOGIN_ACCOUNT_FAILURES_PER_HOUR", "50"))
# Login attempts one client address may make, whatever the e-mail (Flask-Limiter's notation). Refused before any
# password is checked, so a flood costs the server next to nothing.
LOGIN_LIMIT_PER_ADDRESS = _env("LOGIN_LIMIT_PER_ADDRESS", "20 per minute;200 per hour")
# Where Flask-Limiter keeps its counts: memory is per process (see README, Deploy); redis:// and memcached:// URIs
# share them between gunicorn workers.
RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "memory://")
# How many reverse proxies stand in front of the web and append to X-Forwarded-For (0: none; clients connect
# directly). The client address that throttling counts by is taken from that header only when this is set.
PROXY_COUNT = int(_env("PROXY_COUNT", "0"))
# "Remember me" keeps a user signed in this many days at most; so does any session.
REMEMBER_DAYS = int(_env("REMEMBER_DAYS", "30"))

# The largest request body each kind of route accepts, refused with 413 before it is read: Shopify's webhooks,
# Dash's callbacks, and everything else (the login form and other small forms).
WEBHOOK_MAX_BYTES = int(_env("WEBHOOK_MAX_BYTES", str(5 * 1024 * 1024)))
CALLBACK_MAX_BYTES = int(_env("CALLBACK_MAX_BYTES", str(256 * 1024)))
FORM_MAX_BYTES = int(_env("FORM_MAX_BYTES", str(64 * 1024)))

# The job queue and the scheduler process.
SCHEDULER_THREADS = int(_env("SCHEDULER_THREADS", "4"))
JOB_POLL_SECONDS = float(_env("JOB_POLL_SECONDS", "2"))
JOB_LEASE_SECONDS = float(_env("JOB_LEASE_SECONDS", "60"))
JOB_HEARTBEAT_SECONDS = float(_env("JOB_HEARTBEAT_SECONDS", "15"))
JOB_REAP_SECONDS = float(_env("JOB_REAP_SECONDS", "15"))
JOB_MAX_ATTEMPTS = int(_env("JOB_MAX_ATTEMPTS", "5"))
JOB_BACKOFF_BASE_SECONDS = float(_env("JOB_BACKOFF_BASE_SECONDS", "30"))
JOB_BACKOFF_MAX_SECONDS = float(_env("JOB_BACKOFF_MAX_SECONDS", "3600"))
# SIGTERM: running handlers get this long to checkpoint before leases are released and we exit.
SHUTDOWN_GRACE_SECONDS = float(_env("SHUTDOWN_GRACE_SECONDS", "20"))
# A scheduler unseen for this long is reported as not running.
SCHEDULER_STALE_SECONDS = float(_env("SCHEDULER_STALE_SECONDS", "60"))

# The status page and the navbar indicator: poll fast while a job is queued or running, slowly otherwise.
STATUS_FAST_POLL_SECONDS = float(_env("STATUS_FAST_POLL_SECONDS", "2"))
STATUS_SLOW_POLL_SECONDS = float(_env("STATUS_SLOW_POLL_SECONDS", "30"))
# A source is "delayed" when its last success is older than this many sync intervals.
STATUS_DELAYED_FACTOR = float(_env("STATUS_DELAYED_FACTOR", "2"))
STATUS_HISTORY_LIMIT = int(_env("STATUS_HISTORY_LIMIT", "50"))
# Status badges look at each store's latest this many jobs (and every live one).
STATUS_JOBS_WINDOW = int(_env("STATUS_JOBS_WINDOW", "500"))
STATUS_EVENTS_LIMIT = int(_env("STATUS_EVENTS_LIMIT", "100"))

# Shopify Admin API. The version is pinned here and nowhere else; Shopify supports each for about a year.
SHOPIFY_API_VERSION = _env("SHOPIFY_API_VERSION", "2026-01")
SHOPIFY_API_VERSION_RETIRES = _env("SHOPIFY_API_VERSION_RETIRES", "2027-01-01")
# The status page warns this many days before the pinned version retires.
SHOPIFY_API_WARN_DAYS = int(_env("SHOPIFY_API_WARN_DAYS", "90"))
# Where a shop's Admin API lives ({shop} is the myshopify domain). Embedded: the sandbox on loopback.
_SHOPIFY_HOST = f"http://127.0.0.1:{SANDBOX_PORT}/shopify/{{shop}}" if EMBEDDED else "https://{shop}"
SHOPIFY_ADMIN_URL = _env("SHOPIFY_ADMIN_URL", _SHOPIFY_HOST + "/admin/api/{version}/graphql.json")
SHOPIFY_OAUTH_URL = _env("SHOPIFY_OAUTH_URL", _SHOPIFY_HOST + "/admin/oauth/{endpoint}")
# A public app's credentials, for the OAuth install flow (optional: custom-app tokens need none).
SHOPIFY_API_KEY = _env("SHOPIFY_API_KEY")
SHOPIFY_API_SECRET = _env("SHOPIFY_API_SECRET")
SHOPIFY_SCOPES = ("read_orders", "read_all_orders", "read_customers", "read_products")
SHOPIFY_TIMEOUT_SECONDS = float(_env("SHOPIFY_TIMEOUT_SECONDS", "30"))
# Renew expiring tokens this long before they expire.
SHOPIFY_TOKEN_RENEW_SECONDS = float(_env("SHOPIFY_TOKEN_RENEW_SECONDS", "600"))
# How old a signed OAuth query from Shopify may be (Shopify's own library allows 90 s).
SHOPIFY_HMAC_TOLERANCE_SECONDS = float(_env("SHOPIFY_HMAC_TOLERANCE_SECONDS", "90"))
# The webhooks a connected store sends us. The compliance topics (customers/data_request, customers/redact,
# shop/redact) cannot be subscribed through the API: they are declared in the app's shopify.app.toml.
SHOPIFY_WEBHOOK_TOPICS = ("ORDERS_CREATE", "ORDERS_UPDATED", "ORDERS_DELETE", "REFUNDS_CREATE", "APP_UNINSTALLED")
# Bulk operations: how many at once per shop (Shopify allows 5 from 2026-01; leave room for other apps),
# how often to poll them (first after FIRST_POLL seconds, doubling up to POLL: a small operation is done in
# a moment, a large one takes minutes), and how many orders one operation covers at most (the history is
# cut into date slices of at most that many orders, so a small store is one operation per part).
SHOPIFY_BULK_CONCURRENCY = int(_env("SHOPIFY_BULK_CONCURRENCY", "3"))
SHOPIFY_BULK_FIRST_POLL_SECONDS = float(_env("SHOPIFY_BULK_FIRST_POLL_SECONDS", "0.05"))
SHOPIFY_BULK_POLL_SECONDS = float(_env("SHOPIFY_BULK_POLL_SECONDS", "1" if EMBEDDED else "5"))
SHOPIFY_BULK_SLICE_ORDERS = int(_env("SHOPIFY_BULK_SLICE_ORDERS", "100000"))
SHOPIFY_BULK_ATTEMPTS = int(_env("SHOPIFY_BULK_ATTEMPTS", "3"))
# Lines per COPY into staging, and lines per promotion statement (progress is saved between them).
LOAD_COPY_BYTES = int(_env("LOAD_COPY_BYTES", str(8 * 1024 * 1024)))
LOAD_PROMOTE_LINES = int(_env("LOAD_PROMOTE_LINES", "50000"))
# Landed lines, quarantined lines and drained webhooks are kept this long for replays, then pruned hourly.
STAGING_KEEP_DAYS = int(_env("STAGING_KEEP_DAYS", "14"))
# RECENT loads this many days at once on connect; INCREMENTAL re-reads this overlap before its cursor.
SHOPIFY_RECENT_DAYS = int(_env("SHOPIFY_RECENT_DAYS", "3"))
# A backfill starts its bulk operations once the store's RECENT is done, or after this long at most.
SHOPIFY_RECENT_HEAD_START_SECONDS = float(_env("SHOPIFY_RECENT_HEAD_START_SECONDS", "30"))
SHOPIFY_OVERLAP_SECONDS = float(_env("SHOPIFY_OVERLAP_SECONDS", "600"))
# More changed orders than this are fetched by a bulk query rather than page by page: an order with its
# lines and sales costs ~200 points, so paging is for the steady trickle, not for a backlog.
SHOPIFY_PAGED_MAX_ORDERS = int(_env("SHOPIFY_PAGED_MAX_ORDERS", "25"))
# The public base URL Shopify delivers webhooks to (POST {base}/webhooks/shopify).
WEBHOOK_BASE_URL = _env("WEBHOOK_BASE_URL", f"http://{HOST}:{PORT}" if EMBEDDED else None)

# Meta Marketing API (ingest/meta). The version is pinned here and nowhere else.
META_API_VERSION = _env("META_API_VERSION", "v26.0")
# The embedded default talks to the sandbox's Meta; production to Meta's Graph API.
META_GRAPH_URL = _env("META_GRAPH_URL", f"http://127.0.0.1:{SANDBOX_PORT}/meta" if EMBEDDED
                      else "https://graph.facebook.com")
# When Meta retires the pinned version. v26.0 was released 2026-07-29 and its row says "Available until TBD"
# (developers.facebook.com/docs/graph-api/changelog/versions, reference/meta.md section 1). Marketing API
# versions have lived about a year (v23.0: 2025-05-29 to 2026-06-09, v24.0: 2025-10-08 to 2026-10-06, from the
# Marketing API versions table), so this is release + 1 year until Meta publishes the date: then set it.
META_API_RETIRES_ON = _env("META_API_RETIRES_ON", "2027-07-29")
# The status page warns this many days before the pinned version retires.
META_API_WARN_DAYS = int(_env("META_API_WARN_DAYS", "90"))
META_HTTP_TIMEOUT_SECONDS = float(_env("META_HTTP_TIMEOUT_SECONDS", "60"))
# Transient errors (codes 1, 2, 5xx) are retried this many times in the client, then by the job queue.
META_HTTP_RETRIES = int(_env("META_HTTP_RETRIES", "3"))
META_HTTP_BACKOFF_SECONDS = float(_env("META_HTTP_BACKOFF_SECONDS", "2"))
# Slow down when a usage header passes SLOW (a pause growing up to PAUSE seconds) and stop (the job
# waits in the queue) at STOP, before Meta's 100 % throttles us (Airbyte stops at 90 %, Meltano at 75 %).
META_USAGE_SLOW_PCT = float(_env("META_USAGE_SLOW_PCT", "75"))
META_USAGE_STOP_PCT = float(_env("META_USAGE_STOP_PCT", "95"))
META_USAGE_PAUSE_SECONDS = float(_env("META_USAGE_PAUSE_SECONDS", "10"))
# A throttled call whose error and headers name no wait backs off this long.
META_THROTTLE_DEFAULT_SECONDS = float(_env("META_THROTTLE_DEFAULT_SECONDS", "60"))
META_PAGE_LIMIT = int(_env("META_PAGE_LIMIT", "500"))
# Backfill: from this many days ago, in chunks of CHUNK days; chunks longer than SYNC_MAX days run as
# asynchronous report runs, polled every POLL seconds (doubling, capped) for at most ASYNC_TIMEOUT seconds.
META_BACKFILL_DAYS = int(_env("META_BACKFILL_DAYS", "730"))
META_CHUNK_DAYS = int(_env("META_CHUNK_DAYS", "90"))
META_SYNC_MAX_DAYS = int(_env("META_SYNC_MAX_DAYS", "31"))
META_POLL_SECONDS = float(_env("META_POLL_SECONDS", "0.2" if EMBEDDED else "2"))  # the sandbox answers at once
META_POLL_MAX_SECONDS = float(_env("META_POLL_MAX_SECONDS", "30"))
META_ASYNC_TIMEOUT_SECONDS = float(_env("META_ASYNC_TIMEOUT_SECONDS", "3600"))
# Meta keeps 37 months of insights (error 3018 beyond); 1123 days is Airbyte's safe floor for that.
META_RETENTION_DAYS = int(_env("META_RETENTION_DAYS", "1123"))
# Meta restates conversions for 28 days, so every day the trailing 28 days are pulled again.
META_RESTATEMENT_DAYS = int(_env("META_RESTATEMENT_DAYS", "28"))
# How often today's partial day is pulled (the scheduler looks for due accounts every SCHEDULE seconds).
META_INCREMENTAL_SECONDS = float(_env("META_INCREMENTAL_SECONDS", "3600"))
META_SCHEDULE_SECONDS = float(_env("META_SCHEDULE_SECONDS", "60"))

# The scheduler drains the webhook inbox this often, at most this many deliveries a run.
WEBHOOK_DRAIN_SECONDS = float(_env("WEBHOOK_DRAIN_SECONDS", "2"))
WEBHOOK_DRAIN_LIMIT = int(_env("WEBHOOK_DRAIN_LIMIT", "200"))
# After a passing failure (Shopify 5xx), a shop's deliveries wait this long before the next try.
WEBHOOK_RETRY_SECONDS = float(_env("WEBHOOK_RETRY_SECONDS", "30"))
# shop/redact erases a store only once it has been disconnected this long (Shopify sends it 48 hours after an
# uninstall), so a replayed body under a forged topic cannot erase an active store.
SHOP_REDACT_AFTER_HOURS = float(_env("SHOP_REDACT_AFTER_HOURS", "48"))
# How often the scheduler queues INCREMENTAL syncs for the stores whose interval has passed.
SHOPIFY_ENQUEUE_SECONDS = float(_env("SHOPIFY_ENQUEUE_SECONDS", "30"))

# Settings page (admins): how many audit rows it shows, how often it polls while a job runs, and the choices
# it offers.
AUDIT_ROWS_SHOWN = 50
SETTINGS_POLL_MS = int(_env("SETTINGS_POLL_MS", "2000"))
SYNC_INTERVAL_MINUTES = (5, 10, 15, 30, 60, 180, 360, 720, 1440)
REPORTING_CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD", "NZD", "CHF", "SEK", "NOK", "DKK", "PLN", "JPY")

# Dated FX rates in the European Central Bank's reference-rate CSV format (ingest/fx.py): the scheduler loads
# them from this URL every FX_REFRESH_SECONDS when it is set (a URL serving that CSV, unzipped). The embedded
# default reads the sandbox's file.
FX_RATES_URL = _env("FX_RATES_URL", f"http://127.0.0.1:{SANDBOX_PORT}/sandbox/ecb/eurofxref-hist.csv"
                    if EMBEDDED else None)
FX_REFRESH_SECONDS = float(_env("FX_REFRESH_SECONDS", "21600"))
FX_TIMEOUT_SECONDS = float(_env("FX_TIMEOUT_SECONDS", "30"))

# CSV uploads (ingest/uploads): the largest file accepted (refused before anything is stored), where kept files
# live (one folder per store, named by their SHA-256), rows COPY sends at once, how far a payout may differ
# from its order before the reconciliation calls it a difference, and how many bad rows the CLI prints.
UPLOAD_MAX_BYTES = int(_env("UPLOAD_MAX_BYTES", str(200 * 1024 * 1024)))
UPLOAD_DIR = Path(_env("UPLOAD_DIR", str(VAR_DIR / "uploads"))).resolve()
UPLOAD_COPY_ROWS = int(_env("UPLOAD_COPY_ROWS", "50000"))
RECONCILE_TOLERANCE = float(_env("RECONCILE_TOLERANCE", "0.01"))
UPLOAD_SHOWN_REJECTS = int(_env("UPLOAD_SHOWN_REJECTS", "10"))
