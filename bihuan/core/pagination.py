"""Keyset (cursor) pagination: cost does not grow with the page number."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from django.db.models import Q

from .errors import ServiceError


@dataclass
class Page:
    items: list
    next_cursor: str | None


def _encode(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def _decode(cursor: str) -> list:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except Exception:  # noqa: BLE001 - any garbage is one error
        raise ServiceError("Invalid cursor.", {"cursor": "Invalid cursor."}, code="invalid_cursor")


def _after(fields: list[str], values: list) -> Q:
    """Rows strictly after ``values`` in ascending (or '-' descending) order of ``fields``."""
    q = Q()
    for i, f in enumerate(fields):
        name = f.lstrip("-")
        op = "lt" if f.startswith("-") else "gt"
        clause = Q(**{f"{name}__{op}": values[i]})
        for j in range(i):
            clause &= Q(**{fields[j].lstrip("-"): values[j]})
        q |= clause
    if len(fields) > 1:
        # Redundant, but it lets the planner seek on the leading column instead of filtering
        # the OR row by row (PostgreSQL does not derive it from the OR by itself).
        first = fields[0].lstrip("-")
        q &= Q(**{f"{first}__{'lte' if fields[0].startswith('-') else 'gte'}": values[0]})
    return q


def cursor_page(qs, *, order: list[str], cursor: str | None, limit: int, max_limit: int = 200) -> Page:
    """One page of ``qs`` ordered by ``order`` (which must end in a unique field)."""
    limit = max(1, min(int(limit or 50), max_limit))
    qs = qs.order_by(*order)
    if cursor:
        values = _decode(cursor)
        if not isinstance(values, list) or len(values) != len(order):
            raise ServiceError("Invalid cursor.", {"cursor": "Invalid cursor."}, code="invalid_cursor")
        qs = qs.filter(_after(order, values))
    rows = list(qs[: limit + 1])
    nxt = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        nxt = _encode([_attr(last, f.lstrip("-")) for f in order])
    return Page(rows, nxt)


def _attr(obj, dotted: str):
    for part in dotted.split("__"):
        obj = getattr(obj, part)
    return obj
