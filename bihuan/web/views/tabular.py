"""Import and export pages for any registered kind (bihuan.core.tabular); URLs pass ``kind``.

Upload → the file is stored as MEDIA_ROOT/imports/<sha256>.<ext> (its name is its hash) →
preview (a dry run: counts and every bad row, with an error report to download) → apply
(atomic by default, or valid rows only). Preview and apply are import jobs run by the worker
(bihuan.core.imports); their page shows a progress bar until the result is there. The stored
file is reachable only from the session that uploaded it (passed as a query parameter, never
as a path segment), and a job only by the user who started it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bihuan.core import imports
from bihuan.core import tabular as tb
from bihuan.core.context import current_actor
from bihuan.core.errors import ServiceError
from bihuan.core.imports import TOKEN_RE, imports_dir  # noqa: F401 - imports_dir: where uploads live
from bihuan.core.models import ImportJob
from bihuan.core.scope import covers, require
from bihuan.orgs.models import OrgUnit

SESSION_KEY = "tabular_uploads"
MAX_ERRORS_SHOWN = 200
# A job still queued after this long: the page says the worker is not running.
QUEUED_WARNING_SECONDS = 5


def _kind(kind_name: str, request, verb: str) -> tb.Kind:
    try:
        kind = tb.get_kind(kind_name)
    except tb.TabularError:
        raise Http404
    require(request.user, f"{kind.permission_prefix}.{verb}")
    return kind


def _url(kind: tb.Kind, what: str) -> str:
    return reverse(f"web:{kind.name}_{what}")


# Files up to this size are sent from memory; larger ones are streamed from the temp file.
IN_MEMORY_BYTES = 8 * 1024 * 1024


def _download(fh, filename: str, fmt: str):
    """Send the temp file ``fh`` as an attachment."""
    ctype = ("text/csv; charset=utf-8" if fmt == "csv"
             else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    size = fh.seek(0, 2)
    fh.seek(0)
    if size <= IN_MEMORY_BYTES:
        resp = HttpResponse(fh.read(), content_type=ctype)
        fh.close()
        resp["Content-Disposition"] = content_disposition_header(True, filename)
    else:
        resp = FileResponse(fh, as_attachment=True, filename=filename, content_type=ctype)
    resp["Cache-Control"] = "no-store"
    return resp


@login_required
@require_GET
def export_view(request, kind: str):
    """Download the kind's rows in the user's export scope; ``?unit=ID`` for a subtree."""
    k = _kind(kind, request, "export")
    fmt = request.GET.get("format", "xlsx")
    if fmt not in tb.FORMATS:
        raise Http404
    unit = None
    if request.GET.get("unit"):
        # The unit must be inside this kind's export scope (a village secretary may export
        # their village's people without holding the tree's export permission).
        unit = OrgUnit.objects.get_scoped_or_404(request.user, "view", pk=request.GET["unit"])
        if not covers(request.user, f"{k.permission_prefix}.export", unit):
            raise Http404
    out = tempfile.TemporaryFile()
    tb.export(k, out, user=request.user, fmt=fmt, unit=unit)
    stamp = timezone.localtime().strftime("%Y%m%d")
    name = f"{k.spec.sheet_title}-{unit.code + '-' if unit else ''}{stamp}.{fmt}"
    return _download(out, name, fmt)


def _remember(request, source: tb.Source) -> str:
    token = f"{source.sha256}.{source.fmt}"
    uploads = request.session.get(SESSION_KEY, {})
    uploads[token] = source.filename
    request.session[SESSION_KEY] = dict(list(uploads.items())[-20:])  # keep the session small
    return token


def _source(request, token: str | None) -> tb.Source:
    """The stored upload behind ``token``, if this user uploaded it (in this session, or as one of
    their import jobs: the apply button on a job page opened later, from another session or after
    signing in again); 404 otherwise."""
    m = TOKEN_RE.match(token or "")
    filename = request.session.get(SESSION_KEY, {}).get(token or "")
    if m and filename is None:
        filename = (ImportJob.objects.filter(user_id=request.user.pk, token=token)
                    .order_by("-id").values_list("filename", flat=True).first())
    if not m or filename is None:
        raise Http404
    path = imports_dir() / token
    if not path.exists():
        raise Http404
    return tb.Source(path=path, filename=filename, fmt=m["ext"], size=path.stat().st_size, sha256=m["sha"])


@login_required
@require_http_methods(["GET", "POST"])
def import_upload(request, kind: str):
    k = _kind(kind, request, "import")
    error = None
    if request.method == "POST":
        f = request.FILES.get("file")
        if f is None:
            error = _("Choose a file to upload.")
        else:
            try:
                source = tb.store_upload(f.chunks(), f.name, imports_dir(), size=f.size)
            except tb.TabularError as exc:
                error = exc.message
            else:
                # The hash is kept with the file: its name, plus who sent it and under what name.
                meta = {"sha256": source.sha256, "filename": source.filename, "size": source.size,
                        "kind": k.name, "uploaded_by": request.user.username,
                        "uploaded_at": timezone.now().isoformat()}
                (imports_dir() / f"{source.sha256}.{source.fmt}.json").write_text(
                    json.dumps(meta, ensure_ascii=False))
                token = _remember(request, source)
                return _start(request, k, token, source.filename, dry_run=True)
    return render(request, "web/tabular/import.html", {
        "kind": k, "error": error, "headers": k.spec.headers, "notes": _notes(k),
        "max_mb": tb.max_import_bytes() // (1024 * 1024),
        "export_url": _url(k, "export"),
    }, status=400 if error else 200)


DEFAULT_NOTES = (
    gettext_lazy("The first row holds these headers, as in an export. Export first, edit, and import the "
                 "same file back."),
    gettext_lazy("By default any bad row means nothing is written; you can choose to import only the valid rows."),
    gettext_lazy("Formulas are not accepted: enter values."),
)


def _notes(k: tb.Kind) -> tuple:
    """What the import page says about the file: the register's own words (its handler's ``notes``),
    since only the register knows what a row does and whether its export can be imported back."""
    return tuple(getattr(k.handler, "notes", None) or DEFAULT_NOTES)


def _start(request, k: tb.Kind, token: str, filename: str, *, dry_run: bool, mode: str = tb.ATOMIC):
    """Queue the import (or preview) for the worker and go to its page."""
    actor = current_actor()
    try:
        job = imports.start(request.user, k.name, token, filename, now=timezone.now(), mode=mode, dry_run=dry_run,
                            ip=actor.ip, request_id=actor.request_id, language=get_language() or "")
    except ServiceError as exc:
        if exc.status == 404:
            raise Http404
        raise DjangoPermissionDenied
    return redirect("web:import_job", job_id=job.pk)


@login_required
@require_GET
def import_preview(request, kind: str):
    """Check the uploaded file again (a new preview job)."""
    k = _kind(kind, request, "import")
    token = request.GET.get("file")
    if not token:
        return redirect(_url(k, "import"))
    source = _source(request, token)
    return _start(request, k, token, source.filename, dry_run=True)


@login_required
@require_POST
def import_apply(request, kind: str):
    k = _kind(kind, request, "import")
    token = request.POST.get("file")
    source = _source(request, token)
    mode = tb.VALID_ONLY if request.POST.get("valid_only") else tb.ATOMIC
    return _start(request, k, token, source.filename, dry_run=False, mode=mode)


@login_required
@require_GET
def import_report(request, kind: str):
    """The error report of this user's latest check of the uploaded file (written by the job)."""
    k = _kind(kind, request, "import")
    token = request.GET.get("file")
    _source(request, token)
    job = (ImportJob.objects.filter(user_id=request.user.pk, kind=k.name, token=token, status=ImportJob.Status.DONE)
           .order_by("-id").first())
    if job is None:
        raise Http404
    return import_job_report(request, job.pk)


# --- the job page: progress while the worker runs it, then the result ------------------------------

def _job(request, job_id) -> tuple[ImportJob, tb.Kind]:
    """The user's own job (404 for anyone else's), while they may still import its register."""
    try:
        job = imports.owned(request.user, job_id)
    except ServiceError:
        raise Http404
    return job, _kind(job.kind, request, "import")


def _job_context(request, job: ImportJob, k: tb.Kind) -> dict:
    done, total = imports.progress(job)
    now = timezone.now()
    waited = (now - job.created_at).total_seconds()
    percent = min(99, int(done * 100 / total)) if total and job.status == ImportJob.Status.RUNNING else None
    ctx = {"kind": k, "job": job, "token": job.token, "rows_done": done, "rows_total": total, "percent": percent,
           # No worker has picked the job up for a while: say so instead of spinning forever.
           "no_worker": job.status == ImportJob.Status.QUEUED and waited >= QUEUED_WARNING_SECONDS,
           # Running for longer than a task may run: the worker was stopped or killed while on it.
           "stalled": job.status == ImportJob.Status.RUNNING and job.started_at is not None
           and (now - job.started_at).total_seconds() > settings.Q_CLUSTER["timeout"] + 60,
           "status_url": reverse("web:import_job_status", args=[job.pk]),
           "job_url": reverse("web:import_job", args=[job.pk]),
           "apply_url": _url(k, "import_apply"), "upload_url": _url(k, "import")}
    result = job.result or {}
    if result:
        ctx.update(result=result, errors=result["errors"][:MAX_ERRORS_SHOWN],
                   more_errors=max(0, result["error_count"] - min(len(result["errors"]), MAX_ERRORS_SHOWN)),
                   report_url=reverse("web:import_job_report", args=[job.pk]) if result["has_report"] else "")
    return ctx


@login_required
@require_GET
def import_job(request, job_id: int):
    job, k = _job(request, job_id)
    return render(request, "web/tabular/preview.html", _job_context(request, job, k))


@login_required
@require_GET
def import_job_status(request, job_id: int):
    """The htmx poll: the progress bar while the job runs, the result once it is done."""
    job, k = _job(request, job_id)
    return render(request, "web/tabular/_job.html", _job_context(request, job, k))


@login_required
@require_GET
def import_job_report(request, job_id: int):
    """The uploaded rows with an error column (错误), as the job found them."""
    job, k = _job(request, job_id)
    path = imports.report_path(job)
    if not path.is_file():
        raise Http404
    stem = Path(job.filename).stem or k.name
    return _download(open(path, "rb"), f"{stem}-错误报告.xlsx", "xlsx")
