"""Photos of matters: hostile images refused cheaply, and the copies people see, without EXIF.

* **Refused cheaply.** ``check_image`` reads only the header (Pillow's ``open`` is lazy) and refuses
  an image whose declared size is over ``MAX_SIDE`` on a side or ``MAX_PIXELS`` in all — a
  decompression bomb is refused before a byte of it is decoded — then ``verify()`` checks the file's
  structure, and a JPEG is decoded at 1/8 scale (a truncated one is refused). The byte limit is
  ``services.attachments.MAX_ATTACHMENT_BYTES``, checked before this. A stored photo that still
  cannot be drawn has no rendition (a 404), never a server error.
* **What people see is re-encoded.** ``rendition`` draws a copy no larger than a box (the thumbnail
  on the matter page and the timeline, the larger view on the public pages), turned upright from
  the EXIF orientation and saved as a new JPEG with no metadata at all: no EXIF, no GPS position,
  no camera serial. Staff with the matter in scope can still open the original (the evidence);
  residents and the public list only ever get renditions.
* **Made once.** A rendition is stored beside the originals under a name derived from the
  attachment's id, content hash and size, and served from there afterwards.
"""

from __future__ import annotations

import io
import warnings

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from bihuan.core.errors import ServiceError

MAX_SIDE = 12_000  # pixels on either side
MAX_PIXELS = 50_000_000  # a 50-megapixel photo is larger than any phone's
THUMB = 240  # the thumbnail's box (matter page, timeline, public list)
VIEW = 1280  # the larger copy residents open
SIZES = {"thumb": THUMB, "view": VIEW}
FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}

# Pillow's own guard as a second line: anything above it raises instead of warning.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def _refuse(name: str, why: str) -> ServiceError:
    return ServiceError(_("Photo %(name)s cannot be used: %(why)s") % {"name": name, "why": why},
                        {"attachments": why}, code="attachment_image")


def check_image(name: str, content_type: str, content: bytes) -> None:
    """Refuse an image that does not parse as its declared type or is too large to decode."""
    fmt = FORMATS.get(content_type)
    if fmt is None:
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content), formats=[fmt]) as im:
                w, h = im.size
                if w < 1 or h < 1 or w > MAX_SIDE or h > MAX_SIDE or w * h > MAX_PIXELS:
                    raise _refuse(name, _("it is %(w)d × %(h)d pixels; at most %(side)d on a side and "
                                          "%(mp)d megapixels.")
                                  % {"w": w, "h": h, "side": MAX_SIDE, "mp": MAX_PIXELS // 1_000_000})
                im.verify()
            if fmt == "JPEG":  # verify() checks little for JPEG: decode it at 1/8 scale (cheap) to be sure
                with Image.open(io.BytesIO(content), formats=[fmt]) as im:
                    im.draft("RGB", (max(1, w // 8), max(1, h // 8)))
                    im.load()
    except ServiceError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # Pillow's own guard, from the header
        raise _refuse(name, _("it declares more than %(mp)d megapixels.") % {"mp": MAX_PIXELS // 1_000_000})
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise _refuse(name, _("it is not a readable image."))


def is_image(att) -> bool:
    return att.content_type in FORMATS


def _path(att, size: str) -> str:
    return f"loop/renditions/{att.matter_id}/{att.pk}-{att.sha256[:16]}-{size}.jpg"


def render(content: bytes, box: int) -> bytes:
    """A JPEG copy of ``content`` within ``box`` × ``box``, upright, with no metadata."""
    with Image.open(io.BytesIO(content)) as im:
        im.draft("RGB", (box, box))  # JPEG: decode at a reduced scale, cheaper for big photos
        im = ImageOps.exif_transpose(im)
        im.thumbnail((box, box))
        if im.mode not in ("RGB", "L"):
            bg = Image.new("RGB", im.size, "white")
            bg.paste(im, mask=im.convert("RGBA").getchannel("A"))
            im = bg
        out = io.BytesIO()
        # A fresh image saved without ``exif=``/``icc_profile=``: nothing of the original's metadata.
        im.save(out, "JPEG", quality=82, optimize=True)
        return out.getvalue()


def rendition(att, size: str) -> str | None:
    """The storage name of ``att``'s rendition ``size`` ("thumb" or "view"), made on first use;
    None when the stored file cannot be drawn."""
    name = _path(att, size)
    if not default_storage.exists(name):
        with att.file.open("rb") as f:
            try:
                data = render(f.read(), SIZES[size])
            except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError,
                    EOFError):
                return None
        saved = default_storage.save(name, ContentFile(data))
        if saved != name:  # a concurrent request made it first; keep one copy
            default_storage.delete(saved)
    return name
