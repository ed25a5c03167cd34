"""Staging a batch's file: every row COPY'd as text, with its line number, into a temporary table of the staging
transaction (RAW); the checks' one pass types it into the kind's staging table (checks.py).

One transaction: a restarted job stages the whole file again (the earlier attempt's rows died with it).
Rows whose width differs from the header's are rejected here; every other check is set-based (checks.py).
"""

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

import settings
from ingest.uploads import formats, reader

# Dropped at commit: no WAL, no index, nothing to delete afterwards (COPY's own speed).
RAW = "pg_temp.upload_raw"


@dataclass
class Staged:
    """What staging one file did."""

    rows: int = 0
    rejected: int = 0


def stage(*, session: Session, shop_id: int, batch_id: int, fmt: formats.Format, path: Path,
          mapping: dict[str, str] | None = None, copy_rows: int = settings.UPLOAD_COPY_ROWS,
          on_progress: Callable[[int, int], None] | None = None) -> Staged:
    """COPY the file's rows into RAW (its typed rows of an earlier attempt go); `on_progress(bytes_read, rows)`
    after each COPY."""
    session.execute(text(f"DELETE FROM {fmt.staging} WHERE batch_id = :b"), {"b": batch_id})
    session.execute(text("DELETE FROM staging_ingest.upload_rejects WHERE batch_id = :b"), {"b": batch_id})
    names = ", ".join(c.name for c in fmt.columns)
    session.execute(text(f"CREATE TEMPORARY TABLE {RAW} (line_no bigint, "
                         + ", ".join(f"{c.name} text" for c in fmt.columns) + ") ON COMMIT DROP"))
    cursor = session.connection().connection.dbapi_connection.cursor()
    copy_sql = f"COPY {RAW} (line_no, {names}) FROM STDIN WITH (FORMAT csv)"
    f, rows = reader.open_rows(path)
    staged = Staged()
    with f:
        indexes = formats.match_headers(fmt, rows.header, mapping)
        width = len(rows.header)
        pick = _picker(indexes, width)
        buffer, writer, rejected, count = _new_buffer()
        for line_no, fields in rows.rows:
            if len(fields) != width:
                rejected.append((line_no, f"{len(fields)} fields where the header has {width}", fields))
                continue
            writer.writerow(pick(line_no, fields))
            count += 1
            if count >= copy_rows:
                staged.rows += _flush(cursor, copy_sql, buffer, count)
                staged.rejected += _reject(session, shop_id, batch_id, rejected)
                buffer, writer, rejected, count = _new_buffer()
                if on_progress:
                    on_progress(f.buffer.tell(), staged.rows)
        staged.rows += _flush(cursor, copy_sql, buffer, count)
        staged.rejected += _reject(session, shop_id, batch_id, rejected)
    return staged


def _picker(indexes: list[int | None], width: int) -> Callable[[int, list[str]], list | tuple]:
    """The row for COPY: its line, then its fields in the format's order ('' for an optional column it lacks).

    Per row and in C where possible (a generator per row was 2 of a million-row file's 5 seconds in Python).
    """
    if indexes == list(range(width)):  # the file's columns are ours, in our order, and no more
        def as_is(line_no: int, fields: list[str]) -> list:
            fields.insert(0, line_no)
            return fields
        return as_is
    get = itemgetter(*(-1 if i is None else i for i in indexes))

    def picked(line_no: int, fields: list[str]) -> tuple:
        fields.append("")  # what a missing optional column (index -1) reads
        return (line_no, *get(fields))
    return picked


def _new_buffer():
    buffer = io.StringIO()
    return buffer, csv.writer(buffer, lineterminator="\n"), [], 0


def _flush(cursor, copy_sql: str, buffer: io.StringIO, count: int) -> int:
    if count:
        buffer.seek(0)
        cursor.copy_expert(copy_sql, buffer, size=256 * 1024)
    return count


def _reject(session: Session, shop_id: int, batch_id: int, rejected: list[tuple[int, str, list[str]]]) -> int:
    """Keep rows refused before staging, with their reason and the fields as read."""
    if rejected:
        session.execute(text(
            "INSERT INTO staging_ingest.upload_rejects (batch_id, shop_id, line_no, reason, raw) "
            "VALUES (:b, :s, :line, :reason, :raw)"),
            [{"b": batch_id, "s": shop_id, "line": n, "reason": reason, "raw": _as_csv(fields)}
             for n, reason, fields in rejected])
    return len(rejected)


def _as_csv(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue().replace("\x00", "")
