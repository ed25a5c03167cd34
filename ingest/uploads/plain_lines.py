"""Which lines of a marketplace-orders file COPY types as the checks would read their text, found as COPY reads them.

COPY types a field by itself (timestamptz, numeric(20, 2)), and so accepts text the checks refuse: an instant
without an offset (read in the session's zone), 'now' or 'today'; money with three decimals (rounded, where
to_money reads 12.345 as thousands), 0x1F, 1_000, NaN, 1e-3. A line whose every field has one of the plain
shapes below reads the same either way (each shape lies within what to_instant, to_money and the checks
accept, and COPY skips a value it cannot type: its line goes missing); any other line is doubted, and its
text is checked as text (checks.check_raw). The file is seen in the client as it streams to the server (the
server parses meanwhile), with its digits made '9' and one regex run over many lines at a time, its
quantifiers possessive (never backtracking: half the time; a pattern can only match less so, never more).
"""

import re

from ingest.uploads import formats

DIGITS = bytes.maketrans(b"012345678", b"999999999")
# to_instant's shapes: a date, T or a space, hh:mm, maybe :ss and a fraction, maybe a space, Z or an offset.
INSTANT = rb"9999-99-99[T ]99:99(?::99(?:\.9++)?+)?+ ?+(?:Z|[+-]99(?::?+99)?+)"
CURRENCY = rb"[A-Z]{3}"  # whether it is ISO 4217's is asked of the batch's table (batch_table.py)
# to_money's first branch (numeric's reading, two decimals at most, below numeric(20, 2)'s limit), plainly.
MONEY = rb"-?+(?:9{1,15}+(?:\.99?+)?+|\.99?+)"


def _line_pattern(fmt: formats.Format, indexes: list[int | None], width: int, delimiter: str) -> bytes:
    d = re.escape(delimiter.encode())
    other = rb"[^" + d + rb"\r\n]"
    # Words between spaces: not empty, no space at either end (the checks trim), no backslash (COPY's
    # NULL is \N here).
    word = rb"[^ \\" + d + rb"\r\n]++"
    ident = word + rb"(?: ++" + word + rb")*+"
    shapes = {"order_id": ident, "channel": ident, "ordered_at": INSTANT, "currency": CURRENCY}
    fields = [other + b"*+"] * width
    for column, index in zip(fmt.columns, indexes, strict=True):
        if index is not None:
            shape = shapes.get(column.name, MONEY)
            fields[index] = shape if column.required else b"(?:" + shape + b")?+"
    return d.join(fields)


class Lines:
    """Fed the file's data bytes in order (from its first data line); `doubted` lists the lines not plain."""

    def __init__(self, fmt: formats.Format, indexes: list[int | None], width: int, delimiter: str,
                 first_line: int):
        self.run = re.compile(b"(?:" + _line_pattern(fmt, indexes, width, delimiter) + rb"\r?+\n)*+")
        self.line = first_line - 1  # the last line seen
        self.pending = b""
        self.doubted: list[int] = []

    def feed(self, data: bytes) -> None:
        block = self.pending + data
        cut = block.rfind(b"\n") + 1
        self.pending = block[cut:]
        if cut:
            self._scan(block[:cut])

    def finish(self) -> None:
        """The last line, if the file does not end with a line break."""
        if self.pending:
            self._scan(self.pending + b"\n")
            self.pending = b""

    def _scan(self, block: bytes) -> None:
        """Whole lines: plain runs matched at once, each other line noted."""
        shaped = block.translate(DIGITS)
        position, end = 0, len(shaped)
        while position < end:
            stop = self.run.match(shaped, position).end()
            self.line += shaped.count(b"\n", position, stop)
            if stop >= end:
                return
            self.line += 1
            self.doubted.append(self.line)
            position = shaped.index(b"\n", stop) + 1
