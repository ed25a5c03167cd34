"""In a real browser: an admin uploads a payouts CSV, watches its batch reach loaded, sees its bad row, and
the reconciliation's totals against the store's orders."""

import pytest
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

import scheduler
import settings
from tests.conftest import wait_for
from tests.ingest.uploads.conftest import write
from tests.ingest.uploads.test_payouts import HEADER, _orders
from tests.web import sign_in

pytestmark = pytest.mark.browser
SHOTS = settings.ROOT / "screenshots"


def _shots(dash_duo, name):
    """The page as it stands, at a desktop's and a phone's size; at neither does the page scroll sideways."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1440, 900), (390, 844)):
        dash_duo.driver.set_window_size(width, height)
        dash_duo.driver.save_screenshot(str(SHOTS / f"{name}-{width}x{height}.png"))
        wide, shown = dash_duo.driver.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert wide <= shown, f"{name} at {width} px is {wide} px wide"
    dash_duo.driver.set_window_size(1440, 900)


@pytest.fixture
def upload_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "UPLOAD_DIR", tmp_path / "uploads")
    return tmp_path / "uploads"


@pytest.fixture
def running_scheduler(db_url, upload_dir):
    service = scheduler.start_in_background(db_url, poll_seconds=0.2, heartbeat_seconds=0.5, reap_seconds=1)
    yield service
    service.stop(grace_seconds=3)


def test_admin_uploads_payouts_sees_the_batch_loaded_its_bad_rows_and_the_reconciliation(
        dash_duo, server, running_scheduler, make_shop, make_user, scheduler_sessions, tmp_path):
    shop_id = make_shop("browser-shop.myshopify.com", currency="EUR", timezone="Europe/Paris")
    make_user("boss@agency.test", role="admin", shops=[shop_id])
    _orders(scheduler_sessions, shop_id, [("#1001", "2026-11-03T10:00:00+01:00", "56.29", "shopify_payments"),
                                          ("#1002", "2026-11-10T09:00:00+01:00", "25.00", "shopify_payments")])
    path = write(tmp_path / "payouts.csv", HEADER
                 + "2026-11-03 10:15:00 +0100,charge,#1001,visa,online,paid,2026-11-05,1,2026-11-05,"
                   "56.29,1.93,54.36,#111,card,56.29,EUR,EUR\n"
                 + "not a date,charge,#1002,visa,online,paid,2026-11-12,2,2026-11-12,25.00,1.03,23.97,#222,card,"
                   "25.00,EUR,EUR\n")
    dash_duo.start_server(server.extensions["dash"], navigate=False)
    base = sign_in(dash_duo, "boss@agency.test")
    dash_duo.wait_for_element("#current-user")
    dash_duo.driver.get(f"{base}/uploads?shop={shop_id}")
    dash_duo.wait_for_element("#upload-file")
    Select(dash_duo.find_element("#upload-kind")).select_by_value("payouts")
    dash_duo.find_element("#upload-file").send_keys(path)
    dash_duo.find_element("#upload-submit").click()
    dash_duo.wait_for_contains_text("#batch-1-status", "partially loaded", timeout=30)
    wait_for(lambda: "bad date: 'not a date' in Transaction Date" in dash_duo.find_element("#upload-batch").text,
             timeout=15, what="the bad row on the page: " + dash_duo.find_element("#uploads-page").text[:600])
    log = dash_duo.find_element("#batch-log").text
    assert "loaded" in log and "period: 2026-11-03 – 2026-11-03" in log and "[" not in log and "{" not in log
    _shots(dash_duo, "uploads")
    # A file whose headers differ: the mapping step, one labelled dropdown per column, pre-filled where they match.
    other = write(tmp_path / "otto.csv", "Order No;Order Date;Currency Code;Total;Net Amount;Storefront\n"
                                         "B-1;2026-10-15T14:05:00+02:00;EUR;10,00;9,00;Otto\n")
    dash_duo.find_element("#upload-file").send_keys(other)
    dash_duo.find_element("#upload-submit").click()
    dash_duo.wait_for_element("#mapping-form")
    assert "missing columns Gross, Channel" in dash_duo.find_element("#upload-error").text
    assert Select(dash_duo.find_element("#map-currency")).first_selected_option.text == "Currency Code"
    assert dash_duo.find_element("label[for='map-gross']").text == "Gross (required)"
    _shots(dash_duo, "uploads-mapping")
    Select(dash_duo.find_element("#map-gross")).select_by_visible_text("Total")
    dash_duo.find_element("#map-channel").send_keys("Storefront")  # the keyboard: typing picks the option
    dash_duo.find_element("#mapping-submit").send_keys(Keys.ENTER)  # and Enter on the button submits
    dash_duo.wait_for_contains_text("#batch-2-status", "loaded", timeout=30)
    assert dash_duo.find_elements("#mapping-form") == []
    dash_duo.driver.get(f"{base}/reconciliation?shop={shop_id}&preset=custom&start=2026-11-01&end=2026-11-30")
    dash_duo.wait_for_element("#reconciliation-totals")
    assert dash_duo.find_element("#total-orders").text == "81.29"
    assert dash_duo.find_element("#total-payouts").text == "56.29"
    assert dash_duo.find_element("#total-fees").text == "1.93"
    assert "missing payout" in dash_duo.find_element("#total-missing_payout").text
    _shots(dash_duo, "reconciliation")
    assert dash_duo.get_logs() == []
