"""Import and export pages for any registered kind (bihuan.core.tabular); URLs pass ``kind``.

Upload → the file is stored as MEDIA_ROOT/imports/<sha256>.<ext> (its name is its hash) →
preview (a dry run: counts and every bad row, with an error report to download) → apply
(atomic by default, or valid rows only). The stored file is reachable only from the session
that uploaded it; the file itself is passed as a query parameter, never as a path segment.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bihuan.core import tabular as tb
from bihuan.orgs.models import OrgUnit

from .views import require_perm

SESSION_KEY = "tabular_uploads"
TOKEN_RE = re.compile(r"^(?P<sha>[0-9a-f]{64})\.(?P<ext>xlsx|csv)$")
MAX_ERRORS_SHOWN = 200


def imports_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "imports"


def _kind(kind_name: str, request, verb: str) -> tb.Kind:
    try:
        kind = tb.get_kind(kind_name)
    except tb.TabularError:
        raise Http404
    require_perm(request, f"{kind.permission_prefix}.{verb}")
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
        if not request.user.get_scope(f"{k.permission_prefix}.export").covers_unit(unit):
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
    """The stored upload behind ``token``, if this session uploaded it; 404 otherwise."""
    m = TOKEN_RE.match(token or "")
    filename = request.session.get(SESSION_KEY, {}).get(token or "")
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
                return redirect(f"{_url(k, 'import_preview')}?file={token}")
    return render(request, "web/tabular/import.html", {
        "kind": k, "error": error, "headers": k.spec.headers,
        "max_mb": tb.max_import_bytes() // (1024 * 1024),
        "export_url": _url(k, "export"),
    }, status=400 if error else 200)


def _result_context(k: tb.Kind, token: str, result: tb.ImportResult) -> dict:
    return {"kind": k, "token": token, "result": result,
            "errors": result.errors[:MAX_ERRORS_SHOWN], "more_errors": max(0, len(result.errors) - MAX_ERRORS_SHOWN),
            "report_url": f"{_url(k, 'import_report')}?file={token}",
            "apply_url": _url(k, "import_apply"), "upload_url": _url(k, "import")}


@login_required
@require_GET
def import_preview(request, kind: str):
    k = _kind(kind, request, "import")
    token = request.GET.get("file")
    if not token:
        return redirect(_url(k, "import"))
    source = _source(request, token)
    result = tb.run_import(k, source, user=request.user, dry_run=True)
    return render(request, "web/tabular/preview.html", _result_context(k, token, result))


@login_required
@require_POST
def import_apply(request, kind: str):
    k = _kind(kind, request, "import")
    token = request.POST.get("file")
    source = _source(request, token)
    mode = tb.VALID_ONLY if request.POST.get("valid_only") else tb.ATOMIC
    result = tb.run_import(k, source, user=request.user, mode=mode)
    return render(request, "web/tabular/preview.html", _result_context(k, token, result),
                  status=200 if result.applied else 400)


@login_required
@require_GET
def import_report(request, kind: str):
    """The uploaded rows with an error column (错误), rechecked now as this user."""
    k = _kind(kind, request, "import")
    source = _source(request, request.GET.get("file"))
    result = tb.run_import(k, source, user=request.user, dry_run=True)
    out = tempfile.TemporaryFile()
    tb.write_error_report(out, k, source, result)
    stem = Path(source.filename).stem or k.name
    return _download(out, f"{stem}-错误报告.xlsx", "xlsx")
