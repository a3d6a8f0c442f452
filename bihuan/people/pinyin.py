"""Pinyin initials of Chinese names, for search: ``张晓明`` → ``zxm``."""

from __future__ import annotations

import os
from functools import lru_cache

# Initials are read one character at a time, so pypinyin's phrase dictionary is never consulted;
# loading it cost every web worker 44 MB. Every CJK character gives the same initial without it
# (tests/test_people.py). pypinyin itself (12 MB) is imported on first use: most workers never
# write a name.
os.environ.setdefault("PYPINYIN_NO_PHRASES", "1")

# Surnames whose reading differs from the character's common one (单 shàn, not dān).
_SURNAME_INITIAL = {"单": "s", "曾": "z", "解": "x", "仇": "q", "朴": "p", "查": "z", "区": "o", "翟": "z",
                    "盖": "g", "尉": "y", "覃": "q", "缪": "m", "召": "s", "种": "c", "乐": "y", "员": "y",
                    "长": "z", "重": "c", "柏": "b", "秘": "b", "宁": "n", "任": "r", "沈": "s"}


@lru_cache(maxsize=20000)
def _initial(ch: str) -> str:
    if ch.isascii():
        return ch.lower() if ch.isalnum() else ""
    from pypinyin import Style, lazy_pinyin

    letters = lazy_pinyin(ch, style=Style.FIRST_LETTER, errors="ignore")
    return letters[0][:1].lower() if letters and letters[0] else ""


def initials(name: str) -> str:
    """Lower-case initials, one per character; the first character read as a surname."""
    name = (name or "").strip()
    if not name:
        return ""
    first = _SURNAME_INITIAL.get(name[0]) or _initial(name[0])
    return (first + "".join(_initial(c) for c in name[1:]))[:20]
