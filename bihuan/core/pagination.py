"""Keyset (cursor) pagination: cost does not grow with the page number.

A cursor comes back from the client, so it is input like any other: each value is converted by
its model field and bounded before it reaches a query; anything else is one ``invalid_cursor``
error (400), never a database error.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext as _

from .errors import ServiceError
from .text import unstorable

_MAX_INT = 2**63 - 1


def _invalid() -> ServiceError:
    return ServiceError(_("Invalid cursor."), {"cursor": _("Invalid cursor.")}, code="invalid_cursor")


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
        raise _invalid() from None


def _field(model, dotted: str):
    field = None
    for part in dotted.split("__"):
        field = model._meta.get_field(part)
        model = field.related_model or model
    return field


def _typed(model, order: list[str], values: list) -> list:
    """``values`` converted by the fields they page on; a value of the wrong type or range is refused."""
    out = []
    for name, value in zip(order, values, strict=True):
        if value is None or isinstance(value, dict | list | bool):
            raise _invalid()
        try:
            field = _field(model, name.lstrip("-"))
            if isinstance(field, models.ForeignKey):
                field = field.target_field
            value = field.to_python(value)
        except (FieldDoesNotExist, ValidationError, ValueError, TypeError, OverflowError):
            raise _invalid() from None
        if isinstance(value, int) and not -_MAX_INT - 1 <= value <= _MAX_INT:
            raise _invalid()
        if isinstance(value, str) and (len(value) > 1000 or unstorable(value)):
            raise _invalid()
        if hasattr(value, "year") and not 1 < value.year < 9999:
            raise _invalid()
        out.append(value)
    return out


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
            raise _invalid()
        qs = qs.filter(_after(order, _typed(qs.model, order, values)))
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
