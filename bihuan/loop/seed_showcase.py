"""Demo matters that show the pages of issue 10's "Missing" items, walked through the real services:

* at 芦庙村's first grid, a problem reported with its coordinates and photos (their EXIF carries a
  GPS position, which the thumbnails drop), accepted by 芦庙村 and with two progress notes
  (办理进展) with photos;
* residents' demands in 李营街道 from the public form: three closed with the handling unit's
  reply and a closing photo, one in progress with a progress note — the public list
  (``/demands/``) and their tracking pages show them.

Photos are drawn here with Pillow (no files shipped). Deterministic for a given ``now``.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from PIL import Image, ImageDraw

from bihuan.orgs.models import OrgUnit

from . import services
from .models import Category, Kind, Source

LUMIAO, LUMIAO_GRID = "370811008201", "370811008201001"


def photo(colour: tuple[int, int, int], label: str, *, gps: tuple[float, float] | None = None) -> bytes:
    """A 1024×768 JPEG as a phone would send it (with a camera make and, if given, a GPS position)."""
    im = Image.new("RGB", (1024, 768), colour)
    d = ImageDraw.Draw(im)
    for i in range(0, 1024, 64):
        d.line([(i, 768), (i + 200, 400)], fill=tuple(min(255, c + 40) for c in colour), width=6)
    d.rectangle([40, 40, 420, 120], fill=(255, 255, 255))
    d.text((60, 70), label, fill=(0, 0, 0))
    exif = Image.Exif()
    exif[0x010F] = "DemoPhone"
    if gps:
        def dms(x):
            deg = int(x)
            minutes = int((x - deg) * 60)
            return (float(deg), float(minutes), round(((x - deg) * 60 - minutes) * 60, 2))
        exif.get_ifd(0x8825).update({1: "N", 2: dms(gps[0]), 3: "E", 4: dms(gps[1])})
    out = io.BytesIO()
    im.save(out, "JPEG", quality=80, exif=exif)
    return out.getvalue()


def _upload(name: str, colour, label: str, gps=None) -> services.Upload:
    return services.Upload(name, "image/jpeg", photo(colour, label, gps=gps))


def seed_showcase(now: datetime) -> int:
    """Create the showcase matters (skipped when 芦庙村 is not in the tree). Returns how many."""
    lumiao = OrgUnit.objects.filter(code=LUMIAO, valid_to__isnull=True).first()
    grid = OrgUnit.objects.filter(code=LUMIAO_GRID, valid_to__isnull=True).first()
    if lumiao is None or grid is None:
        return 0
    cats = {c.code: c for c in Category.objects.filter(code__in=["road", "water", "streetlight", "sanitation"])}
    if len(cats) < 4:
        return 0
    lat, lon = grid.centre_lat or 35.4065, grid.centre_lon or 116.6052
    t = now - timedelta(days=3, hours=2)
    m = services.create_matter(
        None, category=cats["road"], location_unit=grid, title="芦庙村东桥头路面塌陷", kind=Kind.PROBLEM,
        description="东桥头南侧路面塌陷约两平方米，夜间有电动车摔倒风险。", address="芦庙村东桥头",
        lat=round(lat + 0.0004, 6), lon=round(lon - 0.0003, 6), source=Source.STAFF, now=t,
        uploads=[_upload("桥头塌陷.jpg", (120, 110, 100), "bridge, before", gps=(lat, lon)),
                 _upload("桥头全景.jpg", (90, 120, 90), "bridge, wide", gps=(lat, lon))])
    m = services.dispatch(None, m, version=m.version, handling_unit=lumiao, now=t + timedelta(hours=1))
    m = services.accept(None, m, version=m.version, now=t + timedelta(hours=2))
    m = services.add_progress(None, m, version=m.version, now=t + timedelta(days=1),
                              comment="已设置围挡和警示灯，联系施工队明日进场。",
                              uploads=[_upload("围挡.jpg", (200, 140, 40), "fenced off")])
    services.add_progress(None, m, version=m.version, now=t + timedelta(days=2),
                          comment="施工队已进场，正在回填压实，预计后天完工。",
                          uploads=[_upload("施工中.jpg", (150, 150, 160), "works"),
                                   _upload("回填.jpg", (110, 100, 80), "backfill")])
    made = 1
    # Residents' demands in 李营街道 (from the public form), for the public list.
    villages = list(lumiao.parent.children.filter(valid_to__isnull=True).order_by("path")[:4]) or [lumiao]
    demands = [
        ("streetlight", "村西头三盏路灯不亮，晚上出行不便。", "已更换三盏路灯灯头，经夜间巡查已正常照明。"),
        ("water", "小区自来水水压过低，高层用户用不上水。", "已更换加压泵控制器，水压恢复正常。"),
        ("sanitation", "村口垃圾池满溢，已经三天没有清运。", "已清运并增加每周清运次数至三次。"),
    ]
    for i, (code, text, reply) in enumerate(demands):
        place = villages[i % len(villages)]
        t = now - timedelta(days=12 - 3 * i, hours=5)
        d = services.create_matter(None, category=cats[code], location_unit=place, kind=Kind.DEMAND,
                                   title=f"{cats[code].name}：{text[:20]}", description=text,
                                   source=Source.PUBLIC, reporter_name="刘女士", reporter_phone="13912345678", now=t)
        d = services.dispatch(None, d, version=d.version, handling_unit=place, now=t + timedelta(hours=2))
        d = services.accept(None, d, version=d.version, now=t + timedelta(hours=3))
        d = services.report_done(None, d, version=d.version, comment=reply, now=t + timedelta(days=1),
                                 uploads=[_upload("完成.jpg", (60 + 40 * i, 160, 120), "done")])
        d = services.evaluate(None, d, version=d.version, passed=True, comment="验收通过", now=t + timedelta(days=1, hours=3))
        made += 1
    t = now - timedelta(days=1, hours=3)
    d = services.create_matter(None, category=cats["road"] if cats["road"].kind == Kind.DEMAND else cats["water"],
                               location_unit=lumiao, kind=Kind.DEMAND, title="供水：芦庙村北街停水",
                               description="北街从昨天起停水，家里有老人，请尽快恢复。", source=Source.PUBLIC, now=t)
    d = services.dispatch(None, d, version=d.version, handling_unit=lumiao, now=t + timedelta(hours=1))
    d = services.accept(None, d, version=d.version, now=t + timedelta(hours=2))
    services.add_progress(None, d, version=d.version, now=t + timedelta(hours=5),
                          comment="已找到北街主管道漏点，正在抢修，今晚恢复供水。",
                          uploads=[_upload("抢修.jpg", (70, 90, 160), "repair")])
    return made + 1
