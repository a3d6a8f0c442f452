"""The figures of a bulletin: each registered section's rows for the unit's children, ranked,
with 红榜 (ahead) and 黑榜 (behind) and the change since the previous bulletin. Reads only from
``core.registry``; knows no app's tables. The result is plain JSON (the bulletin's snapshot)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.utils.translation import gettext as _

from bihuan.core import registry

MAX_ROWS = 500  # children of one unit stored in a snapshot (a township has at most ~60 villages)
HONOUR = 3  # at most this many units on each of 红榜 and 黑榜


def _plain(v):
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, float):
        return round(v, 2)
    if isinstance(v, int | str) or v is None:
        return v
    return str(v)


def registered(names) -> list:
    """The sections of ``names`` that are registered, in order."""
    return [registry.SECTIONS[n] for n in names if n in registry.SECTIONS]


def section_rows(section, unit, *, start: datetime, end: datetime, now: datetime) -> dict:
    """One section for ``unit``'s children: rows ranked by ``rank_by`` (best first; units without
    a value last, unranked), the ahead and behind lists. Plain JSON."""
    cols = [c for c in section.columns]
    raw = section.figures(unit, start=start, end=end, now=now)[:MAX_ROWS]
    rows = [{"unit_id": r["unit_id"], "unit_name": str(r["unit_name"]),
             "values": {c.key: _plain(r.get(c.key)) for c in cols}} for r in raw]
    rank_col = next((c for c in cols if c.key == section.rank_by), None)
    ahead, behind = [], []
    if rank_col is not None:
        better = rank_col.higher_is_better is not False
        valued = [r for r in rows if r["values"].get(rank_col.key) is not None]
        valued.sort(key=lambda r: (-r["values"][rank_col.key] if better else r["values"][rank_col.key],
                                   r["unit_name"]))
        rank = 0
        last = object()
        for i, r in enumerate(valued, 1):
            v = r["values"][rank_col.key]
            if v != last:
                rank, last = i, v
            r["rank"] = rank
        rows = valued + [r for r in rows if r["values"].get(rank_col.key) is None]
        n = min(HONOUR, len(valued) // 2)
        if n:
            best = valued[0]["values"][rank_col.key]
            ahead = [{"id": r["unit_id"], "name": r["unit_name"]} for r in valued[:n]]
            # Behind: the last n, worst first, never a unit as good as the best (all equal: nobody).
            behind = [{"id": r["unit_id"], "name": r["unit_name"]} for r in valued[-n:][::-1]
                      if r["values"][rank_col.key] != best]
    return {
        "name": section.name, "label": str(section.label), "rank_by": section.rank_by,
        "rank_label": str(rank_col.label) if rank_col else "",
        "rank_unit": rank_col.unit if rank_col else "",
        "columns": [{"key": c.key, "label": str(c.label), "unit": c.unit,
                     "higher_is_better": c.higher_is_better} for c in cols],
        "rows": rows, "ahead": ahead, "behind": behind, "truncated": len(raw) >= MAX_ROWS,
    }


def with_change(sec: dict, previous: dict | None) -> dict:
    """Add ``change`` (this value − the previous bulletin's, on the ranked column) to each row."""
    if not previous or not sec["rank_by"]:
        sec["previous"] = None
        return sec
    before = {r["unit_id"]: r["values"].get(sec["rank_by"]) for r in previous.get("rows", [])}
    for r in sec["rows"]:
        now_v, then_v = r["values"].get(sec["rank_by"]), before.get(r["unit_id"])
        r["change"] = round(now_v - then_v, 2) if isinstance(now_v, int | float) and isinstance(then_v, int | float) \
            else None
    sec["previous"] = True
    return sec


def snapshot(template, unit, *, key: str, start: datetime, end: datetime, label: str, now: datetime,
             previous: dict | None = None) -> dict:
    """The whole snapshot of a bulletin (JSON): header facts and every registered section."""
    prev_sections = {s["name"]: s for s in (previous or {}).get("sections", [])}
    sections = [with_change(section_rows(s, unit, start=start, end=end, now=now), prev_sections.get(s.name))
                for s in registered(template.sections)]
    return {
        "template": template.code, "template_label": str(template.label),
        "unit": {"id": unit.pk, "name": unit.name, "code": unit.code},
        "period": {"key": key, "label": label, "start": start.isoformat(), "end": end.isoformat()},
        "drafted_at": now.isoformat(), "previous_period": (previous or {}).get("period", {}).get("label"),
        "sections": sections,
        "note": _("Figures as drafted; an issued bulletin is never recomputed."),
    }


def headline(sections) -> list[dict]:
    """Whole-unit headline figures for the dashboard: each section's ranked column, the mean of
    the children with a value (rates) or the sum (counts)."""
    out = []
    for s in sections:
        key = s["rank_by"]
        if not key:
            continue
        vals = [r["values"][key] for r in s["rows"] if isinstance(r["values"].get(key), int | float)]
        if not vals:
            value = None
        elif s["rank_unit"] == "%":
            value = round(sum(vals) / len(vals), 1)
        else:
            value = round(sum(vals), 1)
        out.append({"section": s["name"], "label": s["rank_label"], "unit": s["rank_unit"], "value": value})
    return out
