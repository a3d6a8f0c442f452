"""A lean, streaming reader for the first sheet of an XLSX workbook.

openpyxl's read-only reader costs ≈160 µs a row for a 9-column sheet, which made XLSX imports
2–3× slower than the same rows as CSV (docs/performance.md). This reader returns the same
values openpyxl does with ``read_only=True, data_only=False`` (text, int, float, bool,
datetime for date-formatted numbers, ``"=…"`` for formula cells), but parses the sheet XML with
the C-accelerated ``xml.etree`` pull parser and touches each cell once.

It reads only what an import needs: the first worksheet, shared strings, inline strings, and
which cell styles are dates. Anything it cannot make sense of raises ``XlsxError``.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from xml.etree.ElementTree import ParseError, iterparse
from xml.parsers import expat

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"

# Built-in number formats that are dates or times (ECMA-376 §18.8.30, as openpyxl reads them).
_BUILTIN_DATE_FORMATS = {14, 15, 16, 17, 18, 19, 20, 21, 22, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36,
                         45, 46, 47, 50, 51, 52, 53, 54, 55, 56, 57, 58}
# A custom format is a date when, outside quotes, brackets and escapes, it has a date/time letter.
_STRIP_FORMAT = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.')
_DATE_LETTERS = re.compile(r"[dmyhs]", re.IGNORECASE)
_EPOCH = datetime(1899, 12, 30)  # Excel's 1900 system, with its phantom 29 Feb 1900 folded in
_COL = re.compile(r"([A-Z]+)")


class XlsxError(ValueError):
    """The workbook is not a readable XLSX (or not one this reader understands)."""


_COLUMNS: dict[str, int] = {}


def _column_index(ref: str) -> int:
    letters = ref.rstrip("0123456789")
    i = _COLUMNS.get(letters)
    if i is None:
        n = 0
        for ch in _COL.match(letters).group(1):
            n = n * 26 + ord(ch) - 64
        i = _COLUMNS[letters] = n - 1
    return i


def _is_date_format(code: str) -> bool:
    stripped = _STRIP_FORMAT.sub("", code)
    return bool(_DATE_LETTERS.search(stripped)) and "General" not in stripped


def _from_excel(serial: float):
    """A date serial as openpyxl converts it (a time of day for serials below 1)."""
    day, fraction = divmod(serial, 1)
    diff = timedelta(milliseconds=round(fraction * 86_400_000))
    if 0 <= serial < 1 and diff.days == 0:
        return (datetime.min + diff).time()
    if 0 < serial < 60:  # before Excel's phantom 1900-02-29
        day += 1
    return _EPOCH + timedelta(days=day) + diff


def _rels(zf: zipfile.ZipFile, part: str) -> dict[str, str]:
    folder, name = posixpath.split(part)
    rels_path = posixpath.join(folder, "_rels", name + ".rels")
    if rels_path not in zf.NameToInfo:
        return {}
    out = {}
    for _, el in iterparse(zf.open(rels_path)):
        if el.tag == PKG_REL + "Relationship":
            target = el.get("Target", "")
            out[el.get("Id")] = target.lstrip("/") if target.startswith("/") else \
                posixpath.normpath(posixpath.join(folder, target))
    return out


def _first_sheet_part(zf: zipfile.ZipFile) -> tuple[str, str | None, str | None]:
    """(first worksheet, shared strings, styles) part names inside the package."""
    workbook = "xl/workbook.xml"
    for _, el in iterparse(zf.open("_rels/.rels")):
        if el.tag == PKG_REL + "Relationship" and el.get("Type", "").endswith("/officeDocument"):
            workbook = el.get("Target", workbook).lstrip("/")
    rels = _rels(zf, workbook)
    first = None
    for _, el in iterparse(zf.open(workbook)):
        if el.tag == MAIN + "sheet" and first is None:
            first = rels.get(el.get(REL + "id"))
    if first is None:
        raise XlsxError("no sheet")
    shared = styles = None
    for target in rels.values():
        if target.endswith("sharedStrings.xml"):
            shared = target
        elif target.endswith("styles.xml"):
            styles = target
    return first, shared, styles


def _shared_strings(zf: zipfile.ZipFile, part: str | None) -> list[str]:
    if not part or part not in zf.NameToInfo:
        return []
    out: list[str] = []
    t_tag, si_tag, rph_tag = MAIN + "t", MAIN + "si", MAIN + "rPh"
    for _, el in iterparse(zf.open(part)):
        if el.tag == si_tag:
            # Rich text is several runs; phonetic hints (rPh) are not part of the value.
            out.append("".join(t.text or "" for t in el.iter(t_tag) if t not in _phonetic_ts(el, rph_tag)))
            el.clear()
    return out


def _phonetic_ts(si, rph_tag) -> set:
    return {t for rph in si.iter(rph_tag) for t in rph}


def _date_styles(zf: zipfile.ZipFile, part: str | None) -> set[int]:
    """Indexes into cellXfs whose number format is a date or time."""
    if not part or part not in zf.NameToInfo:
        return set()
    custom: dict[int, str] = {}
    dates: set[int] = set()
    in_cell_xfs, index = False, 0
    for event, el in iterparse(zf.open(part), events=("start", "end")):
        tag = el.tag
        if event == "start":
            if tag == MAIN + "cellXfs":
                in_cell_xfs = True
            continue
        if tag == MAIN + "numFmt":
            custom[int(el.get("numFmtId", "0"))] = el.get("formatCode", "")
        elif tag == MAIN + "cellXfs":
            in_cell_xfs = False
        elif tag == MAIN + "xf" and in_cell_xfs:
            fmt = int(el.get("numFmtId", "0"))
            if fmt in _BUILTIN_DATE_FORMATS or (fmt in custom and _is_date_format(custom[fmt])):
                dates.add(index)
            index += 1
    return dates


def _number(text: str):
    if "." in text or "E" in text or "e" in text:
        return float(text)
    return int(text)


class _SheetParser:
    """expat callbacks for one worksheet: ≈3× faster than building ElementTree elements."""

    def __init__(self, shared: list[str], date_styles: set[int]):
        self.shared, self.date_styles = shared, date_styles
        self.done: list[tuple[int, list, set[int]]] = []
        self.number = 0
        self.values: list = []
        self.formulas: set[int] = set()
        self.buf: list[str] | None = None
        self.phonetic = False
        self.cell = ("n", 0, 0)  # type, style, column
        self.v = self.f = self.inline = None
        self.prefix = 0  # length of the element prefix ("x:"), read from the root element
        p = expat.ParserCreate()
        p.buffer_text = True
        p.StartElementHandler, p.EndElementHandler = self.start, self.end
        p.CharacterDataHandler = self.data
        self.parser = p

    def start(self, name, attrs):
        tag = name[self.prefix:] if self.prefix else name
        if tag == "c":
            ref = attrs.get("r")
            i = _column_index(ref) if ref else len(self.values)
            self.cell = (attrs.get("t", "n"), int(attrs.get("s", 0)), i)
            self.v = self.f = self.inline = None
        elif tag == "v" or tag == "f" or (tag == "t" and not self.phonetic):
            self.buf = []
        elif tag == "is":
            self.inline = ""
        elif tag == "rPh":
            self.phonetic = True
        elif tag.endswith("worksheet"):
            self.prefix = name.index(":") + 1 if ":" in name else 0
        elif tag == "row":
            r = attrs.get("r")
            self.number = int(r) if r else self.number + 1
            self.values, self.formulas = [], set()

    def data(self, text):
        if self.buf is not None:
            self.buf.append(text)

    def end(self, name):
        tag = name[self.prefix:] if self.prefix else name
        if tag == "v":
            self.v, self.buf = "".join(self.buf), None
        elif tag == "f":
            self.f, self.buf = "".join(self.buf), None
        elif tag == "t" and self.buf is not None:
            if self.inline is not None:
                self.inline += "".join(self.buf)
            self.buf = None
        elif tag == "rPh":
            self.phonetic = False
        elif tag == "c":
            t, style, i = self.cell
            values = self.values
            if i > len(values):
                values.extend([None] * (i - len(values)))
            values.append(self._value(t, style, i))
        elif tag == "row":
            self.done.append((self.number, self.values, self.formulas))

    def _value(self, t, style, i):
        if self.f is not None:
            self.formulas.add(i)
            return "=" + self.f
        text = self.v
        if t == "s":
            return self.shared[int(text)] if text is not None else None
        if t == "inlineStr":
            return self.inline
        if text is None:
            return None
        if t == "n":
            value = _number(text)
            return _from_excel(float(value)) if style in self.date_styles else value
        if t == "b":
            return text == "1"
        if t == "d":
            return datetime.fromisoformat(text.rstrip("Z"))
        return text  # "str" (a formula's cached text), "e" (an error such as #N/A)


def iter_rows(path) -> Iterator[tuple[int, list, set[int]]]:
    """(row number, values, indexes of formula cells) for each row of the first sheet."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise XlsxError(type(exc).__name__) from exc
    with zf:
        try:
            sheet, shared_part, styles_part = _first_sheet_part(zf)
            shared = _shared_strings(zf, shared_part)
            date_styles = _date_styles(zf, styles_part)
            stream = zf.open(sheet)
        except (KeyError, ParseError, ValueError, zipfile.BadZipFile) as exc:
            raise XlsxError(type(exc).__name__) from exc
        sp = _SheetParser(shared, date_styles)
        try:
            for chunk in iter(lambda: stream.read(1 << 16), b""):
                sp.parser.Parse(chunk, False)
                yield from sp.done
                sp.done.clear()
            sp.parser.Parse(b"", True)
            yield from sp.done
        except (expat.ExpatError, ValueError, IndexError, KeyError, zipfile.BadZipFile, EOFError) as exc:
            raise XlsxError(type(exc).__name__) from exc
