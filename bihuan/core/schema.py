"""The API's input types: every id, limit, cursor, text, coordinate and time a client sends.

One place for the bounds the database would otherwise enforce with a 500: an integer beyond 64
bits, a string longer than its column, a coordinate of 1e308, a time the database cannot convert.
API schemas and operation signatures use these annotated types instead of bare ``int``/``str``/
``float``/``datetime``, so a hostile value is a 422 problem at the edge and the service layer never
sees it. (NUL and lone surrogates are refused earlier still, for every field: ``core.text.unstorable``
in the JSON parser and ``InputGuardMiddleware``.)

Control characters: an app's API body derives from ``CleanIn`` and a search word in a query string
goes through ``query_word``, so one rule (``core.text``'s, tab/CR/LF allowed) refuses them with a 422.
The loop's and people's bodies instead clean text in their services (Open311 clients send it).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated

from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, field_validator

from bihuan.core.errors import ServiceError
from bihuan.core.text import has_control

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
MAX_BIGINT = 2**63 - 1  # PostgreSQL bigint / SQLite INTEGER
MAX_INT = 2**31 - 1  # PostgreSQL integer (version columns, counts)

Id = Annotated[int, Field(ge=1, le=MAX_BIGINT, description="an object's id (1 … 2^63−1)")]
Version = Annotated[int, Field(ge=0, le=MAX_INT, description="the version read (stale → 409)")]
SmallInt = Annotated[int, Field(ge=-MAX_INT, le=MAX_INT)]
# Pages are at most 200 items (core.pagination clamps); a limit below 1 is a mistake, not "one item".
Limit = Annotated[int, Field(ge=1, le=10_000, description="items per page (1–200; more is read as 200)")]
Cursor = Annotated[str, StringConstraints(max_length=512), Field(description="next_cursor of the previous page")]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]


def _iso_only(value):
    # pydantic also reads "0.5" or 1700000000 as seconds since 1970; the document promises ISO 8601.
    if not isinstance(value, datetime) and not (isinstance(value, str) and _ISO_DATE.match(value)):
        raise ValueError("an ISO 8601 date-time is required, e.g. 2026-11-02T09:00:00+08:00")
    return value


def _sane_year(value: datetime) -> datetime:
    # Years near 1 or 9999 overflow when converted to UTC or compared in SQL.
    if not 1900 <= value.year <= 2999:
        raise ValueError("the year must be between 1900 and 2999")
    # In UTC from here on: PostgreSQL refuses offsets beyond ±15:59 that ISO 8601 allows (+21:00).
    return value.astimezone(UTC) if value.tzinfo is not None else value


When = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(_sane_year)]

_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_day_only(value):
    # As for When: pydantic reads 0 or "0" as 1970-01-01; the document promises YYYY-MM-DD.
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DAY.match(value)):
        return value
    raise ValueError("a date as YYYY-MM-DD is required, e.g. 2026-11-02")


def _sane_day(value: date) -> date:
    if not 1900 <= value.year <= 2999:
        raise ValueError("the year must be between 1900 and 2999")
    return value


Day = Annotated[date, BeforeValidator(_iso_day_only), AfterValidator(_sane_day)]


def Text(max_length: int, *, min_length: int = 0):  # noqa: N802 - a type factory reads like a type
    """A string of at most ``max_length`` characters (the column's length)."""
    return Annotated[str, StringConstraints(max_length=max_length, min_length=min_length)]


def Column(model, field: str):  # noqa: N802
    """A string no longer than ``model.field``'s column: the model stays the one place for the length."""
    return Text(model._meta.get_field(field).max_length)


ShortText = Text(200)  # filters, codes, names, search words
LongText = Text(20_000)  # comments and descriptions (services check their own, tighter limits)


# --- control characters: one rule for every API body and search word -----------------------------

def no_control(value):
    """Refuse a string (or a list's strings) holding a control character other than tab, CR and LF
    (``core.text``'s rule; CR LF from Windows clients is fine, the services store LF)."""
    items = value if isinstance(value, list) else [value]
    if any(isinstance(v, str) and has_control(v.replace("\r", "")) for v in items):
        raise ValueError("control characters are not allowed")
    return value


class CleanIn(Schema):
    """Base of every API input body: each field, before its type is checked, passes ``no_control``."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_control(cls, v):
        return no_control(v)


def query_word(value: str | None, name: str = "q") -> str | None:
    """A search word from the query string: a control character is a 422 naming the parameter."""
    try:
        return no_control(value)
    except ValueError:
        raise ServiceError("Control characters are not allowed.", {name: "Control characters are not allowed."}) from None
