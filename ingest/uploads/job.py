"""The sync_jobs handler that loads a batch: stage (COPY), check, promote, reconcile, each step logged.

A restarted job resumes from what committed: a batch already loaded is done; otherwise the file is staged
again (staging commits with its checks, promotion is one transaction), so a kill never leaves half a batch.
"""

from sqlalchemy import text

from database import session_scope
from ingest.errors import PermanentError
from ingest.runner import JobContext, handler
from ingest.uploads import batch_table, batches, checks, formats, promote, reader, reconcile, stage

SHOWN_ERRORS = 20
DONE = ("loaded", "partially_loaded", "replaced")


def load_batch(ctx: JobContext) -> None:
    """Load the batch named in the job's params."""
    batch_id = ctx.params["batch_id"]
    with session_scope(ctx.sessions) as session:
        batch = batches.get(session=session, batch_id=batch_id)
        if batch is None:
            raise PermanentError(f"batch {batch_id} does not exist (any more)")
        if batch.status in DONE:
            return
        shop_id, fmt, path, mapping, size = (batch.shop_id, formats.FORMATS[batch.kind], batch.path,
                                             batch.mapping, batch.size_bytes)
        batches.set_status(session=session, batch_id=batch_id, status="parsing")
    try:
        checked = _stage_and_check(ctx, batch_id, shop_id, fmt, path, mapping, size)
        if checked.good == 0:
            raise PermanentError("no row of the file could be loaded: see its bad rows",
                                 hint="Correct the file and upload it again.")
        ctx.checkpoint(label="loading into the warehouse")
        with session_scope(ctx.sessions) as session:
            promoted = promote.promote(session=session, shop_id=shop_id, batch_id=batch_id, fmt=fmt,
                                       rejected=checked.bad + checked.duplicate)
            if promoted.loaded != checked.good:  # staging is UNLOGGED: a server crash in between empties it
                raise RuntimeError(f"{checked.good} rows were checked but {promoted.loaded} were left in staging; "
                                   "the file is staged again on the next attempt")
        _reconcile(ctx, batch_id, shop_id, promoted)
    except Exception as error:
        if isinstance(error, PermanentError | reader.ReadError | FileNotFoundError) or \
                ctx.job.attempts >= ctx.job.max_attempts:
            _fail(ctx, batch_id, shop_id, error)
            if not isinstance(error, PermanentError):
                raise PermanentError(str(error), hint="Correct the file and upload it again.") from error
        raise


def _stage_and_check(ctx: JobContext, batch_id: int, shop_id: int, fmt, path, mapping, size) -> checks.Checked:
    def progress(done_bytes: int, rows: int) -> None:
        ctx.checkpoint(done=done_bytes, total=size, label=f"read {rows:,} rows")

    ctx.checkpoint(done=0, total=size, label="reading the file")
    with session_scope(ctx.sessions) as session:
        staged = stage.stage(session=session, shop_id=shop_id, batch_id=batch_id, fmt=fmt, path=path,
                             mapping=mapping, on_progress=progress)
        checked = checks.check(session=session, shop_id=shop_id, batch_id=batch_id, fmt=fmt)
        bad = staged.rejected + checked.bad
        first = session.execute(text("SELECT line_no, reason FROM staging_ingest.upload_rejects WHERE batch_id = :b "
                                     "ORDER BY line_no LIMIT :n"), {"b": batch_id, "n": SHOWN_ERRORS}).all()
        batches.set_status(session=session, batch_id=batch_id, status="parsing",
                           rows_total=staged.rows + staged.rejected, rows_rejected=bad + checked.duplicate)
        batches.log(session=session, batch=batch_id, shop_id=shop_id, step="parsed",
                    rows=staged.rows + staged.rejected, good=checked.good, bad=bad + checked.duplicate,
                    duplicates=checked.duplicate, errors=[f"line {n}: {reason}" for n, reason in first],
                    read="copy" if staged.copied else "python")
    ctx.checkpoint(done=size, total=size, label=f"checked {staged.rows + staged.rejected:,} rows")
    return checks.Checked(checked.good, bad, checked.duplicate)


def _reconcile(ctx: JobContext, batch_id: int, shop_id: int, promoted: promote.Promoted) -> None:
    if promoted.period is None:
        return
    with session_scope(ctx.sessions) as session:
        counts = reconcile.summarise(session=session, shop_id=shop_id, start=promoted.period[0],
                                     end=promoted.period[1])
        batches.log(session=session, batch=batch_id, shop_id=shop_id, step="reconciled",
                    rows=sum(counts.values()), good=sum(v for k, v in counts.items() if k.endswith("/matched")),
                    bad=sum(v for k, v in counts.items() if not k.endswith("/matched")), counts=counts)


def _fail(ctx: JobContext, batch_id: int, shop_id: int, error: Exception) -> None:
    with session_scope(ctx.sessions) as session:
        if batches.get(session=session, batch_id=batch_id).kind in batch_table.KINDS:  # its good rows, if not loaded
            session.execute(text("SELECT core_warehouse.drop_marketplace_batch(:b) WHERE NOT EXISTS ("
                                 "SELECT FROM pg_inherits WHERE inhrelid = to_regclass(:t))"),
                            {"b": batch_id, "t": batch_table.name(batch_id)})
            session.execute(text("DELETE FROM staging_ingest.upload_channel_sums WHERE batch_id = :b"), {"b": batch_id})
        batches.set_status(session=session, batch_id=batch_id, status="failed", error=str(error)[:2000])
        batches.log(session=session, batch=batch_id, shop_id=shop_id, step="failed", error=str(error)[:2000])


for _fmt in formats.FORMATS.values():
    handler("upload", _fmt.job_kind)(load_batch)
