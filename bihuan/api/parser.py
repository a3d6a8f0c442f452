"""The API's JSON body parser: what no column can hold is refused before any schema sees it.

* NUL and lone surrogates in any string or key (``core.text.unstorable``): PostgreSQL refuses the
  first, no encoder can write the second;
* integers beyond 64 bits, anywhere in the body (no column holds them);
* ``NaN``/``Infinity``, which are not JSON (Python's parser accepts them by default).

A refused body is a 400 problem whose ``detail`` says why (``api/urls.py``).
"""

from __future__ import annotations

import json

from django.utils.translation import gettext as _
from ninja.parser import Parser

from bihuan.core.schema import MAX_BIGINT
from bihuan.core.text import unstorable


class BodyRefused(ValueError):
    """Raised by the parser; ninja wraps it in a 400 ``HttpError`` whose cause it stays."""


def _int(text: str) -> int:
    # Cheap length check first: a 10 000-digit literal is refused before int() works on it.
    if len(text.lstrip("-")) > 19 or not -MAX_BIGINT - 1 <= (value := int(text)) <= MAX_BIGINT:
        raise BodyRefused(_("A number in the request is beyond the 64-bit range."))
    return value


def _constant(name: str):
    raise BodyRefused(_("%(c)s is not a JSON number.") % {"c": name})


def _check(value) -> None:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if unstorable(v):
                raise BodyRefused(_("The request contains a character that cannot be stored "
                                    "(NUL or a lone surrogate)."))
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


class StrictJSONParser(Parser):
    def parse_body(self, request):
        data = json.loads(request.body, parse_int=_int, parse_constant=_constant)
        _check(data)
        return data
