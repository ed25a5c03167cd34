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

from flask import Flask, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

import cli
import embedded
import logs
import settings
from dashboard import auth, create_dash, db, health, shopify_oauth, sync_api, webhooks
from database import migrate, scheduler_sessionmaker, session_scope, web_sessionmaker

log = logging.getLogger("app")


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


def ensure_demo_admin(url: str) -> None:
    """On first start, create an admin and print its password once."""
    from dashboard import accounts

    with session_scope(scheduler_sessionmaker(url)) as session:
        if accounts.list_users(session=session):
            return
        password = secrets.token_urlsafe(12)
        accounts.create_user(session=session, email="admin@example.com", password=password, role="admin",
                             name="Demo admin")
    print(f"\n  Demo admin created. Sign in as admin@example.com with password {password}\n"
          f"  (shown once; reset it with `flask --app app users set-password`).\n", flush=True)


def start_sandbox():
    """The demo stores' Shopify and Meta APIs, over real HTTP on loopback (the embedded default only)."""
    from sandbox.server import SandboxServer, build_world

    world = build_world(stores=settings.SANDBOX_STORES, seed=settings.SANDBOX_SEED)
    server = SandboxServer(world, port=settings.SANDBOX_PORT).start()
    print(f"  Sandbox Shopify and Meta on {server.base_url} (stores: {server.base_url}/sandbox/stores)", flush=True)
    return server


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
    """The embedded default: database, migrations, demo admin, scheduler and web in one process."""
    import scheduler

    logs.configure()
    url = embedded.default_url()
    migrate(url)
    ensure_demo_admin(url)
    demo = start_sandbox()
    for domain in connect_demo_stores(scheduler_sessionmaker(url), demo.base_url):
        print(f"  Connected demo store {domain}", flush=True)
    service = scheduler.start_in_background(url)
    server = create_app()
    print(f"  Storefront analytics on http://{settings.HOST}:{settings.PORT}  (Ctrl-C stops everything)\n",
          flush=True)
    # Ctrl-C and SIGTERM both mean stop. Set explicitly: a process a non-interactive shell started in the
    # background inherits SIGINT *ignored*, and then Python would never raise KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        from werkzeug.serving import run_simple

        run_simple(settings.HOST, settings.PORT, server, threaded=True)
    finally:
        shut_down(service, demo)


def shut_down(service, demo) -> None:
    """Ctrl-C: stop the scheduler, the sandbox and the database in that order, each step logged, then exit.

    Exiting with os._exit skips waiting on any thread a library left running: everything that matters is
    committed and the database is already stopped, so nothing is lost, and Ctrl-C never hangs.
    """
    log.info("stopping the scheduler")
    service.stop(grace_seconds=5)
    log.info("stopping the sandbox")
    demo.stop()
    log.info("stopping the embedded PostgreSQL")
    embedded.stop(settings.VAR_DIR / "pgdata")
    log.info("stopped")
    logging.shutdown()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
