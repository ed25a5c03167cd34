"""CSV uploads from the command line: queue a file's batch and run it through the same path as the web's.

    python -m ingest.uploads load --shop DOMAIN --kind marketplace-orders|payouts [--map "THEIRS=OURS" ...] FILE
    python -m ingest.uploads template --kind marketplace-orders|payouts

`load` keeps the file, queues its batch's job and runs it here (a scheduler that claims it first runs it
instead, and this waits), then prints the batch's counts and first bad rows. A refused file (too large,
unreadable, missing columns, unknown store) is one line on stderr and exit status 2; a file seen before
says which batch holds it and loads nothing. The database is DATABASE_URL, or the embedded default's.
"""

import argparse
import sys
import time
from pathlib import Path

from sqlalchemy import text

import embedded
import settings
from database import scheduler_sessionmaker, session_scope
from ingest.runner import Worker
from ingest.uploads import batches, formats, job, receive

WAIT_SECONDS = 0.2


class UsageError(Exception):
    """A problem with what was asked, reported in one line."""


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    """--map "Their header=Our column" pairs as a dict."""
    mapping = {}
    for pair in pairs:
        theirs, sep, ours = pair.partition("=")
        if not sep or not theirs.strip() or not ours.strip():
            raise UsageError(f"--map {pair!r}: write it as \"Their header=Our column\"")
        mapping[theirs.strip()] = ours.strip()
    return mapping


def load(*, shop: str, kind: str, path: Path, mapping: dict[str, str]) -> tuple[receive.Received, dict]:
    """Receive `path` for `shop`, run its job to the end, and return the batch as it then is."""
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    if path.stat().st_size > settings.UPLOAD_MAX_BYTES:  # refused before anything is kept
        raise UsageError(receive.too_large(path.stat().st_size))
    sessions = scheduler_sessionmaker(embedded.default_url())
    try:
        with session_scope(sessions) as session:
            shop_id = session.execute(text("SELECT id FROM app_dashboard.shops WHERE shop_domain = :d"),
                                      {"d": shop}).scalar()
            if shop_id is None:
                raise UsageError(f"unknown shop {shop}: connect it first")
            with open(path, "rb") as stream:
                received = receive.receive(session=session, shop_id=shop_id, kind=kind, stream=stream,
                                           filename=path.name, mapping=mapping)
        if received.created:
            _run(sessions, received.job_id)
        return received, _report(sessions, received.batch_id)
    except receive.UploadRefused as error:
        raise UsageError(f"{path}: {error}") from None
    finally:
        sessions.kw["bind"].dispose()


def _run(sessions, job_id: int) -> None:
    """Run the job here, or wait for the scheduler that took it."""
    assert job.load_batch  # the handlers are registered by importing ingest.uploads.job
    if Worker(sessions, threads=1).run_one(job_id):
        return
    while True:
        with session_scope(sessions) as session:
            status = session.execute(text("SELECT status FROM app_dashboard.sync_jobs WHERE id = :j"),
                                     {"j": job_id}).scalar()
        if status not in ("queued", "running"):
            return
        time.sleep(WAIT_SECONDS)


def _report(sessions, batch_id: int) -> dict:
    with session_scope(sessions) as session:
        batch = batches.get(session=session, batch_id=batch_id)
        rejects = session.execute(text(
            "SELECT line_no, reason FROM staging_ingest.upload_rejects WHERE batch_id = :b ORDER BY line_no "
            "LIMIT :n"), {"b": batch_id, "n": settings.UPLOAD_SHOWN_REJECTS}).all()
        job_error = session.execute(text("SELECT error_message FROM app_dashboard.sync_jobs WHERE id = :j"),
                                    {"j": batch.job_id}).scalar() if batch.job_id else None
        return {"id": batch.id, "status": batch.status, "rows": batch.rows_total, "loaded": batch.rows_loaded,
                "rejected": batch.rows_rejected, "period": (batch.period_start, batch.period_end),
                "replaced_by": batch.replaced_by, "error": batch.error or job_error,
                "rejects": [(n, reason) for n, reason in rejects]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest.uploads", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    loading = commands.add_parser("load", help="load a CSV file into a connected shop")
    loading.add_argument("--shop", required=True, help="the shop's myshopify domain")
    loading.add_argument("--kind", required=True, choices=list(formats.FORMATS))
    loading.add_argument("--map", action="append", default=[], metavar="THEIRS=OURS",
                         help="a file's header that names one of our columns otherwise (repeatable)")
    loading.add_argument("file", type=Path)
    template = commands.add_parser("template", help="print the kind's CSV template")
    template.add_argument("--kind", required=True, choices=list(formats.FORMATS))
    args = parser.parse_args(argv)

    if args.command == "template":
        sys.stdout.write(formats.template(formats.FORMATS[args.kind]))
        return 0
    try:
        received, batch = load(shop=args.shop, kind=args.kind, path=args.file, mapping=parse_mapping(args.map))
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not received.created:
        print(f"{args.file}: already uploaded: batch {batch['id']} holds this file ({batch['status']}); "
              "nothing loaded again")
        return 0
    print(f"{args.file}: batch {batch['id']} {batch['status']}: {batch['rows'] or 0} rows, "
          f"{batch['loaded'] or 0} loaded, {batch['rejected'] or 0} rejected"
          + (f", period {batch['period'][0]} to {batch['period'][1]}" if batch["period"][0] else ""))
    if batch["error"]:
        print(f"  error: {batch['error']}")
    for line_no, reason in batch["rejects"]:
        print(f"  line {line_no}: {reason}")
    return 0 if batch["status"] in ("loaded", "partially_loaded") else 1


if __name__ == "__main__":
    sys.exit(main())
