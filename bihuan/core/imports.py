"""Web imports in the background: an ``ImportJob`` per preview or apply, run by the worker.

``start()`` records the job and queues ``run(job_id)`` for ``bihuan worker``; the task calls
``tabular.run_import`` as the job's owner (one transaction, one audit entry, as always),
writes the error report next to the upload and stores the counts and the first errors on
the job. The web page polls ``progress()`` until the job is done. See docs/import-export.md.

Uploads live in ``imports_dir()`` as ``<sha256>.<ext>`` (plus ``.json`` metadata); the daily
``imports.cleanup`` job removes them after ``BIHUAN_IMPORT_KEEP_DAYS``.
"""

from __future__ import annotations

import logging
import os
import re
import time
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from . import jobs
from . import tabular as tb
from .context import acting_as
from .errors import NotFound, PermissionDenied
from .models import ImportJob

log = logging.getLogger("bihuan.imports")

TOKEN_RE = re.compile(r"^(?P<sha>[0-9a-f]{64})\.(?P<ext>xlsx|csv)$")
ERRORS_KEPT = 200  # errors stored on the job (the report file has all of them)
PROGRESS_EVERY = 0.5  # seconds between progress writes
RUN_TASK = "bihuan.core.imports.run"


def imports_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "imports"


def jobs_dir() -> Path:
    return imports_dir() / "jobs"


def report_path(job: ImportJob) -> Path:
    return jobs_dir() / f"{job.pk}-errors.xlsx"


def _progress_path(job_id: int) -> Path:
    return jobs_dir() / f"{job_id}.progress"


def owned(user, job_id) -> ImportJob:
    """The job, if ``user`` started it; NotFound otherwise (another user's job does not exist)."""
    try:
        return ImportJob.objects.get(pk=int(job_id), user_id=user.pk)
    except (ImportJob.DoesNotExist, TypeError, ValueError):
        raise NotFound()


def start(user, kind: str, token: str, filename: str, *, now: datetime, mode: str = tb.ATOMIC,
          dry_run: bool = False, ip: str = "", request_id: str = "", language: str = "") -> ImportJob:
    """Queue an import (or, with ``dry_run``, a preview) of the stored upload ``token``."""
    k = tb.get_kind(kind)
    if user is None or not tb.can(user, k, "import"):
        raise PermissionDenied()
    m = TOKEN_RE.match(token or "")
    path = imports_dir() / (token or "")
    if not m or not path.is_file():
        raise NotFound()
    if mode not in (tb.ATOMIC, tb.VALID_ONLY):
        raise ValueError(mode)
    with transaction.atomic():
        # With the database as the queue, the job row and its task commit together.
        job = ImportJob.objects.create(
            kind=k.name, token=token, filename=filename[:255], mode=mode, dry_run=dry_run, user_id=user.pk,
            ip=ip[:64], request_id=request_id[:32], language=language[:16], created_at=now,
            rows_total=estimate_rows(path, m["ext"]))
        task_id = jobs.enqueue(RUN_TASK, job.pk, name=f"import {k.name} #{job.pk}")
        ImportJob.objects.filter(pk=job.pk).update(task_id=task_id or "")
    job.refresh_from_db()
    return job


def progress(job: ImportJob) -> tuple[int, int | None]:
    """(rows done, rows expected or None) as the page shows them."""
    if job.status == ImportJob.Status.RUNNING:
        try:
            done = int(_progress_path(job.pk).read_text() or 0)
        except (OSError, ValueError):
            done = 0
        return done, job.rows_total
    return job.rows_done, job.rows_total


class _ProgressFile:
    """``run_import``'s progress hook: the count of rows read, written at most every 0.5 s.

    Not the job row: the import holds its transaction open (on SQLite the only write lock)
    until it ends, so a row update from inside would wait for it, and one from a second
    connection could not be made on SQLite at all. A small file beside the upload can.
    """

    def __init__(self, job_id: int):
        self.path = _progress_path(job_id)
        self.done = 0
        self.last = 0.0

    def __call__(self, n: int) -> None:
        self.done += n
        t = time.monotonic()
        if t - self.last >= PROGRESS_EVERY:
            self.last = t
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(str(self.done))
            os.replace(tmp, self.path)


def run(job_id: int) -> dict:
    """The worker's task: run a queued import job. Safe to deliver twice (runs once)."""
    now = timezone.now()
    if not ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
            status=ImportJob.Status.RUNNING, started_at=now):
        return {"job": job_id, "skipped": "not queued"}
    job = ImportJob.objects.get(pk=job_id)
    jobs_dir().mkdir(parents=True, exist_ok=True)
    hook = _ProgressFile(job.pk)
    try:
        with translation.override(job.language or settings.LANGUAGE_CODE):
            result, has_report = _run(job, hook)
    except Exception as exc:  # noqa: BLE001 - the job says it failed; the log has the traceback
        log.exception("import job %s failed", job_id)
        ImportJob.objects.filter(pk=job_id).update(
            status=ImportJob.Status.FAILED, error=str(getattr(exc, "message", exc))[:2000],
            rows_done=hook.done, finished_at=timezone.now())
        return {"job": job_id, "failed": str(exc)}
    finally:
        _progress_path(job_id).unlink(missing_ok=True)
    summary = result_json(result, has_report)
    ImportJob.objects.filter(pk=job_id).update(
        status=ImportJob.Status.DONE, rows_done=result.total, rows_total=result.total, result=summary,
        finished_at=timezone.now())
    log.info("import job %s (%s, %s, user %s): %s, %s rows", job_id, job.kind, job.filename, job.user_id,
             summary["result"], result.total)
    return {"job": job_id, "result": summary["result"], "rows": result.total}


def _run(job: ImportJob, hook) -> tuple[tb.ImportResult, bool]:
    kind = tb.get_kind(job.kind)
    user = get_user_model().objects.filter(pk=job.user_id, is_active=True).first()
    if user is None or not tb.can(user, kind, "import"):
        raise PermissionDenied(_("You may no longer import this register."))
    m = TOKEN_RE.match(job.token)
    path = imports_dir() / job.token
    if not m or not path.is_file():
        raise NotFound(_("The uploaded file is no longer stored; upload it again."))
    source = tb.Source(path=path, filename=job.filename, fmt=m["ext"], size=path.stat().st_size, sha256=m["sha"])
    with acting_as(user, ip=job.ip, request_id=job.request_id or None):
        result = tb.run_import(kind, source, user=user, mode=job.mode, dry_run=job.dry_run, progress=hook,
                               now=timezone.now())
    has_report = bool(result.errors or result.file_error)
    if has_report:
        tb.write_error_report(report_path(job), kind, source, result)
    return result, has_report


def result_json(result: tb.ImportResult, has_report: bool) -> dict:
    """What the result page shows, under the names the templates use."""
    return {"filename": result.filename, "sha256": result.sha256, "mode": result.mode,
            "dry_run": result.dry_run, "applied": result.applied, "result": result.outcome,
            "file_error": str(result.file_error), "total": result.total, "valid": result.valid,
            "invalid": result.invalid, "created": result.created, "updated": result.updated,
            "unchanged": result.unchanged, "error_count": len(result.errors),
            "errors": [e.as_dict() for e in result.errors[:ERRORS_KEPT]], "has_report": has_report}


# --- how many rows to expect -------------------------------------------------------------------

_DIMENSION = re.compile(rb'<dimension ref="[A-Z]+\d+:[A-Z]+(\d+)"')
SAMPLE_BYTES = 256 * 1024


def estimate_rows(path: Path, fmt: str) -> int | None:
    """Data rows in the file, estimated cheaply (for the progress bar); None if unknown."""
    try:
        if fmt == "csv":
            size = path.stat().st_size
            with open(path, "rb") as fh:
                sample = fh.read(SAMPLE_BYTES)
            lines = sample.count(b"\n") + (0 if sample.endswith(b"\n") else 1)
            if len(sample) >= size:
                return max(0, lines - 1)
            return max(0, round(size * lines / len(sample)) - 1)
        with zipfile.ZipFile(path) as zf:
            sheets = sorted((n for n in zf.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)),
                            key=lambda n: int(re.sub(r"\D", "", n)))
            if not sheets:
                return None
            info = zf.getinfo(sheets[0])
            with zf.open(info) as fh:
                sample = fh.read(SAMPLE_BYTES)
        m = _DIMENSION.search(sample[:4096])
        if m and int(m.group(1)) > 1:
            return int(m.group(1)) - 1
        rows = sample.count(b"<row")  # openpyxl's streamed files have no useful dimension
        if not rows:
            return None
        if len(sample) >= info.file_size:
            return max(0, rows - 1)
        return max(0, round(info.file_size * rows / len(sample)) - 1)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError):
        return None


# --- cleanup ------------------------------------------------------------------------------------

def _token_of(path: Path) -> str:
    return ".".join(path.name.split(".")[:2])


@jobs.register("imports.cleanup", every_seconds=24 * 3600)
def cleanup(now: datetime) -> dict:
    """Remove uploads, their metadata and error reports older than BIHUAN_IMPORT_KEEP_DAYS,
    and the finished jobs of that age; files of a queued or running job are kept."""
    cutoff = now - timedelta(days=int(settings.BIHUAN_IMPORT_KEEP_DAYS))
    active = set(ImportJob.objects.filter(status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING])
                 .values_list("token", flat=True))
    removed = 0
    for folder in (imports_dir(), jobs_dir()):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if not p.is_file() or (folder == imports_dir() and _token_of(p) in active):
                continue
            if p.stat().st_mtime < cutoff.timestamp():
                p.unlink(missing_ok=True)
                removed += 1
    old_jobs, _ = ImportJob.objects.filter(created_at__lt=cutoff, status__in=[
        ImportJob.Status.DONE, ImportJob.Status.FAILED]).delete()
    return {"files_removed": removed, "jobs_removed": old_jobs}
