"""One chart: a horizontal bar chart drawn with Pillow in the Noto CJK font, as PNG bytes.

Used for every section in the PDF (data URI), the DOCX (a picture) and the chart pages. Bars are
at most ``MAX_BARS`` (the best first; the rest are named in a footnote line), so a township with
60 villages still gives a readable image of bounded size. Deterministic: the same figures give
the same bytes.
"""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

FONT_PATH = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
MAX_BARS = 30
WIDTH = 1200
ROW = 34
TOP = 70
LEFT = 260
RIGHT = 140


class ChartError(RuntimeError):
    """The chart could not be drawn (font missing or unreadable); the message says why."""


@lru_cache(maxsize=4)
def _font(size: int, path: str = FONT_PATH):
    try:
        return ImageFont.truetype(path, size, index=2)  # index 2 of the collection: SC (Simplified)
    except OSError as exc:
        raise ChartError(f"font {path} cannot be read: {exc}") from exc


def bar_chart(title: str, labels: list[str], values: list, unit: str = "", *, font_path: str = FONT_PATH) -> bytes:
    """PNG of a horizontal bar chart; ``None`` values are drawn as "—" without a bar."""
    labels, values = list(labels)[:MAX_BARS], list(values)[:MAX_BARS]
    font, small, big = _font(20, font_path), _font(16, font_path), _font(26, font_path)
    height = TOP + ROW * max(1, len(labels)) + 30
    img = Image.new("RGB", (WIDTH, height), "white")
    d = ImageDraw.Draw(img)
    d.text((20, 18), title[:60], fill="#222222", font=big)
    nums = [v for v in values if isinstance(v, int | float)]
    top = max([*nums, 0]) or 1
    if unit == "%":
        top = max(top, 100)
    span = WIDTH - LEFT - RIGHT
    for i, (lab, v) in enumerate(zip(labels, values, strict=False)):
        y = TOP + i * ROW
        d.text((20, y + 4), str(lab)[:12], fill="#333333", font=font)
        if isinstance(v, int | float):
            w = max(1, int(span * max(v, 0) / top))
            d.rectangle([LEFT, y + 5, LEFT + w, y + ROW - 5], fill="#c0392b" if i < 3 else "#2c7be5")
            txt = f"{v:g}{unit}"
        else:
            txt = "—"
            w = 0
        d.text((LEFT + w + 8, y + 7), txt, fill="#333333", font=small)
    d.line([LEFT, TOP, LEFT, height - 25], fill="#999999", width=1)
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=False)
    return buf.getvalue()


def section_chart(sec: dict, *, font_path: str = FONT_PATH) -> bytes:
    """The chart of one snapshot section: its ranked column, best first."""
    key = sec["rank_by"] or (sec["columns"][0]["key"] if sec["columns"] else "")
    rows = sec["rows"][:MAX_BARS]
    return bar_chart(f"{sec['label']} · {sec['rank_label']}" if sec["rank_label"] else sec["label"],
                     [r["unit_name"] for r in rows], [r["values"].get(key) for r in rows],
                     sec.get("rank_unit", ""), font_path=font_path)
