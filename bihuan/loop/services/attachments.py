"""Attachments of a matter: accepted types (checked by content, not only by name), sizes, storage."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _

from bihuan.core.errors import ServiceError

from ..models import Attachment, Matter, MatterEvent

MAX_ATTACHMENTS = 9
MAX_ATTACHMENT_BYTES = getattr(settings, "BIHUAN_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024)
# content type → (extensions, magic prefix)
ALLOWED_ATTACHMENTS = {
    "image/jpeg": ((".jpg", ".jpeg"), b"\xff\xd8\xff"),
    "image/png": ((".png",), b"\x89PNG\r\n\x1a\n"),
    "application/pdf": ((".pdf",), b"%PDF-"),
}


@dataclass
class Upload:
    """An attachment as received: name, declared content type and the bytes."""

    name: str
    content_type: str
    content: bytes


def validate_uploads(uploads) -> list[Upload]:
    uploads = list(uploads or [])
    if len(uploads) > MAX_ATTACHMENTS:
        raise ServiceError(_("At most %(n)d attachments.") % {"n": MAX_ATTACHMENTS},
                           {"attachments": _("Too many attachments.")})
    for up in uploads:
        spec = ALLOWED_ATTACHMENTS.get((up.content_type or "").lower())
        name = (up.name or "").lower()
        if spec is None or not name.endswith(spec[0]) or not up.content.startswith(spec[1]):
            raise ServiceError(
                _("Attachment %(name)s is not an accepted type (JPEG, PNG or PDF).") % {"name": up.name},
                {"attachments": _("Wrong file type.")}, code="attachment_type")
        if len(up.content) == 0 or len(up.content) > MAX_ATTACHMENT_BYTES:
            raise too_large(up.name, len(up.content))
    return uploads


def too_large(name: str, size: int) -> ServiceError:
    """The refusal of a file of ``size`` bytes (the web checks the size before reading the file)."""
    return ServiceError(
        _("Attachment %(name)s is %(size)d bytes; it must be between 1 byte and %(max)d MB.")
        % {"name": name, "size": size, "max": MAX_ATTACHMENT_BYTES // (1024 * 1024)},
        {"attachments": _("Wrong file size.")}, code="attachment_size")


def store_uploads(matter: Matter, event: MatterEvent | None, uploads: list[Upload]) -> list[Attachment]:
    out = []
    for up in uploads:
        att = Attachment(matter=matter, event=event, name=up.name[:120], content_type=up.content_type,
                         size=len(up.content), sha256=hashlib.sha256(up.content).hexdigest())
        att.file.save(up.name[-80:], ContentFile(up.content), save=False)
        att.save()
        out.append(att)
    return out
