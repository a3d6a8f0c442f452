"""Shared setup for the loop tests: categories and a matter walked through the loop."""

from __future__ import annotations

from datetime import datetime

from bihuan.core.calendar import TZ
from bihuan.loop import services
from bihuan.loop.models import Category


def png_bytes(w: int = 8, h: int = 8, colour=(200, 60, 60)) -> bytes:
    """A real PNG (photos are parsed: a header followed by junk is refused)."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(out, "PNG")
    return out.getvalue()


def jpeg_with_gps(w: int = 640, h: int = 480) -> bytes:
    """A JPEG photo carrying an EXIF GPS position and camera make, as a phone writes it."""
    import io

    from PIL import Image

    im = Image.new("RGB", (w, h), (40, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (35.0, 24.0, 36.0), 3: "E", 4: (116.0, 35.0, 24.0)})
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif)
    return out.getvalue()


PNG = png_bytes()


def at(s: str) -> datetime:
    """'2026-11-02 09:00' in Asia/Shanghai."""
    return datetime.fromisoformat(s).replace(tzinfo=TZ)


def make_categories():
    road = Category.objects.create(code="road", name="道路破损", kind="problem", accept_hours=4, handle_days=3,
                                   warn_percent=80, max_extensions=1, max_extension_days=5)
    demand = Category.objects.create(code="water", name="供水问题", kind="demand", accept_hours=2, handle_days=5,
                                     warn_percent=80, max_extensions=1)
    return road, demand


def new_matter(user, category, unit, now, title="路面破损", description="村东头路面有坑，雨天积水。"):
    return services.create_matter(user, category=category, location_unit=unit, title=title,
                                  description=description, reporter_name="张三", reporter_phone="13812345678",
                                  now=now)


def closed_matter(tree, users, category, now):
    """A matter registered, dispatched to 芦庙村, accepted, reported and evaluated (pass)."""
    m = new_matter(users.lumiao_grid, category, tree.lumiao_g1, now)
    m = services.dispatch(users.liying_staff, m.pk, version=m.version, handling_unit=tree.lumiao, now=now)
    m = services.accept(users.lumiao_secretary, m.pk, version=m.version, now=now)
    m = services.report_done(users.lumiao_secretary, m.pk, version=m.version, comment="已修复", now=now)
    m = services.evaluate(users.liying_staff, m.pk, version=m.version, passed=True, now=now)
    return m
