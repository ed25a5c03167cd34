"""A scheduler SIGKILLed while a corrected file replaces its batch leaves the old batch or the new, never a mix."""

import signal

from database import session_scope
from ingest import jobs
from ingest.uploads import receive
from tests.conftest import scalar, wait_for

HEADER = "Order ID,Date,Currency,Gross,Discounts,Refunds,Fees,Net,Channel\n"
NEW_ROWS = 150_000


def _file(path, rows: int, gross: str) -> None:
    with open(path, "w") as f:
        f.write(HEADER)
        for n in range(rows):
            f.write(f"M-{n},2026-11-{1 + n % 30:02d}T12:00:00+01:00,EUR,{gross},0,0,1,9,Amazon\n")


def _receive(sessions, shop_id, path) -> int:
    with session_scope(sessions) as session, open(path, "rb") as stream:
        return receive.receive(session=session, shop_id=shop_id, kind="marketplace-orders", stream=stream,
                               filename=path.name).batch_id


def _batches_in_warehouse(sessions) -> dict:
    rows = scalar(sessions, "SELECT json_object_agg(batch_id, n) FROM (SELECT batch_id, count(*) AS n "
                            "FROM core_warehouse.marketplace_orders GROUP BY batch_id) x")
    return {int(k): v for k, v in (rows or {}).items()}


def test_sigkill_while_loading_leaves_the_old_batch_or_the_new_never_a_mix(spawn, shop, tmp_path, upload_dir,
                                                                            scheduler_sessions):
    shop_id, _ = shop
    first = spawn(UPLOAD_DIR=str(upload_dir))
    _file(tmp_path / "old.csv", 3_000, "10")
    old = _receive(scheduler_sessions, shop_id, tmp_path / "old.csv")
    wait_for(lambda: scalar(scheduler_sessions, "SELECT status FROM app_dashboard.upload_batches WHERE id = :b",
                            b=old) == "loaded", timeout=60, what="the old batch to load")
    _file(tmp_path / "new.csv", NEW_ROWS, "12")
    new = _receive(scheduler_sessions, shop_id, tmp_path / "new.csv")
    job_id = scalar(scheduler_sessions, "SELECT job_id FROM app_dashboard.upload_batches WHERE id = :b", b=new)

    def promoting():
        with session_scope(scheduler_sessions) as session:
            return jobs.get(session=session, job_id=job_id).progress_label == "loading into the warehouse"

    wait_for(promoting, timeout=120, interval=0.01, what="the new batch's promotion to start")
    first.send_signal(signal.SIGKILL)
    first.wait()
    after_kill = _batches_in_warehouse(scheduler_sessions)
    assert after_kill in ({old: 3_000}, {new: NEW_ROWS}), after_kill
    # The rollup committed with the rows it sums, whichever batch they are.
    total = scalar(scheduler_sessions, "SELECT sum(net_sales)::int FROM reporting.daily_channel_sales")
    assert total == (30_000 if after_kill == {old: 3_000} else 12 * NEW_ROWS)

    spawn(UPLOAD_DIR=str(upload_dir))
    wait_for(lambda: scalar(scheduler_sessions, "SELECT status FROM app_dashboard.upload_batches WHERE id = :b",
                            b=new) == "loaded", timeout=180, what="another scheduler to finish the new batch")
    assert _batches_in_warehouse(scheduler_sessions) == {new: NEW_ROWS}
    assert scalar(scheduler_sessions, "SELECT status FROM app_dashboard.upload_batches WHERE id = :b",
                  b=old) == "replaced"
    assert scalar(scheduler_sessions, "SELECT sum(net_sales)::int FROM reporting.daily_channel_sales") == 12 * NEW_ROWS
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.upload_log WHERE batch_id = :b "
                                      "AND step = 'loaded'", b=new) == 1
