"""Files as a field type: what an uploaded file must be, checked by its content.

Reuses the project's checks rather than new ones: the magic prefixes of ``loop``'s attachments
(JPEG, PNG, PDF), ``loop.images.check_image`` (a photo parses, no decompression bomb) and
``core.xlsx_reader.check_archive`` (an XLSX/DOCX is a zip whose directory is sane: bounded entry
count, bounded unpacked size and ratio, no encrypted, nested or odd entries — a zip bomb is refused
by its directory, before anything is decompressed). A file is at most ``MAX_FILE_BYTES``.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from bihuan.core.errors import ServiceError
from bihuan.core.xlsx_reader import Limits, XlsxError, check_archive
from bihuan.loop.images import check_image
from bihuan.loop.services.attachments import ALLOWED_ATTACHMENTS

MAX_FILE_BYTES = getattr(settings, "BIHUAN_LEDGER_MAX_FILE_BYTES", 10 * 1024 * 1024)
MAX_UNZIPPED_BYTES = 50 * 1024 * 1024  # an XLSX/DOCX unpacks to at most this
ZIP_LIMITS = Limits(max_entries=1_000, max_unpacked_bytes=MAX_UNZIPPED_BYTES, max_ratio=200)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ZIP_TYPES = {".xlsx": (XLSX, "xl/"), ".docx": (DOCX, "word/")}
ACCEPTED = "PDF, JPEG, PNG, XLSX, DOCX"


@dataclass
class Upload:
    """A file as received for a file field: its name and bytes (the content type is derived)."""

    name: str
    content: bytes


def _refuse(path: str, why: str) -> ServiceError:
    return ServiceError(_("%(field)s: %(why)s") % {"field": path, "why": why}, {path: why}, code="file")


def too_large(path: str, size: int) -> ServiceError:
    return _refuse(path, _("The file is %(size)d bytes; it must be between 1 byte and %(max)d MB.")
                   % {"size": size, "max": MAX_FILE_BYTES // (1024 * 1024)})


def clean_name(name: str) -> str:
    """The file's own name (no directories, no control characters), at most 100 characters."""
    base = os.path.basename(str(name or "").replace("\\", "/")).strip()
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '<>:"|?*')
    if len(base) > 100:
        stem, ext = os.path.splitext(base)
        base = stem[: 100 - len(ext)] + ext
    return base or "file"


def check(path: str, up: Upload) -> str:
    """The content type of ``up`` if it is an accepted file, else a ``ServiceError`` naming ``path``."""
    size = len(up.content)
    if size == 0 or size > MAX_FILE_BYTES:
        raise too_large(path, size)
    ext = os.path.splitext(up.name.lower())[1]
    if ext in ZIP_TYPES:
        content_type, marker = ZIP_TYPES[ext]
        if not up.content.startswith(b"PK\x03\x04"):
            raise _refuse(path, _("The file is not an accepted type (%(t)s).") % {"t": ACCEPTED})
        with tempfile.NamedTemporaryFile(suffix=ext) as tmp:
            tmp.write(up.content)
            tmp.flush()
            try:
                check_archive(tmp.name, ZIP_LIMITS)
            except XlsxError:
                raise _refuse(path, _("The %(ext)s file is damaged, or unpacks to more than %(mb)d MB.")
                              % {"ext": ext[1:].upper(), "mb": MAX_UNZIPPED_BYTES // (1024 * 1024)}) from None
            with zipfile.ZipFile(tmp.name) as zf:
                names = zf.namelist()
        if "[Content_Types].xml" not in names or not any(n.startswith(marker) for n in names):
            raise _refuse(path, _("The file is not an accepted type (%(t)s).") % {"t": ACCEPTED})
        return content_type
    for content_type, (exts, magic) in ALLOWED_ATTACHMENTS.items():
        if ext in exts and up.content.startswith(magic):
            try:
                check_image(up.name, content_type, up.content)
            except ServiceError as exc:
                raise _refuse(path, next(iter(exc.field_errors.values()), str(exc.message))) from None
            return content_type
    raise _refuse(path, _("The file is not an accepted type (%(t)s).") % {"t": ACCEPTED})
