"""The web process: `create_app()` builds Flask + Dash; `python app.py` runs the embedded default.

`gunicorn app:server` serves it in production (DATABASE_URL set). `python app.py` with no
DATABASE_URL starts an embedded PostgreSQL under ./var, migrates, creates a demo admin, runs the
scheduler in this process and serves http://127.0.0.1:8050.
"""

import logging
import os
import secrets
import signal
import sys
from datetime import timedelta
from pathlib import Path

from flask import Flask, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.serving import make_server

import cli
import embedded
import logs
import settings
from dashboard import auth, create_dash, db, health, shopify_oauth, sync_api, uploads_api, webhooks
from database import current_revision, migrate, scheduler_sessionmaker, session_scope, web_sessionmaker

log = logging.getLogger("app")
DEMO_ADMIN = "admin@example.com"


def create_app(config: dict | None = None) -> Flask:
    """Create and configure the Flask server with the Dash app mounted on it."""
    server = Flask(__name__, static_folder=None)
    server.config.from_mapping(
        SECRET_KEY=settings.SECRET_KEY,
        DATABASE_URL=settings.DATABASE_URL,
        WEB_DATABASE_URL=settings.WEB_DATABASE_URL,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.SECURE_COOKIES,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.SECURE_COOKIES,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_DURATION=timedelta(days=settings.REMEMBER_DAYS),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        LOGIN_LIMIT_PER_ADDRESS=settings.LOGIN_LIMIT_PER_ADDRESS,
        PROXY_COUNT=settings.PROXY_COUNT,
        RATELIMIT_STORAGE_URI=settings.RATELIMIT_STORAGE_URI,
        MAX_CONTENT_LENGTH=settings.FORM_MAX_BYTES,
        BODY_LIMITS={"webhooks.shopify": settings.WEBHOOK_MAX_BYTES,
                     "/_dash-update-component": settings.CALLBACK_MAX_BYTES},
    )
    server.config.update(config or {})
    if not server.config["SECRET_KEY"]:
        raise RuntimeError("SECRET_KEY is not set (see the configuration table in README.md).")
    if server.config["PROXY_COUNT"]:  # the client's address is the one the nearest proxy saw
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=server.config["PROXY_COUNT"])
    server.before_request(limit_body)  # first: nothing may read a body before its limit is set
    db.init_app(server, web_sessionmaker(_web_url(server.config)))
    auth.init_app(server)
    server.register_blueprint(health.bp)
    server.register_blueprint(shopify_oauth.bp)
    server.register_blueprint(sync_api.bp)
    uploads_api.init_app(server)
    webhooks.init_app(server)
    create_dash(server)
    cli.init_app(server)
    return server


def limit_body():
    """Refuse a body larger than its route accepts with 413, before reading it.

    The limit is MAX_CONTENT_LENGTH (forms) unless BODY_LIMITS names the endpoint. A body announced larger is
    refused unread. A chunked body announces no length: it is read up to the limit, and refused if more follows.
    """
    request.max_content_length = current_app.config["BODY_LIMITS"].get(request.endpoint,
                                                                        current_app.config["MAX_CONTENT_LENGTH"])
    if request.content_length is not None and request.content_length > request.max_content_length:
        raise RequestEntityTooLarge()
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        request.get_data()  # werkzeug stops reading at the limit, silently: look past it
        if request.environ["wsgi.input"].read(1):
            raise RequestEntityTooLarge()


def _web_url(config) -> str:
    """The web's login: WEB_DATABASE_URL, else the embedded server's socket as the web role itself."""
    if config["WEB_DATABASE_URL"]:
        return config["WEB_DATABASE_URL"]
    if config["DATABASE_URL"]:
        return config["DATABASE_URL"]  # one shared login: the web switches role per transaction
    return embedded.with_user(embedded.default_url(), settings.WEB_ROLE)


def __getattr__(name: str):
    # `gunicorn app:server` reads this; importing the module alone builds nothing.
    if name == "server":
        return create_app()
    raise AttributeError(name)


def ensure_demo_admin(url: str) -> str | None:
    """On first start, create an admin and return its password (shown once); None when users exist."""
    from dashboard import accounts

    with session_scope(scheduler_sessionmaker(url)) as session:
        if accounts.list_users(session=session):
            return None
        password = secrets.token_urlsafe(12)
        accounts.create_user(session=session, email=DEMO_ADMIN, password=password, role="admin", name="Demo admin")
    log.info("demo admin %s created", DEMO_ADMIN)  # the password goes to the console only, never to the log file
    return password


def start_sandbox():
    """The demo stores' Shopify and Meta APIs, over real HTTP on loopback (the embedded default only)."""
    from sandbox.server import SandboxServer, build_world

    world = build_world(stores=settings.SANDBOX_STORES, seed=settings.SANDBOX_SEED)
    return SandboxServer(world, port=settings.SANDBOX_PORT).start()


def connect_demo_stores(sessions, sandbox_url: str) -> list[str]:
    """Connect the sandbox's stores not yet connected, and their Meta ad accounts, through the normal connect
    paths; return their domains.

    The first store uses its client ID and secret (client credentials grant), the others their custom-app
    token with the client secret as webhook secret, so the demo exercises both kinds.
    """
    import requests
    from sqlalchemy import select

    from ingest.meta import connect as meta_connect
    from ingest.shopify.connect import ConnectError, connect_store
    from models import Shop, ShopCredential

    stores = requests.get(f"{sandbox_url}/sandbox/stores", timeout=30).json()
    connected = []
    for number, store in enumerate(stores):
        with session_scope(sessions) as session:
            known = select(ShopCredential.kind).join(Shop).where(Shop.shop_domain == store["shop_domain"])
            if session.scalar(known):
                continue
            credential = ({"client_id": store["client_id"], "client_secret": store["client_secret"]} if number == 0
                          else {"access_token": store["access_token"], "webhook_secret": store["client_secret"]})
            try:
                shop = connect_store(session=session, domain=store["shop_domain"], **credential)
                for account in store["ad_accounts"]:
                    info = meta_connect.validate_account(account["access_token"], account["account_id"])
                    meta_connect.link_account(session=session, shop_id=shop.id, token=account["access_token"],
                                              info=info)
            except (ConnectError, meta_connect.ConnectError) as error:
                log.warning("demo store %s not connected: %s", store["shop_domain"], error)
                continue
        connected.append(store["shop_domain"])
    return connected


def main() -> None:
    """The embedded default: database, migrations, demo admin, sandbox, scheduler and web in one process.

    The console gets a few lines (one per part, then where to sign in); the full detail, the embedded
    PostgreSQL's initdb and pg_ctl output and alembic's included, goes to var/log/app.log.
    """
    import scheduler

    logs.configure(log_file=settings.LOG_FILE)
    print(f"\n  Storefront analytics: starting (full log in {shown(settings.LOG_FILE)})\n", flush=True)
    url = start_database()
    start_migrations(url)
    password = ensure_demo_admin(url)
    demo = start_sandbox()
    announce("sandbox", f"Shopify and Meta on {demo.base_url}")
    connected = connect_demo_stores(scheduler_sessionmaker(url), demo.base_url)
    names = ", ".join(store.spec.name for store in demo.world.stores)
    announce("stores", f"{names} ({'connected now, syncing' if connected else 'connected before'})")
    service = scheduler.start_in_background(url)
    announce("scheduler", f"running in this process, {settings.SCHEDULER_THREADS} threads")
    web = make_server(settings.HOST, settings.PORT, create_app(), threaded=True)
    address = f"http://{settings.HOST}:{settings.PORT}"
    announce("web", address)
    print(sign_in(address, password), flush=True)
    # Ctrl-C and SIGTERM both mean stop. Set explicitly: a process a non-interactive shell started in the
    # background inherits SIGINT *ignored*, and then Python would never raise KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        web.serve_forever()  # returns on Ctrl-C
    finally:
        shut_down(service, demo)


def announce(part: str, words: str) -> None:
    """One line of the start on the console, e.g. `  database    embedded PostgreSQL in var/pgdata`."""
    print(f"  {part:<11} {words}", flush=True)
    log.info("started %s: %s", part, words)


def start_database() -> str:
    """Start the embedded PostgreSQL (or use DATABASE_URL) and say which."""
    pgdata = settings.VAR_DIR / "pgdata"
    if settings.DATABASE_URL:
        announce("database", "PostgreSQL at DATABASE_URL")
        return settings.DATABASE_URL
    created = not (pgdata / "PG_VERSION").exists()
    url = embedded.default_url()
    announce("database", f"embedded PostgreSQL in {shown(pgdata)}{' (new)' if created else ''}")
    return url


def shown(path: Path) -> str:
    """A path as the newcomer typed it: relative to the current folder when inside it."""
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def start_migrations(url: str) -> None:
    """Bring the schema up to date and say from which revision to which."""
    before = current_revision(url)
    migrate(url)
    after = current_revision(url)
    announce("migrations", f"at {after}" + (" (up to date)" if before == after else
                                              f" (upgraded from {before or 'an empty database'})"))


def sign_in(address: str, password: str | None) -> str:
    """The lines that matter most, last: where to sign in, as whom, and that everything is ready."""
    if password is not None:
        who = (f"  Sign in at {address} as {DEMO_ADMIN}, password {password}\n"
               f"  (shown once; reset it with `flask --app app users set-password --email {DEMO_ADMIN}`).")
    else:
        who = (f"  Sign in at {address} as {DEMO_ADMIN} (its password was shown on the first start;\n"
               f"  forgotten? `flask --app app users set-password --email {DEMO_ADMIN}`).")
    return f"\n{who}\n  Ready. Ctrl-C stops everything.\n"


def shut_down(service, demo) -> None:
    """Ctrl-C: stop the scheduler, the sandbox and the database in that order, each step logged, then exit.

    Exiting with os._exit skips waiting on any thread a library left running: everything that matters is
    committed and the database is already stopped, so nothing is lost, and Ctrl-C never hangs.
    """
    print("\n  Stopping...", flush=True)
    log.info("stopping the scheduler")
    service.stop(grace_seconds=5)
    log.info("stopping the sandbox")
    demo.stop()
    if settings.EMBEDDED:
        log.info("stopping the embedded PostgreSQL")
        embedded.stop(settings.VAR_DIR / "pgdata")
    log.info("stopped")
    print("  Stopped.", flush=True)
    logging.shutdown()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
