"""Landing Shopify JSONL in staging with COPY, quarantining bad lines, and promoting it into the warehouse.

Lines are landed as Shopify wrote them (one node per line, children carrying `__parentId`), then promoted
with one set-based `INSERT ... SELECT ... ON CONFLICT` per table and line range (ingest.shopify.promote).
Paged results are flattened to the same shape first, so bulk files, pages and webhooks share one path.
"""

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import psycopg2
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

import settings
from database import session_scope
from ingest.shopify import promote

log = logging.getLogger(__name__)

# Each row is "batch<2>line_no<2>json": CSV with quote and delimiter bytes that valid JSON never holds raw,
# so COPY takes the JSON verbatim (text format would eat its backslashes).
COPY_SQL = ("COPY staging_ingest.shopify_lines (batch_id, line_no, payload) FROM STDIN "
            "WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')")
FRAMING = (b"\x01", b"\x02")
COPY_READ_BYTES = 256 * 1024  # what each COPY message carries
# Promotion sorts a chunk's lines (raw payloads included: ~60 MB for 50,000 order lines); in memory, not on disk.
PROMOTE_WORK_MEM = "256MB"


@dataclass
class Landed:
    """What landing one file or page did."""

    batch_id: int
    lines: int = 0
    quarantined: int = 0
    last_line: int = 0
    reasons: list[str] = field(default_factory=list)


def create_batch(*, session: Session, shop_id: int, job_id: int | None, origin: str, parts: list[str]) -> int:
    """A new load batch; its lines are landed under its id."""
    return session.execute(text(
        "INSERT INTO staging_ingest.load_batches (shop_id, job_id, origin, parts) "
        "VALUES (:shop_id, :job_id, :origin, :parts) RETURNING id"),
        {"shop_id": shop_id, "job_id": job_id, "origin": origin, "parts": parts}).scalar_one()


def land(*, session: Session, shop_id: int, batch_id: int, lines: Iterable[bytes], first_line: int = 1,
         copy_bytes: int = settings.LOAD_COPY_BYTES) -> Landed:
    """COPY `lines` into staging under `batch_id`, in buffers of about `copy_bytes`; quarantine bad lines."""
    landed = Landed(batch_id)
    buffer: list[tuple[int, bytes]] = []
    size = 0
    for number, line in enumerate(lines, start=first_line):
        line = line.rstrip(b"\r\n")
        landed.last_line = number
        if not line or line.isspace():  # (strip() would copy every line)
            continue
        buffer.append((number, line))
        size += len(line)
        if size >= copy_bytes:
            _copy(session, shop_id, landed, buffer)
            buffer, size = [], 0
    if buffer:
        _copy(session, shop_id, landed, buffer)
    session.execute(text("UPDATE staging_ingest.load_batches SET lines = lines + :n, quarantined = quarantined + :q "
                         "WHERE id = :id"), {"n": landed.lines, "q": landed.quarantined, "id": batch_id})
    return landed


def _copy(session: Session, shop_id: int, landed: Landed, rows: list[tuple[int, bytes]]) -> None:
    """COPY a buffer; when the database rejects it, find the bad lines, quarantine them, COPY the rest."""
    cursor = session.connection().connection.dbapi_connection.cursor()
    good, bad = rows, []
    if _framing_broken(b"".join(line for _, line in rows)):  # rare: then sort them line by line
        good = [(n, line) for n, line in rows if not _framing_broken(line)]
        bad = [(n, line, "control character outside a JSON string") for n, line in rows if _framing_broken(line)]
    cursor.execute("SAVEPOINT land")
    try:
        cursor.copy_expert(COPY_SQL, _Framed(landed.batch_id, good), size=COPY_READ_BYTES)
    except psycopg2.DataError:
        cursor.execute("ROLLBACK TO SAVEPOINT land")
        good, rejected = _split_valid(good)
        bad += rejected
        cursor.copy_expert(COPY_SQL, _Framed(landed.batch_id, good), size=COPY_READ_BYTES)
    cursor.execute("RELEASE SAVEPOINT land")
    landed.lines += len(good)
    if bad:
        quarantine(session=session, shop_id=shop_id, batch_id=landed.batch_id, rejected=bad)
        landed.quarantined += len(bad)
        landed.reasons += [f"line {n}: {reason}" for n, _, reason in bad[:5]]


def _framing_broken(line: bytes) -> bool:
    return any(byte in line for byte in FRAMING)


class _Framed:
    """The rows as COPY input, framed a piece at a time: the server parses one piece while the next is framed."""

    def __init__(self, batch_id: int, rows: list[tuple[int, bytes]]):
        self.prefix = str(batch_id).encode() + b"\x02"
        self.rows = iter(rows)

    def read(self, size: int = -1) -> bytes:
        parts: list[bytes] = []
        length = 0
        for n, line in self.rows:
            parts += (self.prefix, str(n).encode(), b"\x02", line, b"\n")
            length += len(line)
            if length >= size > 0:
                break
        return b"".join(parts)


def _split_valid(rows: list[tuple[int, bytes]]) -> tuple[list, list]:
    """Lines PostgreSQL's jsonb accepts, and the others with the reason (the slow path, for bad buffers only)."""
    good, bad = [], []
    for n, line in rows:
        try:
            value = json.loads(line)
            if not isinstance(value, dict):
                raise ValueError("a line must be a JSON object")
            if b"\\u0000" in line:
                raise ValueError("\\u0000 cannot be stored in jsonb")
            good.append((n, line))
        except (ValueError, UnicodeDecodeError) as error:
            bad.append((n, line, f"malformed JSON: {error}"[:300]))
    return good, bad


def quarantine(*, session: Session, shop_id: int, batch_id: int | None, rejected: list[tuple[int, bytes, str]]) -> None:
    """Keep rejected lines with their reason, so nothing is lost and someone can look."""
    session.execute(text(
        "INSERT INTO staging_ingest.quarantine (shop_id, batch_id, line_no, reason, raw) "
        "VALUES (:shop_id, :batch_id, :line_no, :reason, :raw)"),
        [{"shop_id": shop_id, "batch_id": batch_id, "line_no": n, "reason": reason,
          "raw": line.decode("utf-8", "replace").replace("\x00", "")} for n, line, reason in rejected])


def promote_batch(*, sessions: sessionmaker, shop_id: int, batch_id: int, parts: Iterable[str],
                  resume: tuple[int, int] = (1, 0), chunk: int = settings.LOAD_PROMOTE_LINES,
                  on_chunk: Callable[[tuple[int, int], int], None] | None = None) -> int:
    """Promote a landed batch, `chunk` lines per transaction, in two passes; return the orders promoted.

    `on_chunk((pass, next_line), orders)` runs after each committed chunk (progress, checkpoints,
    cancellation); `resume` starts from such a position (every statement is idempotent anyway).
    """
    parts = list(parts)
    with session_scope(sessions) as session:
        last = session.execute(text("SELECT coalesce(max(line_no), 0) FROM staging_ingest.shopify_lines "
                                    "WHERE batch_id = :b"), {"b": batch_id}).scalar_one()
    orders = 0
    for pass_no in (1, 2):
        if pass_no < resume[0]:
            continue
        if pass_no == 2:
            with session_scope(sessions) as session:
                promote.analyze_new_orders(session=session, shop_id=shop_id, orders=orders)
        for lo in range(resume[1] if pass_no == resume[0] else 0, last + 1, chunk):
            with session_scope(sessions) as session:
                session.execute(text(f"SET LOCAL work_mem = '{PROMOTE_WORK_MEM}'"))
                orders += promote.lines(session=session, shop_id=shop_id, batch_id=batch_id, parts=parts,
                                        lo=lo, hi=lo + chunk - 1, second_pass=pass_no == 2)
            with session_scope(sessions) as session:  # the next chunk's rollup upkeep plans with them
                promote.analyze_grown(session=session)
            if on_chunk:
                on_chunk((pass_no, lo + chunk), orders)
    return orders


def flatten(node: dict, truncated: set[str] | None = None, parent: str | None = None) -> Iterator[dict]:
    """A paged result's node as bulk JSONL lines: nested connections' nodes become lines with `__parentId`.

    Connections cut short by their page size are noted in `truncated` (the root node's id).
    """
    line: dict = {}
    children: list[dict] = []
    for key, value in node.items():
        if isinstance(value, dict) and "nodes" in value:
            if truncated is not None and (value.get("pageInfo") or {}).get("hasNextPage"):
                truncated.add(node.get("id", ""))
            for child in value["nodes"]:
                children.extend(flatten(child, truncated, node.get("id")))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            line[key] = []
            for item in value:
                inner = list(flatten(item, truncated, node.get("id")))
                line[key].append(inner[0])
                children.extend(inner[1:])
        else:
            line[key] = value
    if parent is not None and "__typename" in line:
        line["__parentId"] = parent
    yield line
    yield from children


def encode(lines: Iterable[dict]) -> Iterator[bytes]:
    """Lines as JSONL bytes, ready to land."""
    for line in lines:
        yield json.dumps(line, separators=(",", ":")).encode()
