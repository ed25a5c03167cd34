"""The sandbox's Meta API on a loopback port, for tests that talk to it over real HTTP."""

import threading
from datetime import date, datetime

import requests
from flask import Flask
from werkzeug.serving import make_server

from sandbox.ads import build_ad_accounts
from sandbox.meta_api import MetaFaults, blueprint
from tests.sandbox.test_meta_api import END, SPECS, START, TODAY, daily_sales


class MetaServer:
    """Two ad accounts (tok-a: act_2001, New York, USD; tok-b: act_2002, Paris, EUR) behind a settable clock."""

    def __init__(self):
        self.accounts = build_ad_accounts(seed=3, accounts=SPECS, daily_sales=daily_sales, start=START, end=END)
        self.now: date | datetime = TODAY
        app = Flask(__name__)
        self.bp = blueprint({a.account_id: a for a in self.accounts}, today=lambda: self.now, faults=MetaFaults())
        app.register_blueprint(self.bp, url_prefix="/meta")
        self.http = make_server("127.0.0.1", 0, app, threaded=True)
        self.graph = f"http://127.0.0.1:{self.http.server_port}/meta"
        self.session = requests.Session()
        threading.Thread(target=self.http.serve_forever, name="meta-sandbox", daemon=True).start()

    def get(self, path: str, token: str | None = "tok-a", **params) -> requests.Response:
        if token is not None:
            params["access_token"] = token
        return self.session.get(f"{self.graph}/v26.0{path}", params=params, timeout=60)

    def ok(self, path: str, token: str = "tok-a", **params) -> dict:
        response = self.get(path, token, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def all_rows(self, path: str, token: str = "tok-a", **params) -> list[dict]:
        body = self.ok(path, token, limit=500, **params)
        rows = list(body["data"])
        while "next" in body.get("paging", {}):
            response = self.session.get(body["paging"]["next"], timeout=60)
            assert response.status_code == 200, response.text
            body = response.json()
            rows += body["data"]
        return rows

    def stop(self) -> None:
        self.http.shutdown()
