"""A file refused because its headers differ from ours, kept for a day so that its uploader can map its columns
without choosing it again; the mapping then goes through the same upload route as any file."""

import json
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import settings
from ingest.uploads import formats, reader, receive

KEPT_SECONDS = 24 * 3600
TOKEN = re.compile(r"[0-9a-f]{32}")
NOT_IN_FILE = "__not_in_the_file__"  # an optional column's "not in the file" choice (no header is named so)


@dataclass(frozen=True)
class Pending:
    """A kept file, its kind and name as uploaded, and its header."""

    token: str
    path: Path
    kind: str
    filename: str
    header: list[str]


def _folder(shop_id: int) -> Path:
    return settings.UPLOAD_DIR / str(shop_id) / "pending"


def keep(stream: BinaryIO, *, shop_id: int, user_id: int, kind: str, filename: str) -> Pending | None:
    """Keep the uploaded stream when its header lacks our columns (None when the file is refused otherwise)."""
    fmt = formats.FORMATS.get(kind)
    if fmt is None:
        return None
    folder = _folder(shop_id)
    folder.mkdir(parents=True, exist_ok=True)
    _prune(folder)
    token = uuid.uuid4().hex
    path = folder / f"{user_id}-{token}.csv"
    stream.seek(0)
    with open(path, "wb") as out:
        shutil.copyfileobj(stream, out, 1024 * 1024)
    header = _header(path)
    if header is None or _matches(fmt, header):
        path.unlink(missing_ok=True)
        return None
    # The header is read once, here (finding a file's encoding reads all of it); the page and the route reuse it.
    (folder / f"{user_id}-{token}.json").write_text(json.dumps({"kind": kind, "filename": filename,
                                                                 "header": header}))
    return Pending(token, path, kind, filename, header)


def _header(path: Path) -> list[str] | None:
    """The file's header as the loader reads it, or None when it cannot be read as CSV."""
    try:
        f, rows = reader.open_rows(path)
    except reader.ReadError:
        return None
    f.close()
    return [h.strip().lstrip("\ufeff") for h in rows.header]


def _matches(fmt: formats.Format, header: list[str]) -> bool:
    try:
        formats.match_headers(fmt, header)
    except formats.HeaderError:
        return False
    return True


def find(token: object, *, shop_id: int, user_id: int) -> Pending | None:
    """The uploader's kept file named by `token` (from a URL or a form), if it is still there."""
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        return None
    folder = _folder(shop_id)
    path, about = folder / f"{user_id}-{token}.csv", folder / f"{user_id}-{token}.json"
    if not path.is_file() or not about.is_file():
        return None
    meta = json.loads(about.read_text())
    return Pending(token, path, meta["kind"], meta["filename"], meta["header"])


def drop(token: str, *, shop_id: int, user_id: int) -> None:
    """Forget a kept file (loaded, or refused for another reason)."""
    if TOKEN.fullmatch(token):
        for suffix in (".csv", ".json"):
            (_folder(shop_id) / f"{user_id}-{token}{suffix}").unlink(missing_ok=True)


def _prune(folder: Path) -> None:
    """Files kept longer than KEPT_SECONDS go: nobody mapped them."""
    cutoff = time.time() - KEPT_SECONDS
    for path in folder.iterdir():
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


def suggest(kind: str, header: list[str]) -> dict[str, str]:
    """For each of our columns, the file's header that names it case-, space- and punctuation-insensitively (or
    by one of its aliases), as the loader would match it; when none does, NOT_IN_FILE for an optional column and
    "" (nothing chosen yet) for a required one."""
    taken: set[str] = set()
    out = {}
    for column in formats.FORMATS[kind].columns:
        names = {formats.normalise(n) for n in (column.name, column.header, *column.aliases)}
        found = next((h for h in header if formats.normalise(h) in names and h not in taken), None)
        taken.add(found)
        out[column.name] = found if found is not None else ("" if column.required else NOT_IN_FILE)
    return out


def mapping_from_form(kind: str, form) -> dict[str, str]:
    """The dropdowns' choices (field `map-<our column>` = their header) as the loader's mapping, their header to
    our column; a header chosen for two columns is refused."""
    chosen: dict[str, str] = {}
    for column in formats.FORMATS[kind].columns:
        theirs = form.get(f"map-{column.name}", NOT_IN_FILE)
        if theirs in (NOT_IN_FILE, ""):
            continue
        if theirs in chosen:
            raise receive.UploadRefused(f"the file's column {theirs!r} is chosen for both {chosen[theirs]} "
                                        f"and {column.header}")
        chosen[theirs] = column.header
    return chosen
