"""Reading an uploaded CSV as a stream: its encoding, its delimiter, and its rows with their line numbers."""

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DELIMITERS = ",;\t"
SAMPLE_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024


class ReadError(ValueError):
    """The file cannot be read as CSV at all (empty, binary, no header)."""


@dataclass(frozen=True)
class Dialect:
    """How a file is written: what decoding and which delimiter."""

    encoding: str
    delimiter: str


def detect_encoding(path: Path) -> str:
    """utf-8-sig with a byte-order mark, utf-8 when every byte decodes so, else latin-1 (which always does)."""
    with open(path, "rb") as f:
        if f.read(3) == codecs.BOM_UTF8:
            return "utf-8-sig"
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:  # a whole pass, chunk by chunk: a Latin-1 é may first appear on the millionth line
            while chunk := f.read(CHUNK_BYTES):
                if b"\x00" in chunk:
                    raise ReadError("this is not a CSV file (it holds NUL bytes)")
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "latin-1"
    return "utf-8"


def detect_delimiter(sample: str) -> str:
    """The delimiter csv.Sniffer finds among comma, semicolon and tab; else the header's most frequent one."""
    complete = sample[: sample.rfind("\n") + 1] or sample  # never judge a row cut in half
    try:
        return csv.Sniffer().sniff(complete, delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = complete.splitlines()[0] if complete else ""
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        if counts[best] == 0:
            raise ReadError("no comma, semicolon or tab in the header: not a CSV file of several columns") from None
        return best


def detect(path: Path) -> Dialect:
    """The file's encoding and delimiter."""
    encoding = detect_encoding(path)
    with open(path, encoding=encoding, newline="") as f:
        sample = f.read(SAMPLE_BYTES)
    if not sample.strip():
        raise ReadError("the file is empty")
    return Dialect(encoding, detect_delimiter(sample))


@dataclass(frozen=True)
class Rows:
    """An open file's header (over `header_lines` lines) and an iterator of (first line number, fields) for its
    data rows."""

    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
    dialect: Dialect
    header_lines: int = 1


def open_rows(path: Path, dialect: Dialect | None = None) -> tuple[io.TextIOBase, Rows]:
    """Open `path` and return (the file, to close; its header and rows). Blank lines are skipped."""
    dialect = dialect or detect(path)
    f = open(path, encoding=dialect.encoding, newline="")  # noqa: SIM115  (the caller closes it)
    reader = csv.reader(f, delimiter=dialect.delimiter)
    try:
        header = next(reader)
    except StopIteration:
        f.close()
        raise ReadError("the file is empty") from None
    except csv.Error as error:
        f.close()
        raise ReadError(f"line 1: {error}") from None
    return f, Rows(header, _numbered(reader), dialect, reader.line_num)


def _numbered(reader) -> Iterator[tuple[int, list[str]]]:
    """Rows with the line each starts on (a quoted field may span lines: the reader counts physical lines)."""
    last = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:  # e.g. a quote never closed: nothing after it can be read reliably
            raise ReadError(f"line {last + 1}: {error}") from None
        start, last = last + 1, reader.line_num
        if row:
            yield start, row
