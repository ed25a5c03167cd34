"""Receiving a file: refuse it if too large or unreadable, keep it with its SHA-256, recognise it if seen
before, and queue its batch's job. The web's upload route and the CLI both come through here."""

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

import settings
from ingest import jobs
from ingest.uploads import batches, formats, reader
from models import UploadBatch

READ_BYTES = 1024 * 1024


class UploadRefused(ValueError):
    """A file refused before anything of it is kept; the message is one line for the person who sent it."""


@dataclass(frozen=True)
class Received:
    """The batch that holds the file, whether this call created it, and its job."""

    batch_id: int
    created: bool
    status: str
    job_id: int | None


def too_large(size: int) -> str:
    """The refusal for a file of `size` bytes, naming the limit."""
    return (f"the file is {_mib(size)}, over the {_mib(settings.UPLOAD_MAX_BYTES)} limit "
            f"(UPLOAD_MAX_BYTES = {settings.UPLOAD_MAX_BYTES} bytes)")


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


def receive(*, session: Session, shop_id: int, kind: str, stream: BinaryIO, filename: str,
            mapping: dict[str, str] | None = None, by: int | None = None) -> Received:
    """Keep `stream` as a batch of `kind` for the store and queue its load; a file seen before is not queued."""
    fmt = formats.FORMATS.get(kind)
    if fmt is None:
        raise UploadRefused(f"unknown kind {kind!r}: choose {' or '.join(formats.FORMATS)}")
    incoming, sha256, size = _keep(stream, shop_id)
    try:
        seen = batches.find_file(session=session, shop_id=shop_id, kind=kind, sha256=sha256)
        if seen is not None:
            return Received(seen.id, False, seen.status, seen.job_id)
        _check_header(incoming, fmt, mapping)
        path = incoming.with_name(f"{sha256}.csv")
        os.replace(incoming, path)
    finally:
        incoming.unlink(missing_ok=True)
    batch = UploadBatch(shop_id=shop_id, kind=kind, filename=Path(filename).name[:255] or "upload.csv",
                        sha256=sha256, size_bytes=size, path=str(path), mapping=mapping or {}, uploaded_by=by)
    session.add(batch)
    session.flush()
    batch.job_id, _ = jobs.enqueue(session=session, shop_id=shop_id, source="upload", kind=fmt.job_kind,
                                   target=str(batch.id), params={"batch_id": batch.id}, requested_by=by,
                                   priority=5)
    batches.log(session=session, batch=batch, step="received", size_bytes=size, sha256=sha256,
                filename=batch.filename)
    return Received(batch.id, True, batch.status, batch.job_id)


def _keep(stream: BinaryIO, shop_id: int) -> tuple[Path, str, int]:
    """Copy the stream under UPLOAD_DIR while hashing it; refuse (keeping nothing) past UPLOAD_MAX_BYTES."""
    folder = settings.UPLOAD_DIR / str(shop_id)
    folder.mkdir(parents=True, exist_ok=True)
    incoming = folder / f".incoming-{uuid.uuid4().hex}"
    digest, size = hashlib.sha256(), 0
    try:
        with open(incoming, "wb") as out:
            while chunk := stream.read(READ_BYTES):
                size += len(chunk)
                if size > settings.UPLOAD_MAX_BYTES:
                    raise UploadRefused(too_large(size) + " (stopped reading there)")
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        incoming.unlink(missing_ok=True)
        raise
    if size == 0:
        incoming.unlink(missing_ok=True)
        raise UploadRefused("the file is empty")
    return incoming, digest.hexdigest(), size


def _check_header(path: Path, fmt: formats.Format, mapping: dict[str, str] | None) -> None:
    """Refuse a file whose header does not name the kind's required columns (before a batch exists)."""
    try:
        f, rows = reader.open_rows(path)
    except reader.ReadError as error:
        raise UploadRefused(str(error)) from None
    with f:
        try:
            formats.match_headers(fmt, rows.header, mapping)
        except formats.HeaderError as error:
            raise UploadRefused(str(error)) from None
