"""A batch's lifecycle (received -> parsing -> loaded, partially_loaded or failed; replaced) and its log."""

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models import UploadBatch, UploadLogEntry


def get(*, session: Session, batch_id: int) -> UploadBatch | None:
    """One batch."""
    return session.get(UploadBatch, batch_id)


def find_file(*, session: Session, shop_id: int, kind: str, sha256: str) -> UploadBatch | None:
    """The batch already holding this file for this store and kind (a failed one does not count)."""
    return session.scalar(select(UploadBatch).where(
        UploadBatch.shop_id == shop_id, UploadBatch.kind == kind, UploadBatch.sha256 == sha256,
        UploadBatch.status != "failed"))


def set_status(*, session: Session, batch_id: int, status: str, **values: Any) -> None:
    """Move a batch to `status`, with any counts or error that go with it."""
    session.execute(update(UploadBatch).where(UploadBatch.id == batch_id)
                    .values(status=status, updated_at=func.now(), **values))


def log(*, session: Session, batch: UploadBatch | int, shop_id: int | None = None, step: str,
        rows: int | None = None, good: int | None = None, bad: int | None = None, **details: Any) -> None:
    """Append a step to the batch's processing log."""
    batch_id = batch if isinstance(batch, int) else batch.id
    shop_id = shop_id if shop_id is not None else batch.shop_id
    # The moment the step happened, not its transaction's start (a load is one long transaction).
    session.add(UploadLogEntry(batch_id=batch_id, shop_id=shop_id, step=step, rows=rows, good=good, bad=bad,
                               details=details, at=func.clock_timestamp()))
    session.flush()
