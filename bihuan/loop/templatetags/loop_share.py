"""``{% qr_svg text %}``: a QR code drawn server-side as inline SVG (segno; no outside service)."""

import segno
from django import template
from django.utils.safestring import mark_safe

register = template.Library()


@register.simple_tag
def qr_svg(text: str, title: str = ""):
    # segno writes the SVG itself from the encoded modules: no user text is interpolated into it.
    return mark_safe(segno.make(str(text)[:500], error="m").svg_inline(scale=4, border=2, dark="#000", light="#fff"))


@register.simple_tag
def absolute(request, path: str) -> str:
    """``path`` as a full link on this site (the tracking link, wherever the page was rendered from)."""
    return request.build_absolute_uri(path)
