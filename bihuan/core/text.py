"""One rule for free text that people type or clients send: no control characters.

A control character in a resident's description once made ``requests.xml`` unparseable for
everyone for 90 days (XML 1.0 cannot carry U+0000–U+0008, U+000B, U+000C, U+000E–U+001F),
and PostgreSQL refuses NUL outright. So text is cleaned where it comes in, with ``clean``:

* tab and newline are kept; CR LF and a lone CR become LF;
* every other C0 control, DEL, the C1 controls (U+0080–U+009F), lone surrogates and the
  noncharacters U+FFFE/U+FFFF are removed.

Output that must parse whatever is stored (XML) also passes through ``xml_safe``, which removes
what XML 1.0 cannot carry. Call these two; do not write another character filter.

At the edge (``core.middleware.InputGuardMiddleware`` for query strings, the API's
JSON parser for JSON bodies) ``unstorable`` refuses what no database column can hold — NUL, which
PostgreSQL refuses, and lone surrogates, which cannot be encoded — with a 400, before any query.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# XML 1.0 §2.2 Char: tab, LF, CR, U+0020–U+D7FF, U+E000–U+FFFD, U+10000–U+10FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(text: str | None) -> str:
    """``text`` without control characters (tab and newline kept; CR LF → LF). None → ""."""
    if not text:
        return ""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.isprintable():  # the common case, at C speed
        return text
    return _CONTROL.sub("", text)


def has_control(text: str | None) -> bool:
    """Whether ``clean`` would change ``text`` (for a form that refuses rather than strips)."""
    return bool(text) and clean(text) != text


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str | None) -> bool:
    """Whether ``text`` holds a character no database can store (NUL, a lone surrogate)."""
    return bool(text) and not text.isprintable() and bool(_UNSTORABLE.search(text))


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 cannot carry removed (for output)."""
    return _NOT_XML.sub("", text)
