"""Meta's official Python SDK (facebook-business), unmodified, reads the sandbox over loopback HTTP (issue 12)."""

from decimal import Decimal

import pytest
from facebook_business.adobjects.ad import Ad
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.adreportrun import AdReportRun
from facebook_business.adobjects.adset import AdSet
from facebook_business.adobjects.adsinsights import AdsInsights
from facebook_business.adobjects.campaign import Campaign
from facebook_business.api import FacebookAdsApi, FacebookSession
from facebook_business.exceptions import FacebookRequestError

from tests.sandbox.meta_http import MetaServer

WEEK = {"since": "2026-11-01", "until": "2026-11-07"}
# Names the SDK lists among a class's fields that are parameters for creating one, not fields to read.
WRITE_ONLY = {"adbatch", "budget_schedule_specs", "execution_options", "iterative_split_test_configs", "adset_spec",
              "audience_id", "dataset_split_specs", "date_format", "draft_adgroup_id", "include_demolink_hashes",
              "filename"}


@pytest.fixture(scope="module")
def meta():
    server = MetaServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(meta):
    session = FacebookSession(access_token="tok-a")
    session.GRAPH = meta.graph          # the sandbox, never graph.facebook.com
    return FacebookAdsApi(session, api_version="v26.0")


def sdk_fields(cls) -> list[str]:
    return sorted(v for k, v in vars(cls.Field).items() if not k.startswith("_") and v not in WRITE_ONLY)


def test_the_sdk_reads_an_account_and_its_objects(api):
    account = AdAccount("act_2001", api=api).api_get(fields=sdk_fields(AdAccount))
    assert account[AdAccount.Field.currency] == "USD" and account[AdAccount.Field.amount_spent].isdigit()
    cursor = account.get_campaigns(fields=sdk_fields(Campaign))
    campaigns = list(cursor)
    assert cursor.total() == len(campaigns) > 0
    adsets = list(account.get_ad_sets(fields=sdk_fields(AdSet)))
    ads = list(account.get_ads(fields=sdk_fields(Ad)))
    assert {s[AdSet.Field.campaign_id] for s in adsets} == {c["id"] for c in campaigns}
    assert {a[Ad.Field.adset_id] for a in ads} == {s["id"] for s in adsets}
    first = Campaign(campaigns[0]["id"], api=api).api_get(fields=[Campaign.Field.name, Campaign.Field.adlabels])
    assert first[Campaign.Field.name] == campaigns[0][Campaign.Field.name]


def test_the_sdk_asks_for_every_insights_field_it_lists(api):
    rows = AdAccount("act_2001", api=api).get_insights(
        fields=sdk_fields(AdsInsights), params={"level": "ad", "time_range": WEEK, "time_increment": 1})
    rows = list(rows)
    assert rows and all(r[AdsInsights.Field.ad_id] for r in rows)


def test_the_sdk_runs_async_insights_to_the_same_figures_as_sync(api):
    params = {"level": "campaign", "time_range": WEEK, "time_increment": 1,
              "breakdowns": [AdsInsights.Breakdowns.age, AdsInsights.Breakdowns.gender]}
    fields = [AdsInsights.Field.campaign_id, AdsInsights.Field.spend, AdsInsights.Field.actions]
    account = AdAccount("act_2001", api=api)
    run = account.get_insights(fields=fields, params=params, is_async=True)
    while run.api_get()[AdReportRun.Field.async_status] != "Job Completed":
        pass
    async_rows = [r.export_all_data() for r in run.get_result(params={"limit": 500})]
    sync_rows = [r.export_all_data() for r in account.get_insights(fields=fields, params=params)]
    assert async_rows == sync_rows and {r["age"] for r in sync_rows} >= {"18-24", "65+"}
    whole = list(account.get_insights(fields=fields, params={k: v for k, v in params.items() if k != "breakdowns"}))
    assert sum(Decimal(r["spend"]) for r in sync_rows) == sum(Decimal(r["spend"]) for r in whole)


def test_the_sdk_batches_calls(api):
    got, failed = [], []
    batch = api.new_batch()
    for account_id in ("act_2001", "act_2002"):
        AdAccount(account_id, api=api).api_get(fields=[AdAccount.Field.name], batch=batch,
                                               success=lambda r: got.append(r.json()),
                                               failure=lambda r: failed.append(r.json()))
    assert batch.execute() is None
    assert got == [{"name": "Main", "id": "act_2001"}]
    assert failed[0]["error"]["error_subcode"] == 33     # tok-a may not see act_2002


def test_the_sdk_raises_metas_error_for_an_unknown_field(api):
    with pytest.warns(UserWarning, match="landing_page_views"), pytest.raises(FacebookRequestError) as raised:
        AdAccount("act_2001", api=api).get_insights(fields=["spend", "landing_page_views"])
    assert raised.value.api_error_code() == 100
    assert raised.value.api_error_message().startswith(
        "(#100) landing_page_views is not valid for fields param")
