"""The stored file: a file over ``settings.BIHUAN_MAX_IMPORT_BYTES`` is refused before it is
opened; an upload is saved under its content hash."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from .base import FORMATS, TabularError


@dataclass(frozen=True)
class Source:
    """An import file on disk, checked for size and format, with its SHA-256."""

    path: Path
    filename: str
    fmt: str
    size: int
    sha256: str


def max_import_bytes() -> int:
    return int(getattr(settings, "BIHUAN_MAX_IMPORT_BYTES", 100 * 1024 * 1024))


def format_of(filename: str) -> str:
    ext = Path(filename or "").suffix.lower().lstrip(".")
    if ext not in FORMATS:
        raise TabularError(_("Only .xlsx and .csv files can be imported."), code="bad_format")
    return ext


def check_size(size: int) -> None:
    limit = max_import_bytes()
    if size > limit:
        raise TabularError(_("The file is %(size)s; the limit is %(limit)s.")
                           % {"size": _human(size), "limit": _human(limit)}, code="too_large")
    if size == 0:
        raise TabularError(_("The file is empty."), code="empty")


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def open_source(path, filename: str | None = None) -> Source:
    """Check a file before anything parses it: extension, size (limit), then hash it."""
    path = Path(path)
    filename = filename or path.name
    fmt = format_of(filename)
    try:
        size = path.stat().st_size
    except OSError:
        raise TabularError(_("The file cannot be read."), code="unreadable")
    check_size(size)
    return Source(path=path, filename=filename, fmt=fmt, size=size, sha256=sha256_of(path))


def store_upload(chunks: Iterable[bytes], filename: str, directory, *, size: int | None = None) -> Source:
    """Save an uploaded file as ``<directory>/<sha256>.<ext>``: the name is the content hash."""
    fmt = format_of(filename)
    if size is not None:
        check_size(size)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    h, total = hashlib.sha256(), 0
    tmp = directory / f".upload-{os.getpid()}-{id(h)}.part"
    try:
        with open(tmp, "wb") as out:
            for chunk in chunks:
                total += len(chunk)
                if total > max_import_bytes():
                    raise TabularError(_("The file is larger than the limit of %(limit)s.")
                                       % {"limit": _human(max_import_bytes())}, code="too_large")
                h.update(chunk)
                out.write(chunk)
        check_size(total)
        digest = h.hexdigest()
        final = directory / f"{digest}.{fmt}"
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return Source(path=final, filename=filename, fmt=fmt, size=total, sha256=digest)
