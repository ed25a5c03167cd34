"""FX rates: the ECB's CSV loaded (malformed lines reported by number), a missing day flagged, the sandbox's file."""

import threading
from datetime import UTC, datetime
from decimal import Decimal

import requests
from sqlalchemy import text

import settings
from database import session_scope
from ingest import fx
from tests.conftest import scalar, wait_for
from tests.reporting.warehouse import add_order, add_rates, fetch, set_reporting_currency

ECB = """Date,USD,JPY,BGN,CYP,GBP,
2026-03-06,1.0850,161.20,1.9558,N/A,0.8450,
2026-03-05,1.0800,oops,1.9558,N/A,0.8400,
2026-13-04,1.0700,160.00,1.9558,N/A,0.8300,
2026-03-04,1.0750,160.50,1.9558,N/A,0.8350,
"""


def test_a_malformed_line_is_reported_by_number_and_the_rest_loads(scheduler_sessions, tmp_path, monkeypatch,
                                                                    db_url, capsys):
    path = tmp_path / "eurofxref-hist.csv"
    path.write_text(ECB)
    monkeypatch.setattr(settings, "DATABASE_URL", db_url)
    assert fx.main(["load", str(path)]) == 0
    out = capsys.readouterr().out
    assert "line 3: JPY rate 'oops' is not a number" in out and "line 4: month must be in 1..12" in out
    loaded = fetch(scheduler_sessions, "SELECT day::text, quote FROM reporting.fx_rates ORDER BY day, quote")
    assert [(r["day"], r["quote"]) for r in loaded] == [("2026-03-04", q) for q in ("BGN", "GBP", "JPY", "USD")] + [
        ("2026-03-06", q) for q in ("BGN", "GBP", "JPY", "USD")]  # N/A cells are no rate, not zero
    assert fx.main(["load", str(path)]) == 0  # again: the same rates, replaced
    assert scalar(scheduler_sessions, "SELECT count(*) FROM reporting.fx_rates") == 8


def test_a_day_without_a_rate_uses_the_latest_earlier_one_and_says_so(scheduler_sessions, make_shop):
    with session_scope(scheduler_sessions) as session:
        fx.load(session=session, content=ECB)
        session.execute(text("UPDATE app_dashboard.agency_settings SET reporting_currency = 'EUR'"))
    shop = make_shop(currency="USD", timezone="UTC")
    for day in (6, 7):  # Friday has a rate; Saturday does not
        add_order(scheduler_sessions, shop, f"o{day}", datetime(2026, 3, day, 12, tzinfo=UTC), gross="108.50")
    rows = fetch(scheduler_sessions, "SELECT day::text, fx_rate, fx_estimated FROM reporting.daily_revenue "
                 "WHERE shop_id = :s ORDER BY day", s=shop)
    assert [(r["day"], round(r["fx_rate"], 6), r["fx_estimated"]) for r in rows] == [
        ("2026-03-06", Decimal("0.921659"), False), ("2026-03-07", Decimal("0.921659"), True)]
    cross = scalar(scheduler_sessions, "SELECT round(rate, 6) FROM reporting.fx('GBP', 'USD', '2026-03-05')")
    assert cross == round(Decimal("1.0750") / Decimal("0.8350"), 6)  # 5 March's line is malformed: 4 March's


def test_the_scheduler_refresh_loads_the_sandboxs_ecb_file(scheduler_sessions, sandbox):
    url = sandbox.base_url + "/sandbox/ecb/eurofxref-hist.csv"
    assert requests.get(url, timeout=10).text.startswith("Date,USD,")
    with session_scope(scheduler_sessions) as session:
        parsed = fx.refresh(session=session, url=url)
    assert parsed.errors == []
    weekdays = scalar(scheduler_sessions, "SELECT count(DISTINCT day) FILTER (WHERE extract(isodow FROM day) < 6) "
                      "|| '/' || count(DISTINCT day) FROM reporting.fx_rates")
    assert weekdays.split("/")[0] == weekdays.split("/")[1] != "0"
    with session_scope(scheduler_sessions) as session:
        assert fx.refresh(session=session, url=None) is None  # no URL, nothing to do


def test_a_late_rate_waits_for_a_stores_flush_instead_of_deadlocking_with_it(scheduler_sessions, make_shop,
                                                                            owner_sessions):
    """A rate reconverts every store's kept days: it takes the stores' flush locks first, in the loads' order, so
    it waits for a load committing some of those days rather than locking the others meanwhile (a deadlock)."""
    set_reporting_currency(scheduler_sessions, "EUR")
    add_rates(scheduler_sessions, "2026-03-02", USD="1.10")
    shop = make_shop(currency="USD", timezone="UTC")
    for day in (2, 3):
        add_order(scheduler_sessions, shop, f"o{day}", datetime(2026, 3, day, 12, tzinfo=UTC), gross="110.00")
    loading = scheduler_sessions()  # a load of the store, its days flushed, not yet committed
    loading.execute(text("SELECT reporting.rebuild_rollups(:s)"), {"s": shop})
    refresher = {}

    def refresh():
        try:
            load_rate()
        except Exception as error:  # a deadlock is reported here, in the test's thread
            refresher["error"] = error

    def load_rate():
        with session_scope(scheduler_sessions) as session:
            refresher["pid"] = session.execute(text("SELECT pg_backend_pid()")).scalar()
            session.execute(text("INSERT INTO reporting.fx_rates (day, base, quote, rate) "
                                 "VALUES ('2026-03-03', 'EUR', 'USD', 1.25)"))

    thread = threading.Thread(target=refresh)
    thread.start()
    try:
        # As the database's owner: the scheduler role sees no other session's wait.
        waiting = "SELECT wait_event FROM pg_stat_activity WHERE pid = :p AND wait_event_type = 'Lock'"
        wait_for(lambda: "pid" in refresher and scalar(owner_sessions, waiting, p=refresher["pid"]),
                 what="the rate's refresh to wait")
        assert scalar(owner_sessions, waiting, p=refresher["pid"]) == "advisory"  # the flush lock, not a day's row
    finally:
        loading.commit()
        loading.close()
        thread.join(timeout=30)
    assert "error" not in refresher and not thread.is_alive()
    rows = fetch(scheduler_sessions, "SELECT day::text, round(fx_rate, 6) AS rate, fx_estimated "
                 "FROM reporting.daily_revenue WHERE shop_id = :s ORDER BY day", s=shop)
    assert [tuple(r.values()) for r in rows] == [("2026-03-02", round(1 / Decimal("1.10"), 6), False),
                                                 ("2026-03-03", Decimal("0.800000"), False)]
