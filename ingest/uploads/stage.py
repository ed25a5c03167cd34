"""Staging a batch's file: every row as text, with its line number, into a temporary table of the staging
transaction (RAW), which the checks' one pass types into the kind's staging table (checks.py); or, for
marketplace orders, the file COPYed straight into the batch's own warehouse table, typed (batch_table.py).

Two ways in, the same rows out. A file without a quote character after its header is COPYed as it is
(PostgreSQL parses it: no row passes through Python), each row's line its ordinal after the header's lines
(without quotes no field spans lines). Where PostgreSQL cannot read it so (a row of another width, a blank
line) or might read it otherwise than Python's csv (a quote: PostgreSQL opens a quoted field at a quote inside
a field, Python takes it as a character), the file is read row by row in Python, which rejects rows whose width
differs from the header's with their line; every other check is set-based (checks.py).

Marketplace orders are COPYed into their batch's table (made here, migration 0022), typed (timestamptz,
numeric(20, 2)), `ON_ERROR ignore`, `FREEZE`: a row COPY cannot type is skipped, its line left out of the
table's numbering; a row lacking a required field is left out by the COPY's WHERE. As the file streams, the
client notes the lines not of plain shapes (plain_lines.py: what COPY might type otherwise than the checks
read the text). Those lines and the missing ones leave the table and are read again from the file, as text,
into RAW, for the checks (only those rows). A file with many such lines is COPYed as text instead, every row
checked as text.

One transaction: a restarted job stages the whole file again (the earlier attempt's rows died with it).
"""

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

import psycopg2
from sqlalchemy import text
from sqlalchemy.orm import Session

import settings
from ingest.uploads import formats, plain_lines, reader

# Dropped at commit: no WAL, no index, nothing to delete afterwards (COPY's own speed).
RAW = "pg_temp.upload_raw"
# Made (empty) when the file was COPYed into its batch's table: RAW then holds only the rows doubted.
DIRECT = "pg_temp.upload_direct"
DIRECT_KINDS = ("marketplace-orders",)
# What the COPY into a batch's table leaves out: a required field empty (its column's default, migration 0022).
LOADED = ("order_id <> '' AND channel <> '' AND currency <> '' AND ordered_at <> 'infinity' AND gross <> 'NaN' "
          "AND net <> 'NaN' AND discounts IS NOT NULL AND refunds IS NOT NULL AND fees IS NOT NULL")
SKIPPED_PER_PIECE = 1000  # rows doubted per piece, on average, above which the file is COPYed as text instead
COPY_BYTES = 8 * 1024 * 1024  # one COPY per this much of the file: progress between them
SCAN_BYTES = 1024 * 1024
QUOTE = (b'"',)
DELIMITERS = {",": "','", ";": "';'", "\t": "E'\\t'"}
ENCODINGS = {"utf-8": "UTF8", "utf-8-sig": "UTF8", "latin-1": "LATIN1"}


@dataclass
class Staged:
    """What staging one file did, and how (copied: PostgreSQL read the file; else Python did)."""

    rows: int = 0
    rejected: int = 0
    copied: bool = False
    typed: bool = False  # COPYed straight into the batch's table


def stage(*, session: Session, shop_id: int, batch_id: int, fmt: formats.Format, path: Path,
          mapping: dict[str, str] | None = None, copy_rows: int = settings.UPLOAD_COPY_ROWS,
          on_progress: Callable[[int, int], None] | None = None, copy_file: bool = True) -> Staged:
    """Stage the file's rows into RAW (its typed rows of an earlier attempt go); `on_progress(bytes_read, rows)`
    now and then. `copy_file=False` reads every file row by row (the fallback, as for a file COPY cannot take)."""
    session.execute(text(f"DELETE FROM {fmt.staging} WHERE batch_id = :b"), {"b": batch_id})
    session.execute(text("DELETE FROM staging_ingest.upload_rejects WHERE batch_id = :b"), {"b": batch_id})
    f, rows = reader.open_rows(path)
    with f:
        indexes = formats.match_headers(fmt, rows.header, mapping)
        header_lines = rows.header_lines
        dialect = rows.dialect
    if copy_file:
        for batch in ((batch_id, shop_id), None) if fmt.kind in DIRECT_KINDS else (None,):
            staged = copy(session=session, fmt=fmt, path=Path(path), dialect=dialect, width=len(rows.header),
                          indexes=indexes, header_lines=header_lines, on_progress=on_progress, batch=batch)
            if staged is not None:
                return staged
    return parse(session=session, shop_id=shop_id, batch_id=batch_id, fmt=fmt, path=path, mapping=mapping,
                 copy_rows=copy_rows, on_progress=on_progress)


def copy(*, session: Session, fmt: formats.Format, path: Path, dialect: reader.Dialect, width: int,
         indexes: list[int | None], header_lines: int, on_progress: Callable[[int, int], None] | None = None,
         batch: tuple[int, int] | None = None) -> Staged | None:
    """COPY the file's data rows as they are into RAW, or (`batch`: its id and store) typed into the batch's
    table, the doubted rows into RAW; None (nothing made) when this file must be read otherwise."""
    start, end = _data_bytes(path, header_lines)
    if start is None or _contains(path, start, end, QUOTE) or (batch and _bare_carriage_returns(path, start)):
        return None
    # Each of the file's columns by the name of ours it holds (or one of its own); ours it lacks read NULL.
    names = {i: c.name for c, i in zip(fmt.columns, indexes, strict=True) if i is not None}
    extra = iter(range(1, width + 1))
    file_columns = [names[i] if i in names else f"file_column_{next(extra)}" for i in range(width)]
    cursor = session.connection().connection.dbapi_connection.cursor()
    cursor.execute("SAVEPOINT upload_copy")
    options = f"FORMAT csv, DELIMITER {DELIMITERS[dialect.delimiter]}, ENCODING '{ENCODINGS[dialect.encoding]}'"
    if batch:
        table, copy_sql = _into_batch(cursor, batch=batch, file_columns=file_columns, options=options,
                                      first_line=header_lines + 1, extra=width - len(names))
        plain = plain_lines.Lines(fmt, indexes, width, dialect.delimiter, header_lines + 1)
    else:
        table, copy_sql, plain = RAW, _into_raw(cursor, fmt=fmt, file_columns=file_columns, options=options,
                                                first_line=header_lines + 1), None
    staged = Staged(copied=True, typed=bool(batch))
    try:
        with open(path, "rb") as f:
            for piece, (offset, length) in enumerate(list(_pieces(f, start, end)), 1):
                f.seek(offset)
                cursor.copy_expert(copy_sql, _Piece(f, length, plain), size=256 * 1024)
                staged.rows += cursor.rowcount
                if plain and len(plain.doubted) > SKIPPED_PER_PIECE * piece:
                    raise _ManyDoubted  # (e.g. decimal commas): checking them all as text is quicker
                if on_progress:
                    on_progress(offset + length, staged.rows)
        if plain:
            plain.finish()
            staged.rows = _doubt(session=session, cursor=cursor, fmt=fmt, path=path, indexes=indexes, width=width,
                                 header_lines=header_lines, dialect=dialect, table=table, copied=staged.rows,
                                 doubted=plain.doubted)
    # A row of another width, a blank line, a stray carriage return; or many rows to check as text.
    except (psycopg2.DataError, WidthError, _ManyDoubted):
        cursor.execute("ROLLBACK TO SAVEPOINT upload_copy")
        return None
    cursor.execute("RELEASE SAVEPOINT upload_copy")
    return staged


def _into_batch(cursor, *, batch: tuple[int, int], file_columns: list[str], options: str, first_line: int,
                extra: int) -> tuple[str, str]:
    """Make the batch's table (migration 0022); its name and the COPY into it."""
    from ingest.uploads import batch_table  # (it builds on this module)

    table = batch_table.name(batch[0])
    cursor.execute("SELECT core_warehouse.create_marketplace_batch(%s, %s, %s, %s)",
                   (batch[0], batch[1], first_line, extra))
    cursor.execute(f"CREATE TEMPORARY TABLE {DIRECT} () ON COMMIT DROP")
    # An empty field takes its column's default (0 for optional money); NULL is a \N no plain line holds.
    # FREEZE: the table is this subtransaction's, and its rows need no hint bits set by a later first read.
    return table, (f"COPY {table} ({', '.join(file_columns)}) FROM STDIN WITH ({options}, NULL E'\\\\N', "
                   f"DEFAULT '', ON_ERROR ignore, REJECT_LIMIT {SKIPPED_PER_PIECE}, FREEZE) WHERE {LOADED}")


def _into_raw(cursor, *, fmt: formats.Format, file_columns: list[str], options: str, first_line: int) -> str:
    """Make RAW; the COPY into it."""
    columns = [c.name for c in fmt.columns] + [n for n in file_columns if n.startswith("file_column_")]
    # Rows go in in the file's order, so the identity numbers them: a row's line is its ordinal after the header.
    cursor.execute(f"CREATE TEMPORARY TABLE {RAW} (line_no bigint GENERATED BY DEFAULT AS IDENTITY "
                   f"(START WITH {first_line} CACHE 10000), "
                   f"{', '.join(f'{c} text' for c in columns)}) ON COMMIT DROP")
    # An empty field reads NULL, as one the Python path stages does.
    return f"COPY {RAW} ({', '.join(file_columns)}) FROM STDIN WITH ({options})"


def _doubt(*, session: Session, cursor, fmt: formats.Format, path: Path, indexes: list[int | None], width: int,
           header_lines: int, dialect: reader.Dialect, table: str, copied: int, doubted: list[int]) -> int:
    """Take the doubted lines and those COPY left out of the batch's table, and read them again, as text, into
    RAW; returns the file's rows."""
    # (The session's own last number: the sequence's last_value is the end of its cached numbers.)
    cursor.execute(f"SELECT CASE WHEN is_called THEN currval('{table}_line') END FROM {table}_line")
    last = cursor.fetchone()[0]
    rows = 0 if last is None else last - header_lines
    lines = set(doubted)
    if copied < rows:  # a skipped or left out row took its number too: a missing line is one
        cursor.execute(f"SELECT g FROM generate_series({header_lines + 1}, {last}) g "
                       f"EXCEPT ALL SELECT line_no FROM {table}")
        missing = {n for (n,) in cursor.fetchall()}
        lines -= missing
        if lines:
            cursor.execute(f"DELETE FROM {table} WHERE line_no = ANY(%s)", (sorted(lines),))
        lines |= missing
    elif lines:
        cursor.execute(f"DELETE FROM {table} WHERE line_no = ANY(%s)", (sorted(lines),))
    if lines:
        _restage(session=session, fmt=fmt, path=path, indexes=indexes, width=width, header_lines=header_lines,
                 dialect=dialect, lines=sorted(lines))
    return rows


def _data_bytes(path: Path, header_lines: int) -> tuple[int | None, int]:
    """Where the rows after the header's lines start and where the last row ends (blank lines at the end left
    out); None for a file whose header ends it."""
    with open(path, "rb") as f:
        head, start = b"", 0
        for _ in range(header_lines):  # a line ends at \r\n, \r or \n, as Python's csv counts lines
            while (cut := _line_break(head, start)) < 0 or cut + 1 == len(head):  # (is a \r followed by \n?)
                more = f.read(SCAN_BYTES)
                if not more:
                    break
                head += more
            if cut < 0:
                return None, 0
            start = cut + (2 if head[cut:cut + 2] == b"\r\n" else 1)
        end = f.seek(0, io.SEEK_END)
        while end > start:
            f.seek(max(start, end - SCAN_BYTES))
            tail = f.read(end - f.tell())
            stripped = tail.rstrip(b"\r\n")
            end -= len(tail) - len(stripped)
            if stripped:
                break
    return start, end


def _bare_carriage_returns(path: Path, start: int) -> bool:
    """Whether the file's lines end at a lone \r (lines are read again split at \n: such a file is COPYed as text)."""
    with open(path, "rb") as f:
        f.seek(start)
        return b"\r" in f.read(SCAN_BYTES).rstrip(b"\r\n").replace(b"\r\n", b"")


def _line_break(data: bytes, start: int) -> int:
    return min((i for i in (data.find(b"\r", start), data.find(b"\n", start)) if i >= 0), default=-1)


def _contains(path: Path, start: int, end: int, needles: tuple[bytes, ...], table: bytes | None = None) -> bool:
    """Whether the bytes start..end (translated by `table`) hold one of `needles` (of at most two bytes: the
    pieces overlap by one).
    `in` per needle, not a pattern: a memchr-fast search is ten times a regex's speed on a big file."""
    with open(path, "rb") as f:
        f.seek(start)
        left, last = end - start, b""
        while left > 0:
            chunk = f.read(min(SCAN_BYTES, left))
            if not chunk:
                return False
            window = last + chunk
            if table is not None:
                window = window.translate(table)
            if any(needle in window for needle in needles):
                return True
            left, last = left - len(chunk), chunk[-1:]
    return False


def _pieces(f, start: int, end: int) -> Iterator[tuple[int, int]]:
    """(offset, length) of the bytes start..end in pieces of about COPY_BYTES, each ending at a line's end."""
    while start < end:
        cut = min(start + COPY_BYTES, end)
        f.seek(cut)
        while cut < end:  # on to the next \n (never inside a \r\n; a file of bare \r goes in one piece)
            block = f.read(SCAN_BYTES)
            found = block.find(b"\n")
            cut = min(end, cut + found + 1 if found >= 0 else cut + len(block) if block else end)
            if found >= 0:
                break
        yield start, cut - start
        start = cut


class _Piece:
    """`length` bytes of a file from where it stands, read as a file (COPY streams them: nothing held), each
    shown to `lines` on its way."""

    def __init__(self, f, length: int, lines: plain_lines.Lines | None = None):
        self.f, self.left, self.lines = f, length, lines

    def read(self, size: int = -1) -> bytes:
        data = self.f.read(self.left if size < 0 else min(size, self.left))
        self.left -= len(data)
        if self.lines is not None:
            self.lines.feed(data)
        return data


def parse(*, session: Session, shop_id: int, batch_id: int, fmt: formats.Format, path: Path,
          mapping: dict[str, str] | None = None, copy_rows: int = settings.UPLOAD_COPY_ROWS,
          on_progress: Callable[[int, int], None] | None = None) -> Staged:
    """Read the file row by row in Python into RAW, rejecting rows whose width differs from the header's."""
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



class _ManyDoubted(Exception):
    """More doubted rows than SKIPPED_PER_PIECE per piece: the file is better COPYed as text."""


class WidthError(ValueError):
    """A row read again has another width than the header (COPY skipped it on a type before seeing that)."""


def restage_lines(*, session: Session, fmt: formats.Format, path: Path, mapping: dict[str, str] | None,
                  lines: list[int]) -> int:
    """Read these lines of a file COPY took as it is (no quote in it) again, as text, into RAW (made if need be,
    lines already in it left): the rows the checks doubted, for their reasons."""
    f, rows = reader.open_rows(path)
    with f:
        indexes = formats.match_headers(fmt, rows.header, mapping)
    return _restage(session=session, fmt=fmt, path=Path(path), indexes=indexes, width=len(rows.header),
                    header_lines=rows.header_lines, dialect=rows.dialect, lines=lines)


def _restage(*, session: Session, fmt: formats.Format, path: Path, indexes: list[int | None], width: int,
             header_lines: int, dialect: reader.Dialect, lines: list[int]) -> int:
    """restage_lines, the file's shape known; WidthError for a row of another width."""
    names = ", ".join(c.name for c in fmt.columns)
    session.execute(text(f"CREATE TEMPORARY TABLE IF NOT EXISTS {RAW} (line_no bigint, "
                         + ", ".join(f"{c.name} text" for c in fmt.columns) + ") ON COMMIT DROP"))
    have = set(session.scalars(text(f"SELECT line_no FROM {RAW}")))
    wanted = sorted(set(lines) - have)
    if not wanted:
        return 0
    start, end = _data_bytes(path, header_lines)
    pick = _picker(indexes, width)
    buffer, writer, _, _ = _new_buffer()
    encoding = "utf-8" if dialect.encoding == "utf-8-sig" else dialect.encoding
    with open(path, "rb") as data:
        data.seek(start)
        targets, line_no, offset = iter(wanted), header_lines, start
        target = next(targets)
        for raw in data:  # binary: split at \n only, \r\n's \r stripped below
            line_no += 1
            offset += len(raw)
            if line_no == target:
                fields = raw.rstrip(b"\r\n").decode(encoding).split(dialect.delimiter)
                if len(fields) != width:
                    raise WidthError(f"line {line_no}: {len(fields)} fields where the header has {width}")
                writer.writerow(pick(line_no, fields))
                target = next(targets, None)
                if target is None or offset >= end:
                    break
    cursor = session.connection().connection.dbapi_connection.cursor()
    return _flush(cursor, f"COPY {RAW} (line_no, {names}) FROM STDIN WITH (FORMAT csv)", buffer, len(wanted))
