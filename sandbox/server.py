"""The sandbox's HTTP server: demo stores' Shopify Admin API and their Meta ad accounts on one loopback port.

`python -m sandbox serve` runs it standalone; the embedded default and the tests start it in a thread with
`serve_in_thread`. Paths: `/shopify/{shop}/admin/api/{version}/graphql.json` and friends, `/meta/{version}/...`,
and `/sandbox/...` for what only a simulator has: the stores' credentials, the truth, fault switches.
"""

import html
import io
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask, Response, abort, jsonify, request
from waitress import wasyncore
from waitress.server import create_server

from sandbox import ads, ecb, export, generator, meta_api, shopify_api, truth
from sandbox.bulk import BulkFaults
from sandbox.shopify_api import ShopifyFaults
from sandbox.webhooks import Quirks


@dataclass
class World:
    """Everything the sandbox simulates."""

    stores: list
    shopify: shopify_api.ShopifyAPI
    ad_accounts: dict
    meta_faults: object

    def store(self, domain: str):
        return next((s for s in self.stores if s.spec.domain == domain), None)

    def truth(self, domain: str, start: date, end: date, *, as_of: date | None = None) -> dict | None:
        """The expected figures: the shop's daily sales by Shopify's definitions, and its ad accounts' days."""
        store = self.store(domain)
        if store is None:
            return None
        now = self.shopify.now()     # the sandbox's clock, as each account's local time (what its API reports)
        accounts = [self.ad_accounts[a.account_id] for a in store.spec.ad_accounts]
        return {
            "shop": domain,
            "currency": store.spec.currency,
            "iana_timezone": store.spec.iana_timezone,
            "days": _jsonable(truth.daily_sales(store, start, end)),
            "ad_accounts": {a.account_id: {"currency": a.currency, "iana_timezone": a.iana_timezone,
                                           "days": _jsonable(ads.truth(a, start, end, as_of=as_of or _local(now, a)))}
                            for a in accounts},
        }


def build_world(*, stores: int = 3, seed: int = 1, today: date | None = None, files: Path | None = None,
                now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> World:
    """Demo stores from a seed, their Shopify API, and their Meta ad accounts (`now` is the sandbox's clock)."""
    built = [generator.build_store(spec) for spec in generator.demo_specs(stores=stores, seed=seed, today=today)]
    accounts = {}
    for store in built:
        for account in ads.build_ad_accounts(seed=store.spec.seed, accounts=[asdict(a) for a in store.spec.ad_accounts],
                                             daily_sales=store.daily_order_summary, start=store.spec.start,
                                             end=store.spec.end, shop_currency=store.spec.currency):
            accounts[account.account_id] = account
    return World(stores=built, shopify=shopify_api.ShopifyAPI(built, files=files, now=now), ad_accounts=accounts,
                 meta_faults=meta_api.MetaFaults())


def handed_over(world: World) -> list[dict]:
    """What an admin is handed for each store: domain, credentials, plan, currency, timezone, ad accounts."""
    return [
        {
            "shop_domain": s.spec.domain,
            "name": s.spec.name,
            "access_token": s.spec.access_token,
            "client_id": s.spec.client_id,
            "client_secret": s.spec.client_secret,
            "scopes": list(s.spec.scopes),
            "plan": s.spec.plan,
            "currency": s.spec.currency,
            "iana_timezone": s.spec.iana_timezone,
            "ad_accounts": [asdict(a) for a in s.spec.ad_accounts],
        }
        for s in world.stores
    ]


def create_app(world: World) -> Flask:
    """The WSGI app serving the whole world."""
    app = Flask("sandbox")
    app.register_blueprint(shopify_api.blueprint(world.shopify))
    # The sandbox's clock, aware: each ad account turns it into its own local date and partial day.
    app.register_blueprint(meta_api.blueprint(world.ad_accounts, today=world.shopify.now,
                                              faults=world.meta_faults), url_prefix="/meta")

    @app.get("/sandbox/stores")
    def stores():
        return jsonify(handed_over(world))

    @app.get("/sandbox/truth")
    def daily_truth():
        start, end = date.fromisoformat(request.args["start"]), date.fromisoformat(request.args["end"])
        return jsonify(world.truth(request.args.get("shop", ""), start, end) or abort(404))

    @app.get("/sandbox/ecb/eurofxref-hist.csv")
    def reference_rates():
        """The ECB's reference rates over the stores' history, up to the sandbox's today."""
        start = min((s.spec.start for s in world.stores), default=world.shopify.now().date())
        return Response(ecb.reference_rates_csv(start, world.shopify.now().date()), mimetype="text/csv")

    @app.get("/sandbox/catalog/<shop>.csv")
    def catalog(shop: str):
        store = world.store(shop) or abort(404)
        out = io.StringIO()
        export.catalog_csv(store, out)
        return Response(out.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename={shop}-products.csv"})

    @app.get("/sandbox/images/<name>.svg")
    def placeholder_image(name: str):
        """A product's placeholder picture: its name on a colour of the brand's palette."""
        palettes = [store.brand["palette"] for store in world.stores] or [["#444444"]]
        colours = palettes[sum(map(ord, name)) % len(palettes)]
        colour = colours[sum(map(ord, name)) % len(colours)]
        label = html.escape(name.replace("-", " ").title()[:32])
        svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="800" height="800" viewBox="0 0 800 800">'
               f'<rect width="800" height="800" fill="{html.escape(colour)}"/>'
               f'<text x="400" y="410" font-family="sans-serif" font-size="40" fill="#fff" '
               f'text-anchor="middle">{label}</text></svg>')
        return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "max-age=86400"})

    @app.post("/sandbox/faults/<shop>")
    def shopify_faults(shop: str):
        """Switch Shopify faults on for a shop: bulk failures, malformed lines, webhook quirks."""
        given = request.get_json(force=True)
        settable = set(BulkFaults.__annotations__) - {"release", "resume_downloads"}
        world.shopify.bulk.faults[shop] = BulkFaults(**{k: v for k, v in given.items() if k in settable})
        world.shopify.webhooks.quirks[shop] = Quirks(**given.get("webhooks", {}))
        world.shopify.faults[shop] = ShopifyFaults(**given.get("requests", {}))
        if given.get("revoke_tokens"):
            world.shopify.credentials.revoked |= {t for t, g in world.shopify.credentials.tokens.items()
                                                  if g.shop == shop}
        return jsonify(ok=True)

    return app


def _local(now: datetime, account) -> datetime:
    return now.astimezone(ZoneInfo(account.iana_timezone)).replace(tzinfo=None)


def _jsonable(rows: list[dict]) -> list[dict]:
    return [{k: (str(v) if not isinstance(v, int | str | None) else v) for k, v in row.items()} for row in rows]


class SandboxServer:
    """The sandbox on a loopback port in background threads (HTTP, and webhook deliveries every second)."""

    def __init__(self, world: World, *, host: str = "127.0.0.1", port: int = 0):
        self.world = world
        # waitress, not werkzeug's development server: it keeps HTTP/1.1 connections alive, as Shopify's edge
        # does (werkzeug closes every connection after one answer), and serves many requests at once.
        self.app = create_app(world)
        self.http = create_server(self.app, host=host, port=port, threads=16, ident="sandbox")
        self.http.app = self.app  # where werkzeug's server kept it (tests reach blueprints' state through it)
        self.base_url = f"http://{host}:{self.http.effective_port}"
        self.stopping = threading.Event()
        self._serving: threading.Thread | None = None

    def start(self, *, live: bool = True) -> "SandboxServer":
        """Serve; `live` also announces and delivers webhooks every second (tests may announce them instead)."""
        self._serving = threading.Thread(target=self._serve, name="sandbox-http", daemon=True)
        self._serving.start()
        if live:
            threading.Thread(target=self._deliver, name="sandbox-webhooks", daemon=True).start()
        return self

    def _deliver(self) -> None:
        # The demo is live: orders appear as the clock passes them, and their webhooks go out.
        while not self.stopping.wait(1):
            self.world.shopify.announce_due_events()
            self.world.shopify.webhooks.deliver_due()

    def _serve(self) -> None:
        # waitress's own loop, a turn at a time, so that the sockets are closed by this thread once stopping
        # is set (closing them from another thread while it waits in select() breaks that select)
        while not self.stopping.is_set():
            wasyncore.loop(timeout=0.2, map=self.http._map, count=1)
        wasyncore.close_all(self.http._map)
        self.http.task_dispatcher.shutdown(timeout=5)

    def stop(self) -> None:
        self.stopping.set()
        if self._serving is not None:
            self._serving.join(timeout=10)
