"""A lean, streaming reader for the first sheet of an XLSX workbook, safe on hostile files.

openpyxl's read-only reader costs ≈160 µs a row for a 9-column sheet, which made XLSX imports
2–3× slower than the same rows as CSV (docs/performance.md). This reader returns the same
values openpyxl does with ``read_only=True, data_only=False`` (text, int, float, bool,
datetime for date-formatted numbers, ``"=…"`` for formula cells), but parses the sheet XML with
the C-accelerated ``expat`` parser and touches each cell once.

It reads only what an import needs: the first worksheet, shared strings, inline strings, and
which cell styles are dates. Anything it cannot make sense of raises ``XlsxError``.

A workbook is a zip of XML, and both expand without bound: a 2 MB file can hold a 2 GB string,
millions of shared strings or blank rows, or a cell reference that asks for 16,384 columns.
So every read is bounded by ``Limits`` (docs/import-export.md, "Hostile files"):

* before any XML is read, the archive's directory is checked: number of entries, total
  unpacked size, compression ratio of each large entry, and no odd entries (encrypted, an
  unknown compression method, absolute or ``..`` paths, duplicates, nested archives) —
  the declared sizes can be trusted as upper bounds, because ``zipfile`` stops at them;
* while reading: rows (blank ones included), blank rows, columns, cells, characters per cell
  and per row, number and bytes of shared strings, XML nesting depth, and elapsed time;
  a DTD (entity declarations: billion laughs) is refused outright — XLSX never needs one.

Breaking a limit raises ``LimitExceeded`` (an ``XlsxError``) naming the limit, which
``core.tabular`` turns into a message in the user's language. Shared strings are kept as one
UTF-8 buffer plus offsets, so a million of them cost ≈ their bytes, not ≈ 80 bytes each.
"""

from __future__ import annotations

import posixpath
import re
import time
import zipfile
import zlib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from xml.parsers import expat

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
# With namespace processing, expat names an element "<namespace URI> <local name>".
MAIN, REL, PKG_REL = MAIN_NS + " ", REL_NS + " ", PKG_REL_NS + " "

# Built-in number formats that are dates or times (ECMA-376 §18.8.30, as openpyxl reads them).
_BUILTIN_DATE_FORMATS = {14, 15, 16, 17, 18, 19, 20, 21, 22, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36,
                         45, 46, 47, 50, 51, 52, 53, 54, 55, 56, 57, 58}
# A custom format is a date when, outside quotes, brackets and escapes, it has a date/time letter.
_STRIP_FORMAT = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.')
_DATE_LETTERS = re.compile(r"[dmyhs]", re.IGNORECASE)
_EPOCH = datetime(1899, 12, 30)  # Excel's 1900 system, with its phantom 29 Feb 1900 folded in
_REF = re.compile(r"([A-Z]{1,3})[0-9]*")  # a cell reference's column letters (XFD is the last column)
CHUNK = 1 << 16
# Entries that are archives themselves: never read, so refused rather than left as a hiding place.
_NESTED = (".zip", ".xlsx", ".xlsm", ".xlsb", ".xls", ".docx", ".pptx", ".jar", ".gz", ".tgz", ".bz2", ".xz",
           ".7z", ".rar", ".bin")


@dataclass(frozen=True)
class Limits:
    """What a workbook (or a CSV, through ``core.tabular``) may cost. ``None`` = no limit.

    The defaults let through any register a person would keep in a spreadsheet (500,000 rows
    of 30 columns), and stop a hostile file within seconds and a few hundred MB.
    """

    max_entries: int = 1_000            # zip entries (a workbook has ≈ 10–30)
    max_unpacked_bytes: int = 1 << 30   # sum of the entries' declared sizes
    max_ratio: int = 200                # unpacked : packed, for entries over ``ratio_floor``
    ratio_floor: int = 1 << 20
    max_part_bytes: int = 32 << 20      # each part other than the sheet and shared strings
    max_rows: int = 1_048_576           # row records, blank ones included (Excel's own limit)
    max_blank_rows: int = 100_000
    max_columns: int = 1_000            # the highest column a cell may be in (Excel allows 16,384)
    max_cells: int = 30_000_000
    max_cell_chars: int = 32_767        # Excel's own limit for one cell
    max_row_chars: int = 262_144
    max_shared_strings: int = 1_000_000  # ≈ 2–6 µs each to parse: this bounds the time too
    max_shared_bytes: int = 128 << 20   # UTF-8 bytes of all shared strings together
    max_depth: int = 64                 # XML nesting (a sheet needs 6)
    max_seconds: float | None = 600.0   # reading the whole file

    def deadline(self) -> float | None:
        return None if self.max_seconds is None else time.monotonic() + self.max_seconds


DEFAULT_LIMITS = Limits()


class XlsxError(ValueError):
    """The workbook is not a readable XLSX (or not one this reader understands)."""


class LimitExceeded(XlsxError):
    """The workbook breaks ``Limits.<limit>`` (``value`` is the limit, ``detail`` what broke it)."""

    def __init__(self, limit: str, value, detail: str = ""):
        super().__init__(f"{limit} > {value}" + (f" ({detail})" if detail else ""))
        self.limit, self.value, self.detail = limit, value, detail


class BadXml(XlsxError):
    """A part is not well-formed XML, or not valid text in its declared encoding."""

    def __init__(self, part: str, reason: str, line: int | None = None):
        super().__init__(f"{part}: {reason}" + (f" (line {line})" if line else ""))
        self.part, self.reason, self.line = part, reason, line


class _Clock:
    def __init__(self, limits: Limits):
        self.limits = limits
        self.deadline = limits.deadline()

    def check(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise LimitExceeded("max_seconds", self.limits.max_seconds)


# --- the archive -------------------------------------------------------------------------------

def check_archive(path, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse a zip by its directory alone, before any entry is decompressed.

    The end-of-directory record is read first, so a directory of millions of entries is
    refused before ``zipfile`` would build an object for each of them.
    """
    with open(path, "rb") as fh:
        try:
            end = zipfile._EndRecData(fh)  # noqa: SLF001 - the stdlib's own EOCD reader
        except (OSError, ValueError) as exc:
            raise XlsxError(type(exc).__name__) from exc
    if end is None:
        raise XlsxError("BadZipFile")
    entries, directory_bytes = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]  # noqa: SLF001
    if entries > limits.max_entries or directory_bytes > limits.max_entries * 1024:
        raise LimitExceeded("max_entries", limits.max_entries, str(entries))
    try:
        with zipfile.ZipFile(path) as zf:
            check_entries(zf.infolist(), limits)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        if isinstance(exc, XlsxError):
            raise
        raise XlsxError(type(exc).__name__) from exc


def check_entries(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    if len(infos) > limits.max_entries:
        raise LimitExceeded("max_entries", limits.max_entries, str(len(infos)))
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        parts = name.split("/")
        odd = (name in seen or name.startswith("/") or "\\" in name or "\x00" in name or ".." in parts
               or (info.flag_bits & 0x1)  # encrypted
               or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
               or name.lower().endswith(_NESTED))
        if odd:
            raise LimitExceeded("odd_entry", 0, name[:80])
        seen.add(name)
        total += info.file_size
        if limits.max_unpacked_bytes is not None and total > limits.max_unpacked_bytes:
            raise LimitExceeded("max_unpacked_bytes", limits.max_unpacked_bytes)
        if (limits.max_ratio is not None and info.file_size > limits.ratio_floor
                and info.file_size > limits.max_ratio * max(info.compress_size, 1)):
            raise LimitExceeded("max_ratio", limits.max_ratio, name[:80])


# --- small parts (relationships, workbook, styles) ------------------------------------------------

def _refuse_dtd(*_args):
    raise LimitExceeded("dtd", 0)


def _parser(namespaces: bool = True):
    p = expat.ParserCreate(namespace_separator=" ") if namespaces else expat.ParserCreate()
    p.buffer_text = True
    # Billion laughs and external entities live in a DTD; a spreadsheet never has one.
    p.StartDoctypeDeclHandler = _refuse_dtd
    p.EntityDeclHandler = _refuse_dtd
    return p


def _chunks(zf: zipfile.ZipFile, part: str, p, clock: _Clock, max_bytes: int | None = None) -> Iterator[None]:
    """Feed ``part`` to the expat parser ``p`` a chunk at a time (yielding after each)."""
    info = zf.getinfo(part)
    if max_bytes is not None and info.file_size > max_bytes:
        raise LimitExceeded("max_part_bytes", max_bytes, part)
    with zf.open(info) as fh:
        try:
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                p.Parse(chunk, False)
                clock.check()
                yield
            p.Parse(b"", True)
        except expat.ExpatError as exc:
            raise BadXml(part, expat.ErrorString(exc.code), exc.lineno) from exc
    yield


def _walk(zf: zipfile.ZipFile, part: str, clock: _Clock, start, end=None) -> None:
    """Parse a small part with ``start(name, attrs)`` / ``end(name)`` callbacks, depth-bounded."""
    limits = clock.limits
    depth = 0

    def on_start(name, attrs):
        nonlocal depth
        depth += 1
        if depth > limits.max_depth:
            raise LimitExceeded("max_depth", limits.max_depth, part)
        start(name, attrs)

    def on_end(name):
        nonlocal depth
        depth -= 1
        if end is not None:
            end(name)

    p = _parser()
    p.StartElementHandler, p.EndElementHandler = on_start, on_end
    for _ in _chunks(zf, part, p, clock, limits.max_part_bytes):
        pass


def _rels(zf: zipfile.ZipFile, part: str, clock: _Clock) -> dict[str, str]:
    folder, name = posixpath.split(part)
    rels_path = posixpath.join(folder, "_rels", name + ".rels")
    if rels_path not in zf.NameToInfo:
        return {}
    out = {}

    def start(tag, attrs):
        if tag == PKG_REL + "Relationship":
            target = attrs.get("Target", "")
            out[attrs.get("Id")] = target.lstrip("/") if target.startswith("/") else \
                posixpath.normpath(posixpath.join(folder, target))

    _walk(zf, rels_path, clock, start)
    return out


def _first_sheet_part(zf: zipfile.ZipFile, clock: _Clock) -> tuple[str, str | None, str | None]:
    """(first worksheet, shared strings, styles) part names inside the package."""
    workbook = ["xl/workbook.xml"]

    def package(tag, attrs):
        if tag == PKG_REL + "Relationship" and attrs.get("Type", "").endswith("/officeDocument"):
            workbook[0] = attrs.get("Target", workbook[0]).lstrip("/")

    _walk(zf, "_rels/.rels", clock, package)
    rels = _rels(zf, workbook[0], clock)
    first = []

    def sheets(tag, attrs):
        if tag == MAIN + "sheet" and not first:
            first.append(rels.get(attrs.get(REL + "id")))

    _walk(zf, workbook[0], clock, sheets)
    if not first or first[0] is None:
        raise XlsxError("no sheet")
    shared = styles = None
    for target in rels.values():
        if target.endswith("sharedStrings.xml"):
            shared = target
        elif target.endswith("styles.xml"):
            styles = target
    return first[0], shared, styles


def _date_styles(zf: zipfile.ZipFile, part: str | None, clock: _Clock) -> set[int]:
    """Indexes into cellXfs whose number format is a date or time."""
    if not part or part not in zf.NameToInfo:
        return set()
    custom: dict[int, str] = {}
    dates: set[int] = set()
    state = {"in_cell_xfs": False, "index": 0}

    def start(tag, attrs):
        if tag == MAIN + "cellXfs":
            state["in_cell_xfs"] = True
        elif tag == MAIN + "numFmt":
            custom[int(attrs.get("numFmtId", "0"))] = attrs.get("formatCode", "")
        elif tag == MAIN + "xf" and state["in_cell_xfs"]:
            fmt = int(attrs.get("numFmtId", "0"))
            if fmt in _BUILTIN_DATE_FORMATS or (fmt in custom and _is_date_format(custom[fmt])):
                dates.add(state["index"])
            state["index"] += 1

    def end(tag):
        if tag == MAIN + "cellXfs":
            state["in_cell_xfs"] = False

    _walk(zf, part, clock, start, end)
    return dates


def _is_date_format(code: str) -> bool:
    stripped = _STRIP_FORMAT.sub("", code)
    return bool(_DATE_LETTERS.search(stripped)) and "General" not in stripped


# --- shared strings --------------------------------------------------------------------------------

class SharedStrings:
    """The workbook's shared strings as one UTF-8 buffer and their end offsets.

    A Python list costs ≈ 60–80 bytes a string beyond its text, so three million short strings
    would take ≈ 250 MB; this takes the text's bytes plus 8 bytes a string.
    """

    def __init__(self):
        self.buf = bytearray()
        self.ends = array("Q")

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, i: int) -> str:
        if i < 0:
            raise IndexError(i)
        end = self.ends[i]
        return self.buf[self.ends[i - 1] if i else 0:end].decode("utf-8", "surrogatepass")

    def add(self, s: str) -> None:
        self.buf += s.encode("utf-8", "surrogatepass")
        self.ends.append(len(self.buf))


class _SharedParser:
    def __init__(self, limits: Limits):
        self.limits = limits
        self.out = SharedStrings()
        self.depth = 0
        self.parts: list[str] = []
        self.chars = 0
        self.collecting = self.phonetic = False
        self.si, self.t, self.rph = MAIN + "si", MAIN + "t", MAIN + "rPh"

    def start(self, name, attrs):
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise LimitExceeded("max_depth", self.limits.max_depth, "sharedStrings")
        if name == self.t:
            self.collecting = not self.phonetic
        elif name == self.si:
            self.parts, self.chars = [], 0
        elif name == self.rph:
            self.phonetic = True

    def data(self, text):
        if self.collecting:
            self.chars += len(text)
            if self.chars > self.limits.max_cell_chars:
                raise LimitExceeded("max_cell_chars", self.limits.max_cell_chars, "shared string")
            self.parts.append(text)

    def end(self, name):
        self.depth -= 1
        if name == self.t:
            self.collecting = False
        elif name == self.si:
            # Rich text is several runs; phonetic hints (rPh) are not part of the value.
            out, limits = self.out, self.limits
            out.add("".join(self.parts))
            self.parts = []
            if len(out) > limits.max_shared_strings:
                raise LimitExceeded("max_shared_strings", limits.max_shared_strings)
            if len(out.buf) > limits.max_shared_bytes:
                raise LimitExceeded("max_shared_bytes", limits.max_shared_bytes)
        elif name == self.rph:
            self.phonetic = False


def _shared_strings(zf: zipfile.ZipFile, part: str | None, clock: _Clock) -> SharedStrings:
    if not part or part not in zf.NameToInfo:
        return SharedStrings()
    sp = _SharedParser(clock.limits)
    p = _parser()
    p.StartElementHandler, p.EndElementHandler, p.CharacterDataHandler = sp.start, sp.end, sp.data
    for _ in _chunks(zf, part, p, clock):
        pass
    return sp.out


# --- the sheet -----------------------------------------------------------------------------------

_COLUMNS: dict[str, int] = {}


def _column_index(ref: str) -> int:
    letters = ref.rstrip("0123456789")
    i = _COLUMNS.get(letters)
    if i is None:
        m = _REF.fullmatch(ref)
        if m is None:
            raise XlsxError(f"bad cell reference {ref[:20]!r}")
        n = 0
        for ch in m.group(1):
            n = n * 26 + ord(ch) - 64
        i = _COLUMNS[letters] = n - 1  # at most 26³ distinct keys: XFD is the last column
    return i


def _from_excel(serial: float):
    """A date serial as openpyxl converts it (a time of day for serials below 1)."""
    day, fraction = divmod(serial, 1)
    diff = timedelta(milliseconds=round(fraction * 86_400_000))
    if 0 <= serial < 1 and diff.days == 0:
        return (datetime.min + diff).time()
    if 0 < serial < 60:  # before Excel's phantom 1900-02-29
        day += 1
    return _EPOCH + timedelta(days=day) + diff


def _number(text: str):
    if "." in text or "E" in text or "e" in text:
        return float(text)
    return int(text)


class _SheetParser:
    """expat callbacks for one worksheet: ≈3× faster than building ElementTree elements.

    No namespace processing here (it costs per element): the root element's prefix is read
    once and cut off each name.
    """

    def __init__(self, shared: SharedStrings, date_styles: set[int], limits: Limits):
        self.shared, self.date_styles, self.limits = shared, date_styles, limits
        self.max_columns, self.max_cell_chars = limits.max_columns, limits.max_cell_chars
        self.done: list[tuple[int, list, set[int]]] = []
        self.number = 0
        self.values: list = []
        self.formulas: set[int] = set()
        self.buf: list[str] | None = None
        self.phonetic = False
        self.cell = ("n", 0, 0)  # type, style, column
        self.v = self.f = self.inline = None
        self.prefix = 0  # length of the element prefix ("x:"), read from the root element
        self.depth = self.rows = self.blank_rows = self.cells = self.cell_chars = self.row_chars = 0
        self.row_has_value = False
        p = _parser(namespaces=False)
        p.StartElementHandler, p.EndElementHandler = self.start, self.end
        p.CharacterDataHandler = self.data
        self.parser = p

    def start(self, name, attrs):
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise LimitExceeded("max_depth", self.limits.max_depth, "sheet")
        tag = name[self.prefix:] if self.prefix else name
        if tag == "c":
            ref = attrs.get("r")
            i = _column_index(ref) if ref else len(self.values)
            if i >= self.max_columns:
                raise LimitExceeded("max_columns", self.max_columns, ref or "")
            self.cells += 1
            if self.cells > self.limits.max_cells:
                raise LimitExceeded("max_cells", self.limits.max_cells)
            self.cell = (attrs.get("t", "n"), int(attrs.get("s", 0)), i)
            self.v = self.f = self.inline = None
            self.cell_chars = 0
        elif tag == "v" or tag == "f" or (tag == "t" and not self.phonetic):
            self.buf = []
        elif tag == "is":
            self.inline = ""
        elif tag == "rPh":
            self.phonetic = True
        elif tag == "row":
            self.rows += 1
            if self.rows > self.limits.max_rows:
                raise LimitExceeded("max_rows", self.limits.max_rows)
            r = attrs.get("r")
            self.number = int(r) if r else self.number + 1
            if self.number > 1_048_576:  # beyond Excel's last row: not a spreadsheet's file
                raise LimitExceeded("max_rows", 1_048_576, f"row {self.number}")
            self.values, self.formulas = [], set()
            self.row_chars, self.row_has_value = 0, False
        elif tag.endswith("worksheet"):
            self.prefix = name.index(":") + 1 if ":" in name else 0

    def data(self, text):
        if self.buf is not None:
            self.buf.append(text)
            self.cell_chars += len(text)
            if self.cell_chars > self.max_cell_chars:
                raise LimitExceeded("max_cell_chars", self.max_cell_chars)

    def end(self, name):
        self.depth -= 1
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
            value = self._value(t, style, i)
            values.append(value)
            if value is not None:
                self.row_has_value = True
                if value.__class__ is str:
                    self.row_chars += len(value)
                    if self.row_chars > self.limits.max_row_chars:
                        raise LimitExceeded("max_row_chars", self.limits.max_row_chars, f"row {self.number}")
        elif tag == "row":
            if not self.row_has_value:
                self.blank_rows += 1
                if self.blank_rows > self.limits.max_blank_rows:
                    raise LimitExceeded("max_blank_rows", self.limits.max_blank_rows)
            self.done.append((self.number, self.values, self.formulas))

    def _value(self, t, style, i):
        if self.f is not None:
            self.formulas.add(i)
            return "=" + self.f
        text = self.v
        if t == "s":
            if text is None:
                return None
            value = self.shared[int(text)]
            if len(value) > self.max_cell_chars:
                raise LimitExceeded("max_cell_chars", self.max_cell_chars)
            return value
        if t == "inlineStr":
            return self.inline
        if text is None:
            return None
        if t == "n":
            value = _number(text)
            if style in self.date_styles:
                try:
                    return _from_excel(float(value))
                except (OverflowError, ValueError):
                    return value  # a "date" no calendar has: left as the number it is
            return value
        if t == "b":
            return text == "1"
        if t == "d":
            return datetime.fromisoformat(text.rstrip("Z"))
        return text  # "str" (a formula's cached text), "e" (an error such as #N/A)


def iter_rows(path, limits: Limits = DEFAULT_LIMITS) -> Iterator[tuple[int, list, set[int]]]:
    """(row number, values, indexes of formula cells) for each row of the first sheet.

    Raises ``XlsxError`` (``LimitExceeded`` when a limit is broken, ``BadXml`` for broken XML).
    """
    clock = _Clock(limits)
    check_archive(path, limits)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise XlsxError(type(exc).__name__) from exc
    with zf:
        try:
            sheet, shared_part, styles_part = _first_sheet_part(zf, clock)
            shared = _shared_strings(zf, shared_part, clock)
            date_styles = _date_styles(zf, styles_part, clock)
            sp = _SheetParser(shared, date_styles, limits)
            for _ in _chunks(zf, sheet, sp.parser, clock):
                yield from sp.done
                sp.done.clear()
        except XlsxError:
            raise
        except (ValueError, IndexError, KeyError, OverflowError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise XlsxError(type(exc).__name__) from exc
