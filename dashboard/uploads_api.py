"""The upload routes: an admin's CSV upload (a CSRF-protected form POST, streamed to disk), the bad rows and the
reconciliation as CSV downloads, and the templates."""

import csv
import io
from contextlib import nullcontext
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, redirect, request
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

import settings
from dashboard import db, queries, selection, upload_pending
from database import session_scope
from ingest.uploads import formats, receive

bp = Blueprint("uploads", __name__)
FORM_OVERHEAD_BYTES = 64 * 1024  # the multipart framing and the form's other fields


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_error):
    """Refused before reading: say the limit."""
    size = request.content_length or 0
    return Response(f"Upload refused: {receive.too_large(max(size - FORM_OVERHEAD_BYTES, 0))}\n", status=413,
                    mimetype="text/plain")


@bp.route("/uploads/new", methods=["POST"])
def upload():
    """Keep an admin's file (or the kept file they have just mapped) as a batch of the chosen store and kind, queue
    it, and go back to the page; a file whose headers differ from ours is kept for the mapping step."""
    if not current_user.is_admin:
        abort(403)
    shop_id = selection.parse_id(request.form.get("shop"))
    if shop_id is None or queries.get_shop(session=db.get_session(), shop_id=shop_id) is None:
        abort(404)
    file, mapped = request.files.get("file"), None
    back = {"shop": shop_id}
    try:
        mapped = _mapped(shop_id)
        back |= _receive(shop_id, file, mapped)
    except receive.UploadRefused as error:
        back |= _refused(error, shop_id, file, mapped)
    return redirect("/uploads?" + urlencode(back), code=303)


def _mapped(shop_id: int) -> upload_pending.Pending | None:
    """The kept file the mapping form names (None when the form sends a file instead)."""
    token = request.form.get("pending")
    if not token:
        return None
    mapped = upload_pending.find(token, shop_id=shop_id, user_id=current_user.id)
    if mapped is None:
        raise receive.UploadRefused("the file to map is no longer kept: upload it again")
    return mapped


def _receive(shop_id: int, file, mapped: upload_pending.Pending | None) -> dict:
    """Receive the sent file, or the kept one with the form's mapping; what the page's query then says."""
    if mapped is None and (file is None or not file.filename):
        raise receive.UploadRefused("choose a file to upload")
    kind = mapped.kind if mapped else request.form.get("kind", "")
    mapping = upload_pending.mapping_from_form(kind, request.form) if mapped else {}
    with open(mapped.path, "rb") if mapped else nullcontext(file.stream) as stream, \
            session_scope(db.writer_sessions()) as session:
        received = receive.receive(session=session, shop_id=shop_id, kind=kind, stream=stream,
                                   filename=mapped.filename if mapped else file.filename, mapping=mapping,
                                   by=current_user.id)
    if mapped:
        upload_pending.drop(mapped.token, shop_id=shop_id, user_id=current_user.id)
    if not received.created:
        return {"batch": received.batch_id,
                "upload_notice": f"This file was uploaded before: batch {received.batch_id} holds it."}
    return {"batch": received.batch_id}


def _refused(error: Exception, shop_id: int, file, mapped: upload_pending.Pending | None) -> dict:
    """Say why; a file whose headers differ from ours is kept (once) for the mapping step, not a dead end."""
    sent = file is not None and bool(file.filename)
    name = mapped.filename if mapped else (file.filename if sent else "The file")
    pending = mapped or (upload_pending.keep(file.stream, shop_id=shop_id, user_id=current_user.id,
                                             kind=request.form.get("kind", ""), filename=file.filename)
                         if sent else None)
    return {"upload_error": f"{name}: {error}"} | ({"upload_pending": pending.token} if pending else {})


@bp.route("/uploads/<int:batch_id>/rejects.csv")
def rejects(batch_id: int):
    """A batch's bad rows as CSV (what the user may see: RLS decides)."""
    rows = queries.list_upload_rejects(session=db.get_session(), batch_id=batch_id, limit=None)
    return _csv(f"batch-{batch_id}-bad-rows.csv", ["line", "reason", "row"],
                [(r.line_no, r.reason, r.raw) for r in rows])


@bp.route("/uploads/template/<kind>.csv")
def template(kind: str):
    """The kind's CSV template."""
    fmt = formats.FORMATS.get(kind) or abort(404)
    return Response(formats.template(fmt), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={kind}-template.csv"})


@bp.route("/reconciliation.csv")
def reconciliation():
    """The reconciliation of the selected store and period as CSV."""
    chosen = selection.parse(request.args.to_dict(), today=selection.today())
    if chosen.shop_id is None or queries.get_shop(session=db.get_session(), shop_id=chosen.shop_id) is None:
        abort(404)
    rows = queries.read_reconciliation(session=db.get_session(), shop_id=chosen.shop_id, start=chosen.start,
                                       end=chosen.end)
    columns = ["side", "status", "order_ref", "day", "currency", "order_amount", "payout_amount", "fees",
               "difference", "payout_lines"]
    return _csv(f"reconciliation-{chosen.shop_id}-{chosen.start}-{chosen.end}.csv", columns,
                [[row[c] for c in columns] for row in rows])


def _csv(filename: str, header: list[str], rows) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={filename}"})


def init_app(server) -> None:
    """Register the routes and give the upload route its own body limit."""
    server.register_blueprint(bp)
    server.config["BODY_LIMITS"]["uploads.upload"] = settings.UPLOAD_MAX_BYTES + FORM_OVERHEAD_BYTES
