"""``<id:name>`` in URL patterns: an object id that fits a 64-bit column.

Django's ``<id:…>`` matches any number of digits, and a 30-digit id then reached the database
(OverflowError on SQLite, NumericValueOutOfRange on PostgreSQL: a 500). ``<id:…>`` matches 1 to
18 digits (every positive bigint we issue), so a longer one simply matches no URL: a 404, like
any id that does not exist. Use it for every id in a URL.
"""

from __future__ import annotations

from django.urls import register_converter


class IdConverter:
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))


def register() -> None:
    register_converter(IdConverter, "id")
