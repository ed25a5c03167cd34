"""The sandbox's Meta Graph API v26 insights endpoints, through Flask's test client."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from flask import Flask

from sandbox.ads import build_ad_accounts, truth
from sandbox.meta_api import MetaFaults, blueprint

START, END = date(2024, 1, 1), date(2026, 12, 31)
TODAY = date(2026, 11, 22)
V = "/meta/v26.0"


def daily_sales(day: date) -> tuple[int, Decimal]:
    orders = 40 + (day.toordinal() * 5) % 17
    return orders, Decimal(orders) * Decimal("58.50")


SPECS = [
    {"account_id": "act_2001", "name": "Main", "currency": "USD", "iana_timezone": "America/New_York",
     "access_token": "tok-a"},
    {"account_id": "act_2002", "name": "Second", "currency": "EUR", "iana_timezone": "Europe/Paris",
     "access_token": "tok-b"},
]


class Env:
    def __init__(self):
        self.accounts = build_ad_accounts(seed=3, accounts=SPECS, daily_sales=daily_sales, start=START, end=END)
        self.now: date = TODAY
        self.sleeps: list[float] = []
        self.faults = MetaFaults(sleep=self.sleeps.append)
        app = Flask(__name__)
        self.bp = blueprint({a.account_id: a for a in self.accounts}, today=lambda: self.now, faults=self.faults)
        app.register_blueprint(self.bp, url_prefix="/meta")
        self.client = app.test_client()

    def get(self, path, token="tok-a", **params):
        if token is not None:
            params["access_token"] = token
        return self.client.get(V + path, query_string=params)


@pytest.fixture
def env() -> Env:
    return Env()


def rng(since: date, until: date) -> str:
    return json.dumps({"since": since.isoformat(), "until": until.isoformat()})


def assert_error(resp, status, code, subcode=None):
    assert resp.status_code == status, resp.get_data(as_text=True)
    err = resp.get_json()["error"]
    assert {"message", "type", "code", "fbtrace_id", "is_transient"} <= set(err)
    assert err["code"] == code
    if subcode is None:
        assert "error_subcode" not in err
    else:
        assert err["error_subcode"] == subcode
    assert_usage_headers(resp)
    return err


def assert_usage_headers(resp):
    for name in ("X-Business-Use-Case-Usage", "X-Ad-Account-Usage", "X-FB-Ads-Insights-Throttle", "X-App-Usage"):
        assert name in resp.headers, name
        json.loads(resp.headers[name])


def purchase(row, key="actions", kind="omni_purchase", window="value"):
    for item in row.get(key, []):
        if item["action_type"] == kind:
            return item[window]
    return "0"


def fetch_all(env, path, **params):
    resp = env.get(path, **params)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    rows = list(body["data"])
    pages = 1
    while "next" in body.get("paging", {}):
        url = urlsplit(body["paging"]["next"])
        resp = env.client.get(url.path + "?" + url.query)
        assert resp.status_code == 200
        body = resp.get_json()
        rows += body["data"]
        pages += 1
    return rows, pages


def test_account_node(env):
    resp = env.get("/act_2002", token="tok-b",
                   fields="name,currency,timezone_name,account_status,timezone_offset_hours_utc")
    assert resp.status_code == 200
    assert resp.get_json() == {"name": "Second", "currency": "EUR", "timezone_name": "Europe/Paris",
                               "account_status": 1, "timezone_offset_hours_utc": 1.0, "id": "act_2002"}
    assert_usage_headers(resp)
    assert env.get("/act_2002", token="tok-b").get_json() == {"account_id": "2002", "id": "act_2002"}
    assert_error(env.get("/act_2002", token="tok-b", fields="name,bogus"), 400, 100)


def test_tokens(env):
    err = assert_error(env.get("/act_2001", token="wrong"), 400, 190)
    assert err["type"] == "OAuthException"
    assert_error(env.get("/act_2001", token=None), 400, 104)
    # a valid token for another account cannot see this one
    assert_error(env.get("/act_2001", token="tok-b"), 400, 100, 33)
    resp = env.client.get(V + "/act_2001", headers={"Authorization": "Bearer tok-a"})
    assert resp.status_code == 200
    me = env.get("/me/adaccounts", fields="id,name,currency")
    assert me.get_json()["data"] == [{"id": "act_2001", "name": "Main", "currency": "USD"}]
    assert_error(env.client.get("/meta/v12.0/act_2001?access_token=tok-a"), 400, 2635)


INSIGHT_FIELDS = ("campaign_id,campaign_name,objective,spend,impressions,reach,frequency,clicks,inline_link_clicks,"
                  "cpc,cpm,ctr,actions,action_values,purchase_roas,attribution_setting,account_currency")


def test_campaign_daily_insights_equal_truth(env):
    for account in env.accounts:
        since, until = TODAY - timedelta(days=27), TODAY
        rows, _ = fetch_all(env, f"/{account.account_id}/insights", token=account.access_token, level="campaign",
                            fields=INSIGHT_FIELDS, time_range=rng(since, until), time_increment=1, limit=500,
                            action_attribution_windows='["7d_click","1d_view"]')
        got = [{"account_id": account.account_id, "campaign_id": r["campaign_id"],
                "date": date.fromisoformat(r["date_start"]), "spend": Decimal(r["spend"]),
                "impressions": int(r["impressions"]), "clicks": int(r["clicks"]),
                "purchases": int(purchase(r)), "purchase_value": Decimal(purchase(r, "action_values"))} for r in rows]
        got.sort(key=lambda r: (r["date"], r["campaign_id"]))
        assert got == truth(account, since, until, as_of=TODAY)
        for r in rows:
            assert r["date_start"] == r["date_stop"]
            assert r["account_currency"] == account.currency and r["attribution_setting"] == "7d_click_1d_view"
            for key in ("spend", "impressions", "reach", "clicks", "inline_link_clicks", "cpm", "ctr"):
                assert isinstance(r[key], str)
            purchases = {a["action_type"]: a for a in r.get("actions", []) if a["action_type"].endswith("purchase")}
            if purchases:
                assert {"omni_purchase", "purchase", "offsite_conversion.fb_pixel_purchase"} <= set(purchases)
                assert len({json.dumps({k: v for k, v in p.items() if k != "action_type"})
                            for p in purchases.values()}) == 1
                p = purchases["omni_purchase"]
                assert int(p["value"]) == int(p["7d_click"]) + int(p["1d_view"])


def test_account_level_sums_campaigns(env):
    since, until = date(2026, 10, 1), date(2026, 10, 10)
    acct_rows, _ = fetch_all(env, "/act_2001/insights", level="account", fields="spend,actions,account_id",
                             time_range=rng(since, until), time_increment=1, limit=100)
    camp_rows, _ = fetch_all(env, "/act_2001/insights", level="campaign", fields="spend,actions,campaign_id",
                             time_range=rng(since, until), time_increment=1, limit=100)
    assert len(acct_rows) == 10 and all(r["account_id"] == "2001" for r in acct_rows)
    for row in acct_rows:
        same_day = [c for c in camp_rows if c["date_start"] == row["date_start"]]
        assert Decimal(row["spend"]) == sum(Decimal(c["spend"]) for c in same_day)
        assert int(purchase(row)) == sum(int(purchase(c)) for c in same_day)
    total, _ = fetch_all(env, "/act_2001/insights", fields="spend", time_range=rng(since, until))
    assert len(total) == 1 and total[0]["date_start"] == "2026-10-01" and total[0]["date_stop"] == "2026-10-10"
    assert Decimal(total[0]["spend"]) == sum(Decimal(r["spend"]) for r in acct_rows)


def test_paging_visits_every_row_once(env):
    params = {"level": "campaign", "fields": "campaign_id,spend", "time_range": rng(date(2026, 9, 1), TODAY),
              "time_increment": "1"}
    everything, pages = fetch_all(env, "/act_2001/insights", limit=5000, **params)
    assert pages == 1
    paged, pages = fetch_all(env, "/act_2001/insights", limit=7, **params)
    assert pages == -(-len(everything) // 7) and pages > 3
    assert paged == everything
    keys = [(r["campaign_id"], r["date_start"]) for r in paged]
    assert len(keys) == len(set(keys))
    # cursors go back too
    first = env.get("/act_2001/insights", limit=7, **params).get_json()
    second = env.get("/act_2001/insights", limit=7, after=first["paging"]["cursors"]["after"], **params).get_json()
    assert "previous" in second["paging"] and "previous" not in first["paging"]
    back = env.get("/act_2001/insights", limit=7, before=second["paging"]["cursors"]["before"], **params).get_json()
    assert back["data"] == first["data"]
    assert_error(env.get("/act_2001/insights", after="garbage!", **params), 400, 2642)


def test_default_page_size_and_empty(env):
    body = env.get("/act_2001/insights", level="campaign", time_range=rng(date(2026, 6, 1), date(2026, 6, 30)),
                   time_increment=1).get_json()
    assert len(body["data"]) == 25 and "next" in body["paging"]
    assert set(body["data"][0]) == {"impressions", "spend", "date_start", "date_stop"}
    empty = env.get("/act_2001/insights", time_range=rng(date(2023, 12, 1), date(2023, 12, 31))).get_json()
    assert empty == {"data": []}


def test_restated_over_the_api(env):
    day = TODAY - timedelta(days=20)
    params = {"level": "campaign", "fields": "campaign_id,spend,actions,action_values",
              "time_range": rng(day, day), "time_increment": "1"}

    def pull(as_of):
        env.now = as_of
        rows, _ = fetch_all(env, "/act_2001/insights", **params)
        return ([r["spend"] for r in rows], sum(int(purchase(r)) for r in rows),
                sum(Decimal(purchase(r, "action_values")) for r in rows))

    early, final = pull(day + timedelta(days=1)), pull(day + timedelta(days=28))
    assert early[0] == final[0] and early[1:] != final[1:]
    assert pull(day + timedelta(days=29)) == pull(day + timedelta(days=90)) == final


def test_todays_partial_day(env):
    params = {"fields": "spend", "time_range": rng(TODAY, TODAY)}
    env.now = datetime(2026, 11, 22, 13, 0, tzinfo=UTC)     # 08:00 in New York
    morning = Decimal(env.get("/act_2001/insights", **params).get_json()["data"][0]["spend"])
    env.now = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)      # 22:00 in New York
    evening = Decimal(env.get("/act_2001/insights", **params).get_json()["data"][0]["spend"])
    env.now = TODAY + timedelta(days=1)
    final = Decimal(env.get("/act_2001/insights", **params).get_json()["data"][0]["spend"])
    assert 0 < morning < evening < final
    env.now = TODAY
    today_rows = env.get("/act_2001/insights", date_preset="today", fields="spend").get_json()["data"]
    assert today_rows[0]["date_start"] == TODAY.isoformat()


def test_retention_and_params(env):
    old = TODAY.replace(year=TODAY.year - 3) - timedelta(days=40)
    err = assert_error(env.get("/act_2001/insights", time_range=rng(old, TODAY)), 400, 3018)
    assert "37 months" in err["message"]
    assert_error(env.get("/act_2001/insights", time_range="{nope"), 400, 100)
    assert_error(env.get("/act_2001/insights", fields="spend,made_up"), 400, 100)
    assert_error(env.get("/act_2001/insights", time_increment="0"), 400, 100)
    assert_error(env.get("/act_2001/insights", action_attribution_windows='["2d_click"]'), 400, 100)


def test_filtering(env):
    camp = env.accounts[0].campaigns[0]["id"]
    flt = json.dumps([{"field": "campaign.id", "operator": "IN", "value": [camp]}])
    rows, _ = fetch_all(env, "/act_2001/insights", level="campaign", fields="campaign_id,spend", filtering=flt,
                        time_range=rng(date(2026, 10, 1), date(2026, 10, 5)), time_increment=1)
    assert len(rows) == 5 and {r["campaign_id"] for r in rows} == {camp}
    flt = json.dumps([{"field": "spend", "operator": "GREATER_THAN", "value": 1e9}])
    assert env.get("/act_2001/insights", filtering=flt).get_json() == {"data": []}


def test_async_lifecycle_matches_sync(env):
    params = {"level": "campaign", "fields": INSIGHT_FIELDS, "time_increment": "1",
              "time_range": rng(TODAY - timedelta(days=10), TODAY), "action_attribution_windows": "7d_click,1d_view"}
    resp = env.client.post(V + "/act_2001/insights", data={**params, "access_token": "tok-a"})
    assert resp.status_code == 200
    assert_usage_headers(resp)
    run_id = resp.get_json()["report_run_id"]
    assert isinstance(run_id, str) and run_id.isdigit()
    assert_error(env.get(f"/{run_id}/insights"), 400, 100)     # not ready yet
    seen = []
    while not seen or seen[-1][0] not in ("Job Completed", "Job Failed"):
        body = env.get(f"/{run_id}").get_json()
        assert body["id"] == run_id and body["account_id"] == "2001"
        seen.append((body["async_status"], body["async_percent_completion"]))
    assert seen == [("Job Not Started", 0), ("Job Started", 0), ("Job Running", 42), ("Job Running", 100),
                    ("Job Completed", 100)]
    assert "time_completed" in body
    async_rows, pages = fetch_all(env, f"/{run_id}/insights", limit=10)
    assert pages > 1
    sync_rows, _ = fetch_all(env, "/act_2001/insights", limit=500, **params)
    assert async_rows == sync_rows
    assert_error(env.get(f"/{run_id}", token="tok-b"), 400, 100, 33)
    assert_error(env.get("/999999"), 400, 100, 33)


def test_async_fail(env):
    env.faults.set("act_2001", "async_fail", 1)
    run_id = env.client.post(V + "/act_2001/insights", data={"access_token": "tok-a"}).get_json()["report_run_id"]
    statuses = [env.get(f"/{run_id}").get_json() for _ in range(4)]
    assert [s["async_status"] for s in statuses] == ["Job Not Started", "Job Started", "Job Running", "Job Failed"]
    failed = statuses[-1]
    assert failed["error_code"] == -2 and failed["error_subcode"] == 2490547 and failed["error_message"]
    assert_error(env.get(f"/{run_id}/insights"), 400, -2, 2490547)
    # the fault was for one run only
    run2 = env.client.post(V + "/act_2001/insights", data={"access_token": "tok-a"}).get_json()["report_run_id"]
    assert [env.get(f"/{run2}").get_json()["async_status"] for _ in range(5)][-1] == "Job Completed"


@pytest.mark.parametrize("code,subcode", [(4, 1504022), (17, 2446079), (613, 1487742), (80000, 2446079),
                                          (80004, 2446079)])
def test_throttle_fault(env, code, subcode):
    env.faults.set("act_2001", "throttle", 2, code=code, regain_minutes=3)
    for _ in range(2):
        resp = env.get("/act_2001/insights")
        err = assert_error(resp, 400, code, subcode)
        assert err["message"].startswith(f"(#{code})") and err["is_transient"] is True
        buc = json.loads(resp.headers["X-Business-Use-Case-Usage"])["2001"][0]
        assert buc["estimated_time_to_regain_access"] == 3 and buc["call_count"] == 100
        assert json.loads(resp.headers["X-Ad-Account-Usage"])["acc_id_util_pct"] == 100
    assert env.get("/act_2001/insights").status_code == 200
    # other accounts are unaffected
    env.faults.set("act_2001", "throttle", 1)
    assert env.get("/act_2002/insights", token="tok-b").status_code == 200


def test_reduce_data_fault(env):
    env.faults.set("act_2001", "reduce_data", 1)
    assert env.get("/act_2001", fields="name").status_code == 200      # only insights reads are affected
    err = assert_error(env.get("/act_2001/insights"), 500, 1)
    assert err["message"] == "Please reduce the amount of data you're asking for, then retry your request"
    assert env.get("/act_2001/insights").status_code == 200


def test_transient_unknown_and_expired_faults(env):
    env.faults.set("2001", "transient", 1)
    err = assert_error(env.get("/act_2001/insights"), 503, 2)
    assert err["is_transient"] is True
    env.faults.set("act_2001", "unknown", 1)
    assert_error(env.get("/act_2001/insights"), 500, 1, 99)
    env.faults.set("act_2001", "expired_token", 1.0)
    for _ in range(3):
        err = assert_error(env.get("/act_2001"), 400, 190, 463)
        assert err["type"] == "OAuthException" and "expired" in err["message"]
    env.faults.clear("act_2001", "expired_token")
    assert env.get("/act_2001").status_code == 200
    env.faults.set("act_2001", "missing_permission", 1)
    err = assert_error(env.get("/act_2001/insights"), 400, 200)
    assert "ads_read" in err["message"]
    assert env.get("/act_2001/insights").status_code == 200


def test_slow_and_usage_faults(env):
    env.faults.set("act_2001", "slow", 2.5, count=2)
    for _ in range(3):
        env.get("/act_2001")
    assert env.sleeps == [2.5, 2.5]
    env.faults.set("act_2001", "usage", 88)
    resp = env.get("/act_2001/insights")
    assert json.loads(resp.headers["X-FB-Ads-Insights-Throttle"])["acc_id_util_pct"] == 88


def test_usage_grows(env):
    pcts = []
    for _ in range(5):
        resp = env.get("/act_2002/insights", token="tok-b")
        pcts.append(json.loads(resp.headers["X-Business-Use-Case-Usage"])["2002"][0]["call_count"])
    assert pcts == sorted(pcts) and pcts[-1] > pcts[0]
    assert_usage_headers(env.get("/act_2002/insights", token="nope"))


def test_wildcard_and_rate_faults_are_deterministic():
    outcomes = []
    for _ in range(2):
        e = Env()
        e.faults.set("*", "transient", 0.5)
        outcomes.append([e.get("/act_2001").status_code for _ in range(20)])
    assert outcomes[0] == outcomes[1] and {200, 503} == set(outcomes[0])


def test_admin_endpoint(env):
    resp = env.client.post("/meta/_admin/faults", json={"account_id": "act_2001", "kind": "throttle", "value": 1,
                                                        "code": 613})
    assert resp.get_json()["faults"][0]["kind"] == "throttle"
    assert_error(env.get("/act_2001"), 400, 613, 1487742)
    env.client.post("/meta/_admin/faults", json={"account_id": "act_2001", "kind": "transient", "value": 5})
    assert env.client.delete("/meta/_admin/faults?account_id=act_2001").get_json() == {"faults": []}
    assert env.get("/act_2001").status_code == 200
    assert env.client.post("/meta/_admin/faults", json={"account_id": "x", "kind": "nope"}).status_code == 400


def test_campaigns_edge(env):
    rows, _ = fetch_all(env, "/act_2001/campaigns", fields="id,name,objective,status")
    assert rows == [{k: c[k] for k in ("id", "name", "objective", "status")} for c in env.accounts[0].campaigns]


def test_add_account_and_presets(env):
    extra = build_ad_accounts(seed=9, accounts=[{"account_id": "act_3003", "name": "Late", "currency": "GBP",
                                                 "iana_timezone": "Europe/London", "access_token": "tok-c"}],
                              daily_sales=daily_sales, start=START, end=END)[0]
    assert_error(env.get("/act_3003", token="tok-c"), 400, 190)
    env.bp.state.add_account(extra)
    assert env.get("/act_3003", token="tok-c", fields="currency").get_json() == {"currency": "GBP", "id": "act_3003"}
    rows = env.get("/act_3003/insights", token="tok-c", date_preset="last_7d", time_increment=1).get_json()["data"]
    assert [r["date_start"] for r in rows] == [(TODAY - timedelta(days=i)).isoformat() for i in range(7, 0, -1)]
