"""The sandbox's Meta API judged as Meta's clients use it (issue 12): over real HTTP on loopback."""

import json
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sandbox.ads import truth
from tests.sandbox.meta_http import MetaServer
from tests.sandbox.test_meta_api import START, TODAY, assert_usage_headers

WEEK = json.dumps({"since": "2026-11-01", "until": "2026-11-07"})
WINDOWS = '["1d_click","7d_click","28d_click","1d_view"]'


@pytest.fixture(scope="module")
def meta():
    server = MetaServer()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def reset_clock(meta):
    meta.now = TODAY


def meta_error(response, code: int, subcode: int | None = None) -> dict:
    """Meta's JSON error object, with its usage headers."""
    assert response.status_code in (400, 500, 503), response.text
    assert response.headers["Content-Type"].startswith("application/json")
    err = response.json()["error"]
    assert {"message", "type", "code", "fbtrace_id"} <= set(err)
    assert err["code"] == code and err.get("error_subcode") == subcode, err
    assert_usage_headers(response)
    return err


def stat(row: dict, key: str, action_type: str = "omni_purchase", window: str = "value") -> Decimal:
    return next((Decimal(a[window]) for a in row.get(key, []) if a["action_type"] == action_type), Decimal("0"))


def totals(rows: list[dict], by: tuple[str, ...]) -> dict:
    """Spend, impressions, clicks, purchases and purchase value (default and 1d_click) summed per key."""
    out: dict = defaultdict(lambda: [Decimal("0")] * 6)
    for r in rows:
        figures = (Decimal(r["spend"]), Decimal(r["impressions"]), Decimal(r["clicks"]), stat(r, "actions"),
                   stat(r, "action_values"), stat(r, "action_values", window="1d_click"))
        key = tuple(r[k] for k in by)
        out[key] = [a + b for a, b in zip(out[key], figures, strict=True)]
    return dict(out)


METRICS = "campaign_id,spend,impressions,clicks,actions,action_values"


# -- 1. paths
def test_trailing_slashes_are_served_as_the_sdk_asks(meta):
    assert meta.ok("/act_2001/", fields="name,currency") == meta.ok("/act_2001", fields="name,currency")
    run = meta.session.post(f"{meta.graph}/v26.0/act_2001/insights/", timeout=60,
                            data={"access_token": "tok-a", "level": "campaign", "time_range": WEEK}).json()
    status = meta.ok(f"/{run['report_run_id']}/")
    assert status["id"] == run["report_run_id"]
    while status["async_status"] != "Job Completed":
        status = meta.ok(f"/{run['report_run_id']}/")
    assert meta.ok(f"/{run['report_run_id']}/insights/")["data"]
    assert meta.ok("/me/adaccounts/")["data"][0]["id"] == "act_2001"


def test_every_error_is_metas_json_error_with_usage_headers(meta):
    assert "Unknown path components" in meta_error(meta.get("/act_2001/nonsense"), 2500)["message"]
    meta_error(meta.get("/act_2001/insights/deeper/still"), 2500)
    meta_error(meta.get("/999999"), 100, 33)
    meta_error(meta.session.get(f"{meta.graph}/not-a-version/act_2001", timeout=60), 2500)
    meta_error(meta.session.get(f"{meta.graph}/", timeout=60), 2500)
    for method in ("DELETE", "PUT"):
        meta_error(meta.session.request(method, f"{meta.graph}/v26.0/act_2001/", params={"access_token": "tok-a"},
                                        timeout=60), 100, 33)


# -- 2. parameters
@pytest.mark.parametrize("breakdowns,keys", [("age,gender", ("age", "gender")), ('["age"]', ("age",)),
                                             ("gender", ("gender",)), ("publisher_platform", ("publisher_platform",)),
                                             ("publisher_platform,platform_position",
                                              ("publisher_platform", "platform_position"))])
def test_breakdowns_split_rows_that_add_up_to_the_totals(meta, breakdowns, keys):
    whole = meta.all_rows("/act_2001/insights", level="campaign", time_range=WEEK, time_increment=1,
                          fields=METRICS, action_attribution_windows=WINDOWS)
    split = meta.all_rows("/act_2001/insights", level="campaign", time_range=WEEK, time_increment=1,
                          fields=METRICS, action_attribution_windows=WINDOWS, breakdowns=breakdowns)
    assert len(split) > 2 * len(whole)
    assert all(set(keys) <= set(r) for r in split)
    assert len({tuple(r[k] for k in keys) for r in split}) > 2
    assert totals(split, ("campaign_id", "date_start")) == totals(whole, ("campaign_id", "date_start"))


@pytest.mark.parametrize("breakdowns,message", [
    ("nonsense", "(#100) nonsense is not valid for breakdowns param"),
    ("placement", "(#100) placement is not valid for breakdowns param"),
    ("platform_position", "(#100) Current combination of data breakdown columns"),
    ("age,publisher_platform", "(#100) Current combination of data breakdown columns"),
    ("country", "(#100) Current combination of data breakdown columns"),
])
def test_breakdowns_the_data_cannot_carry_are_refused(meta, breakdowns, message):
    err = meta_error(meta.get("/act_2001/insights", breakdowns=breakdowns, fields="spend,actions"), 100)
    assert err["message"].startswith(message)


def test_several_time_ranges_each_answer_their_own_rows(meta):
    ranges = [{"since": "2026-10-01", "until": "2026-10-31"}, {"since": "2026-11-01", "until": "2026-11-07"}]
    rows = meta.all_rows("/act_2001/insights", time_ranges=json.dumps(ranges), fields="spend,impressions",
                         time_increment=1)
    assert [(r["date_start"], r["date_stop"]) for r in rows] == [(r["since"], r["until"]) for r in ranges]
    for row, rng in zip(rows, ranges, strict=True):
        (alone,) = meta.all_rows("/act_2001/insights", time_range=json.dumps(rng), fields="spend,impressions")
        assert alone == row


def test_sort_orders_the_rows(meta):
    rows = meta.all_rows("/act_2001/insights", level="ad", time_range=WEEK, fields="ad_id,spend,clicks",
                         sort='["spend_descending"]')
    spends = [Decimal(r["spend"]) for r in rows]
    assert len(rows) > 2 and spends == sorted(spends, reverse=True) and spends != sorted(spends)
    rows = meta.all_rows("/act_2001/insights", level="ad", time_range=WEEK, fields="ad_id,clicks",
                         sort="clicks_ascending")
    assert [int(r["clicks"]) for r in rows] == sorted(int(r["clicks"]) for r in rows)
    assert meta_error(meta.get("/act_2001/insights", sort="bogus_descending"), 100)["message"].startswith(
        "(#100) bogus_descending is not valid for sort param")


def test_summaries(meta):
    body = meta.ok("/act_2001/insights", level="campaign", time_range=WEEK, time_increment=1, limit=3,
                   fields="campaign_id,spend,impressions", default_summary="true")
    rows = meta.all_rows("/act_2001/insights", level="campaign", time_range=WEEK, time_increment=1,
                         fields="campaign_id,spend,impressions")
    assert len(body["data"]) == 3 < len(rows)
    summary = body["summary"]
    assert Decimal(summary["spend"]) == sum(Decimal(r["spend"]) for r in rows)
    assert int(summary["impressions"]) == sum(int(r["impressions"]) for r in rows)
    assert (summary["date_start"], summary["date_stop"]) == ("2026-11-01", "2026-11-07")
    assert "campaign_id" not in summary
    only = meta.ok("/act_2001/insights", time_range=WEEK, fields="spend", summary='["clicks"]')["summary"]
    assert set(only) == {"clicks", "date_start", "date_stop"}
    campaigns = meta.ok("/act_2001/campaigns", summary="true", limit=1)
    assert campaigns["summary"] == {"total_count": len(meta.accounts[0].campaigns)}
    ads = meta.ok("/act_2001/ads", summary="true")
    assert ads["summary"]["total_count"] == len(ads["data"]) > 0


# -- 3. ad sets and ads
@pytest.mark.parametrize("level", ["adset", "ad"])
def test_adset_and_ad_levels_add_up_to_the_campaigns_to_the_cent(meta, level):
    campaign = meta.all_rows("/act_2001/insights", level="campaign", time_range=WEEK, time_increment=1,
                             fields=METRICS, action_attribution_windows=WINDOWS)
    rows = meta.all_rows("/act_2001/insights", level=level, time_range=WEEK, time_increment=1,
                         fields=f"{METRICS},adset_id,adset_name,ad_id,ad_name", action_attribution_windows=WINDOWS)
    assert len(rows) > len(campaign)
    assert all(r["adset_id"] and r["adset_name"] for r in rows)
    assert all(("ad_id" in r) == (level == "ad") for r in rows)
    assert totals(rows, ("campaign_id", "date_start")) == totals(campaign, ("campaign_id", "date_start"))
    by_1d = totals(rows, ("date_start",))
    assert sum(v[5] for v in by_1d.values()) <= sum(v[4] for v in by_1d.values())


def test_adset_and_ad_edges_and_nodes(meta):
    campaigns = meta.all_rows("/act_2001/campaigns", fields="id,name")
    adsets = meta.all_rows("/act_2001/adsets", fields="id,name,campaign_id,optimization_goal")
    ads = meta.all_rows("/act_2001/ads", fields="id,name,adset_id,campaign_id")
    assert {s["campaign_id"] for s in adsets} == {c["id"] for c in campaigns}
    assert {a["adset_id"] for a in ads} == {s["id"] for s in adsets}
    assert len(ads) >= len(adsets) >= len(campaigns)
    first, adset, ad = campaigns[0], adsets[0], ads[0]
    assert meta.ok(f"/{first['id']}", fields="id,name") == first
    assert meta.ok(f"/{first['id']}/adsets", fields="id")["data"] == [
        {"id": s["id"]} for s in adsets if s["campaign_id"] == first["id"]]
    assert meta.ok(f"/{adset['id']}/", fields="name,campaign_id") == {
        "id": adset["id"], "name": adset["name"], "campaign_id": adset["campaign_id"]}
    assert meta.ok(f"/{ad['id']}", fields="adset_id,name") == {"id": ad["id"], "adset_id": ad["adset_id"],
                                                               "name": ad["name"]}
    meta_error(meta.get(f"/{ad['id']}", token="tok-b"), 100, 33)
    assert meta.ok(f"/{adset['id']}/ads", fields="id")["data"] == [
        {"id": a["id"]} for a in ads if a["adset_id"] == adset["id"]]
    err = meta_error(meta.get(f"/{ad['id']}/campaigns"), 100)
    assert err["message"] == "(#100) Tried accessing nonexisting field (campaigns) on node type (Ad)"


def test_object_insights_and_filtering_on_adset_and_ad_ids(meta):
    adsets = meta.all_rows("/act_2001/adsets", fields="id,campaign_id")
    adset = adsets[0]
    account = meta.all_rows("/act_2001/insights", level="adset", time_range=WEEK, fields="adset_id,campaign_id,spend")
    mine = [r for r in account if r["adset_id"] == adset["id"]]
    assert meta.all_rows(f"/{adset['id']}/insights", time_range=WEEK, fields="adset_id,campaign_id,spend") == mine
    flt = json.dumps([{"field": "adset.id", "operator": "IN", "value": [adset["id"]]}])
    assert meta.all_rows("/act_2001/insights", level="adset", time_range=WEEK, fields="adset_id,campaign_id,spend",
                         filtering=flt) == mine
    campaign_rows = meta.all_rows("/act_2001/insights", level="campaign", time_range=WEEK, fields="campaign_id,spend")
    own = [r for r in campaign_rows if r["campaign_id"] == adset["campaign_id"]]
    assert meta.all_rows(f"/{adset['campaign_id']}/insights", time_range=WEEK, fields="campaign_id,spend") == own
    ads = meta.all_rows("/act_2001/insights", level="ad", time_range=WEEK, fields="ad_id,spend",
                        filtering=json.dumps([{"field": "campaign.id", "operator": "EQUAL",
                                               "value": adset["campaign_id"]}]))
    assert sum(Decimal(r["spend"]) for r in ads) == Decimal(own[0]["spend"])


# -- 4. fields
COMMON = ("cost_per_action_type", "unique_clicks", "outbound_clicks", "conversions", "cost_per_inline_link_click",
          "inline_link_click_ctr", "buying_type", "optimization_goal", "video_play_actions",
          "video_p25_watched_actions", "video_p100_watched_actions", "video_thruplay_watched_actions")


def test_insights_answer_the_common_fields_from_the_facts(meta):
    row = meta.all_rows("/act_2001/insights", level="campaign", time_range=WEEK, fields=",".join(
        ("campaign_id", "spend", "clicks", "inline_link_clicks", "impressions", "actions", *COMMON)),
        filtering=json.dumps([{"field": "campaign.objective", "operator": "EQUAL", "value": "OUTCOME_SALES"}]))[0]
    assert set(COMMON) <= set(row), set(COMMON) - set(row)
    spend, inline = Decimal(row["spend"]), Decimal(row["inline_link_clicks"])
    assert Decimal(row["cost_per_inline_link_click"]) == (spend / inline).quantize(Decimal("0.000001"))
    assert Decimal(row["inline_link_click_ctr"]) == (inline * 100 / Decimal(row["impressions"])).quantize(
        Decimal("0.000001"))
    assert 0 < int(row["unique_clicks"]) <= int(row["clicks"])
    purchases = stat(row, "actions")
    assert stat(row, "conversions") == purchases > 0
    assert stat(row, "cost_per_action_type") == (spend / purchases).quantize(Decimal("0.000001"))
    assert row["buying_type"] == "AUCTION" and row["optimization_goal"] == "OFFSITE_CONVERSIONS"
    plays = stat(row, "video_play_actions", "video_view")
    assert plays > stat(row, "video_p25_watched_actions", "video_view") > stat(
        row, "video_p100_watched_actions", "video_view") > 0


def test_unknown_fields_are_refused_naming_them(meta):
    err = meta_error(meta.get("/act_2001/insights", fields="spend,landing_page_views"), 100)
    assert err["message"].startswith("(#100) landing_page_views is not valid for fields param")
    err = meta_error(meta.get("/act_2001/campaigns", fields="id,budget"), 100)
    assert err["message"] == "(#100) Tried accessing nonexisting field (budget) on node type (Campaign)"


def test_campaigns_and_accounts_answer_their_sdk_fields(meta):
    (campaign,) = meta.ok("/act_2001/campaigns", fields="id,adlabels,buying_type,special_ad_categories",
                          limit=1)["data"]
    assert campaign["adlabels"][0]["name"] and campaign["buying_type"] == "AUCTION"
    assert campaign["special_ad_categories"] == []
    node = meta.ok("/act_2001", fields="amount_spent,balance,spend_cap,business,owner,funding_source")
    spent = sum(r["spend"] for r in truth(meta.accounts[0], START, TODAY, as_of=TODAY))
    assert node["amount_spent"] == str(int(spent * 100))
    assert (node["balance"], node["spend_cap"]) == ("0", "0")
    assert node["owner"] == node["business"]["id"] and node["business"]["name"]
    assert node["funding_source"].isdigit()


# -- 5. the smaller ones
@pytest.mark.parametrize("preset,since,until", [
    ("last_month", "2026-10-01", "2026-10-31"), ("this_quarter", "2026-10-01", "2026-11-22"),
    ("last_quarter", "2026-07-01", "2026-09-30"), ("last_week_mon_sun", "2026-11-09", "2026-11-15"),
    ("last_week_sun_sat", "2026-11-15", "2026-11-21"), ("this_week_mon_today", "2026-11-16", "2026-11-22"),
    ("this_week_sun_today", "2026-11-22", "2026-11-22"), ("last_year", "2025-01-01", "2025-12-31"),
    ("this_year", "2026-01-01", "2026-11-22"), ("maximum", "2023-10-22", "2026-11-22"),
    ("data_maximum", START.isoformat(), "2026-11-22"), ("last_90d", "2026-08-24", "2026-11-21"),
])
def test_date_presets_the_sdk_lists(meta, preset, since, until):
    assert TODAY.isoweekday() == 7        # the expectations above are for a Sunday
    (row,) = meta.ok("/act_2001/insights", date_preset=preset, fields="spend")["data"]
    assert (row["date_start"], row["date_stop"]) == (since, until)


def test_date_presets_follow_each_accounts_timezone_on_the_sandbox_clock(meta):
    meta.now = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)      # still November 30 in New York, December 1 in Paris
    (ny,) = meta.ok("/act_2001/insights", date_preset="last_month", fields="spend")["data"]
    (paris,) = meta.ok("/act_2002/insights", token="tok-b", date_preset="last_month", fields="spend")["data"]
    assert (ny["date_start"], ny["date_stop"]) == ("2026-10-01", "2026-10-31")
    assert (paris["date_start"], paris["date_stop"]) == ("2026-11-01", "2026-11-30")
    assert meta_error(meta.get("/act_2001/insights", date_preset="lifetime"), 100)["message"].startswith(
        "(#100) date_preset must be one of the following values")


def test_adaccounts_rows_always_carry_id(meta):
    assert meta.ok("/me/adaccounts", fields="name")["data"] == [{"name": "Main", "id": "act_2001"}]
    assert meta.ok("/me/adaccounts", fields="currency,account_id")["data"] == [
        {"currency": "USD", "account_id": "2001", "id": "act_2001"}]


def test_business_users(meta):
    (user,) = meta.ok("/me/business_users", fields="id,name,business,role")["data"]
    owner = meta.ok("/act_2001", fields="business")["business"]
    assert user["business"] == owner and user["role"] == "ADMIN" and user["id"].isdigit()
    meta_error(meta.get("/me/business_users", fields="salary"), 100)


def test_batch_answers_each_call_as_code_headers_and_body(meta):
    calls = [{"method": "GET", "relative_url": "act_2001/?fields=name,currency"},
             {"method": "GET", "relative_url": f"act_2001/insights?level=campaign&time_range={WEEK}&fields=spend"},
             {"method": "GET", "relative_url": "v26.0/me/adaccounts?fields=name"},
             {"method": "GET", "relative_url": "act_2002"}]
    response = meta.session.post(f"{meta.graph}/v26.0/", timeout=60,
                                 data={"access_token": "tok-a", "batch": json.dumps(calls)})
    assert response.status_code == 200, response.text
    assert_usage_headers(response)
    answers = response.json()
    assert [a["code"] for a in answers] == [200, 200, 200, 400]
    assert json.loads(answers[0]["body"]) == meta.ok("/act_2001", fields="name,currency")
    assert json.loads(answers[1]["body"]) == meta.ok("/act_2001/insights", level="campaign", time_range=WEEK,
                                                     fields="spend")
    assert json.loads(answers[2]["body"])["data"] == [{"name": "Main", "id": "act_2001"}]
    assert json.loads(answers[3]["body"])["error"]["error_subcode"] == 33
    assert "X-Ad-Account-Usage" in {h["name"] for h in answers[0]["headers"]}
    without_slash = meta.session.post(f"{meta.graph}/v26.0", timeout=60,
                                      data={"access_token": "tok-a", "batch": json.dumps(calls[:1])})
    assert [a["code"] for a in without_slash.json()] == [200]


def test_edges_honour_filtering_and_effective_status(meta):
    campaigns = meta.all_rows("/act_2001/campaigns", fields="id,effective_status,updated_time")
    assert {c["effective_status"] for c in campaigns} <= {"ACTIVE", "PAUSED"}
    active = [c["id"] for c in campaigns if c["effective_status"] == "ACTIVE"]
    assert [c["id"] for c in meta.all_rows("/act_2001/campaigns", effective_status='["ACTIVE"]')] == active
    flt = json.dumps([{"field": "campaign.effective_status", "operator": "IN", "value": ["ACTIVE"]}])
    assert [c["id"] for c in meta.all_rows("/act_2001/campaigns", filtering=flt)] == active
    latest = max(datetime.strptime(c["updated_time"], "%Y-%m-%dT%H:%M:%S%z") for c in campaigns)
    flt = json.dumps([{"field": "campaign.updated_time", "operator": "GREATER_THAN",
                       "value": int(latest.timestamp()) - 1}])
    newest = meta.all_rows("/act_2001/campaigns", filtering=flt, fields="updated_time")
    assert newest and all(datetime.strptime(c["updated_time"], "%Y-%m-%dT%H:%M:%S%z") == latest for c in newest)
    ads = meta.all_rows("/act_2001/ads", fields="id,adset_id")
    flt = json.dumps([{"field": "ad.adset_id", "operator": "EQUAL", "value": ads[0]["adset_id"]}])
    assert meta.all_rows("/act_2001/ads", fields="id,adset_id", filtering=flt) == [
        a for a in ads if a["adset_id"] == ads[0]["adset_id"]]
    meta_error(meta.get("/act_2001/campaigns", filtering=json.dumps([{"field": "campaign.budget",
                                                                      "operator": "EQUAL", "value": 1}])), 100)


def test_batch_without_headers(meta):
    calls = [{"method": "GET", "relative_url": "me/adaccounts?fields=name"}]
    answers = meta.session.post(f"{meta.graph}/v26.0/", timeout=60, data={
        "access_token": "tok-a", "batch": json.dumps(calls), "include_headers": "false"}).json()
    assert [sorted(a) for a in answers] == [["body", "code"]] and answers[0]["code"] == 200
    assert json.loads(answers[0]["body"])["data"] == [{"name": "Main", "id": "act_2001"}]


def test_reach_is_left_out_of_breakdowns_starting_more_than_13_months_back(meta):
    recent = {"since": "2025-11-01", "until": "2025-11-30"}      # 12 months before the clock (2026-11-22)
    old = {"since": "2025-10-01", "until": "2025-10-31"}         # 13 months and more
    for rng, has_reach in ((recent, True), (old, False)):
        rows = meta.all_rows("/act_2001/insights", time_range=json.dumps(rng), fields="spend,reach,frequency",
                             breakdowns="age")
        assert rows and all(("reach" in r) == ("frequency" in r) == has_reach for r in rows)
    (whole,) = meta.all_rows("/act_2001/insights", time_range=json.dumps(old), fields="spend,reach")
    assert int(whole["reach"]) > 0
