"""Photo renditions: thumbnails and larger copies made by ``loop.images`` (re-encoded, no EXIF).

* ``/loop/<id>/files/<attachment>/<size>/`` — staff, for a matter in their view scope (else 404,
  like the original at ``/loop/<id>/files/<attachment>/``);
* ``/demand/<token>/photos/<attachment>/<size>/`` — the resident, through their tracking link, for
  any photo of their own (public) matter;
* ``/demands/photos/<attachment>/<size>/`` — anyone, only for a closing photo (evidence of
  "report done") of a public demand, which the public list shows.

Only images have renditions; anything else is a 404.
"""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404

from bihuan.core.views import requires

from .. import accountability, images, public, services


def _serve(att, size: str, *, cache: str):
    if att is None or size not in images.SIZES or not images.is_image(att):
        raise Http404
    name = images.rendition(att, size)
    if name is None:  # stored before photos were checked, and not drawable
        raise Http404
    resp = FileResponse(default_storage.open(name, "rb"), content_type="image/jpeg")
    resp["X-Content-Type-Options"] = "nosniff"
    resp["Cache-Control"] = cache
    return resp


@requires("loop.matter.view")
def staff_rendition(request, pk: int, attachment_id: int, size: str):
    m = services.get_matter(request.user, pk)  # out of scope → NotFound → 404
    return _serve(m.attachments.filter(pk=attachment_id).first(), size, cache="private, max-age=3600")


def resident_rendition(request, token: str, attachment_id: int, size: str):
    m = public.by_token(token)  # staff-registered matters have no public page → 404
    resp = _serve(m.attachments.filter(pk=attachment_id).first(), size, cache="private, max-age=3600")
    resp["Referrer-Policy"] = "same-origin"
    return resp


def public_rendition(request, attachment_id: int, size: str):
    return _serve(accountability.closing_photos().filter(pk=attachment_id).first(), size,
                  cache="public, max-age=3600")
