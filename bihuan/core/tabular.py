"""Import/export framework for every register: declarative specs, streaming readers and
writers (XLSX, CSV as utf-8-sig), per-row validation, error reports, and a registry of kinds.

An app declares a ``Spec`` (its columns), writes an ``ImportHandler`` (how valid rows are
written) and registers a ``Kind`` from its ``<app>/tabular.py``; that module is discovered
automatically, so ``core`` never imports the apps. See docs/import-export.md.

Rules kept here, once for all registers:

* a file over ``settings.BIHUAN_MAX_IMPORT_BYTES`` is refused before it is opened;
* wrong or missing headers, an empty or corrupt file → ``TabularError``, nothing applied;
* a formula in an imported cell is refused, never evaluated;
* an import runs in one transaction: atomic by default (any bad row → nothing written),
  or ``valid_only`` (good rows written, bad rows reported); a dry run always rolls back;
* a non-dry-run import writes exactly one audit entry (file SHA-256, counts, result);
* exported text starting with ``= + - @`` (or tab/CR) is prefixed with ``'`` so no
  spreadsheet runs it as a formula; the import strips that prefix again (round-trip).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import queue
import re
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext as _

from . import audit
from .errors import ServiceError

Progress = Callable[[int], Any]

ERROR_HEADER = "错误"
# Headers of an error report's own column, ignored on import so a fixed report re-imports as is.
IGNORED_HEADERS = {ERROR_HEADER, "errors", "error"}
FORMATS = ("xlsx", "csv")
ATOMIC, VALID_ONLY = "atomic", "valid_only"
# Characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection).
DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
BATCH_ROWS = 1000


class TabularError(ServiceError):
    """The file as a whole is refused (size, format, headers, emptiness): nothing applied."""

    def __init__(self, message, code: str = "bad_file"):
        super().__init__(message, code=code)


class CellError(ValueError):
    """Raised by a column parser; the message is shown in the row's error report."""


# --- column parsers ---------------------------------------------------------------------
# A parser takes the cell's value (str, int, float, datetime … as read, never None or "")
# and returns the internal value or raises CellError.

def _as_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a code typed as a number: 370800.0 → "370800"
    if isinstance(value, datetime):
        value = value.date() if value.time() == datetime.min.time() else value
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


as_text = _as_text  # public name: a cell value as trimmed text (numbers without ".0", dates ISO)


def text(max_length: int | None = None, pattern: str | None = None, pattern_message: str = ""):
    rx = re.compile(pattern) if pattern else None

    def parse(value):
        s = value.strip() if value.__class__ is str else _as_text(value)  # str: the common case, quickly
        if max_length is not None and len(s) > max_length:
            raise CellError(_("At most %(n)d characters.") % {"n": max_length})
        if rx and not rx.fullmatch(s):
            raise CellError(str(pattern_message or _("Wrong format.")))
        return s

    return parse


def integer(min_value: int | None = None, max_value: int | None = None):
    def parse(value):
        if isinstance(value, bool):
            raise CellError(_("A whole number is required."))
        try:
            d = Decimal(_as_text(value).replace(",", ""))
        except InvalidOperation:
            raise CellError(_("A whole number is required."))
        if d != d.to_integral_value():
            raise CellError(_("A whole number is required."))
        n = int(d)
        if min_value is not None and n < min_value:
            raise CellError(_("At least %(n)d.") % {"n": min_value})
        if max_value is not None and n > max_value:
            raise CellError(_("At most %(n)d.") % {"n": max_value})
        return n

    return parse


def decimal(places: int = 2):
    def parse(value):
        try:
            d = Decimal(_as_text(value).replace(",", ""))
        except InvalidOperation:
            raise CellError(_("A number is required."))
        if not d.is_finite():
            raise CellError(_("A number is required."))
        return d.quantize(Decimal(1).scaleb(-places))

    return parse


_DATE_RX = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


def parse_date(value):
    """A date cell, or text as 2024-01-31, 2024/1/31, 2024.1.31, 2024年1月31日 or 20240131."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    s = _as_text(value)
    m = _DATE_RX.fullmatch(s) or re.fullmatch(r"(\d{4})(\d{2})(\d{2})", s)
    if m:
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            pass
    raise CellError(_("Not a date (write it as 2024-01-31)."))


def choice(mapping: dict[str, Any], *, case_insensitive: bool = True, shown: Iterable[str] | None = None):
    """An enumeration: ``mapping`` of accepted labels → internal value (``shown`` in errors)."""
    table = {(k.lower() if case_insensitive else k): v for k, v in mapping.items()}
    shown = " / ".join(dict.fromkeys(str(k) for k in (shown or mapping)))

    def parse(value):
        s = _as_text(value)
        key = s.lower() if case_insensitive else s
        if key in table:
            return table[key]
        raise CellError(_("Must be one of: %(choices)s.") % {"choices": shown})

    return parse


def boolean(value):
    s = _as_text(value).lower()
    if s in {"是", "1", "true", "yes", "y", "t"}:
        return True
    if s in {"否", "0", "false", "no", "n", "f"}:
        return False
    raise CellError(_("Must be 是 or 否."))


# --- spec ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    """One column: Chinese ``header`` (as exported), internal ``key``, and how to read it.

    ``get`` extracts the export value from a row object (a dict from ``.values()`` or a
    model instance); by default ``row[key]`` / ``getattr(row, key)``.
    """

    key: str
    header: str
    parse: Callable[[Any], Any] = field(default_factory=text)
    required: bool = False
    aliases: tuple[str, ...] = ()
    get: Callable[[Any], Any] | None = None
    width: int = 14
    # An optional column may be left out of the file entirely.
    optional_header: bool = False

    def headers(self) -> set[str]:
        return {_norm_header(h) for h in (self.header, self.key, *self.aliases)}

    def value_of(self, obj) -> Any:
        if self.get is not None:
            return self.get(obj)
        if isinstance(obj, dict):
            return obj.get(self.key)
        return getattr(obj, self.key, None)


def _norm_header(h) -> str:
    return re.sub(r"\s+", " ", str(h or "").replace("\u3000", " ")).strip().lower()


@dataclass(frozen=True)
class Spec:
    """The columns of a register. ``unique`` is the key a row may appear under only once."""

    columns: tuple[Column, ...]
    unique: tuple[str, ...] = ()
    sheet_title: str = "Sheet1"

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)

    def match_headers(self, header_row: list) -> list[Column | None]:
        """Map each file column to a spec column (None = ignored); TabularError when wrong."""
        lookup: dict[str, Column] = {}
        for c in self.columns:
            for h in c.headers():
                lookup[h] = c
        mapping: list[Column | None] = []
        seen: set[str] = set()
        unknown: list[str] = []
        for raw in header_row:
            h = _norm_header(raw)
            if not h or h in IGNORED_HEADERS:
                mapping.append(None)
                continue
            col = lookup.get(h)
            if col is None:
                unknown.append(str(raw).strip())
                mapping.append(None)
                continue
            if col.key in seen:
                raise TabularError(_("The column %(h)s appears twice in the header row.") % {"h": col.header},
                                   code="bad_headers")
            seen.add(col.key)
            mapping.append(col)
        missing = [c.header for c in self.columns if c.key not in seen and not c.optional_header]
        if unknown or missing:
            parts = []
            if missing:
                parts.append(_("missing columns: %(cols)s") % {"cols": "、".join(missing)})
            if unknown:
                parts.append(_("unknown columns: %(cols)s") % {"cols": "、".join(unknown)})
            raise TabularError(
                _("The header row does not match (%(detail)s). Expected: %(expected)s.")
                % {"detail": "; ".join(parts), "expected": "、".join(self.headers)}, code="bad_headers")
        return mapping


# --- values in and out ------------------------------------------------------------------

def neutralise(value):
    """Text a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(DANGEROUS_PREFIXES):
        return "'" + value
    return value


def _unneutralise(value):
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r":
        return value[1:]
    return value


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# --- the stored file -------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """An import file on disk, checked for size and format, with its SHA-256."""

    path: Path
    filename: str
    fmt: str
    size: int
    sha256: str


def max_import_bytes() -> int:
    return int(getattr(settings, "BIHUAN_MAX_IMPORT_BYTES", 100 * 1024 * 1024))


def format_of(filename: str) -> str:
    ext = Path(filename or "").suffix.lower().lstrip(".")
    if ext not in FORMATS:
        raise TabularError(_("Only .xlsx and .csv files can be imported."), code="bad_format")
    return ext


def check_size(size: int) -> None:
    limit = max_import_bytes()
    if size > limit:
        raise TabularError(_("The file is %(size)s; the limit is %(limit)s.")
                           % {"size": _human(size), "limit": _human(limit)}, code="too_large")
    if size == 0:
        raise TabularError(_("The file is empty."), code="empty")


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def open_source(path, filename: str | None = None) -> Source:
    """Check a file before anything parses it: extension, size (limit), then hash it."""
    path = Path(path)
    filename = filename or path.name
    fmt = format_of(filename)
    try:
        size = path.stat().st_size
    except OSError:
        raise TabularError(_("The file cannot be read."), code="unreadable")
    check_size(size)
    return Source(path=path, filename=filename, fmt=fmt, size=size, sha256=sha256_of(path))


def store_upload(chunks: Iterable[bytes], filename: str, directory, *, size: int | None = None) -> Source:
    """Save an uploaded file as ``<directory>/<sha256>.<ext>``: the name is the content hash."""
    fmt = format_of(filename)
    if size is not None:
        check_size(size)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    h, total = hashlib.sha256(), 0
    tmp = directory / f".upload-{os.getpid()}-{id(h)}.part"
    try:
        with open(tmp, "wb") as out:
            for chunk in chunks:
                total += len(chunk)
                if total > max_import_bytes():
                    raise TabularError(_("The file is larger than the limit of %(limit)s.")
                                       % {"limit": _human(max_import_bytes())}, code="too_large")
                h.update(chunk)
                out.write(chunk)
        check_size(total)
        digest = h.hexdigest()
        final = directory / f"{digest}.{fmt}"
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return Source(path=final, filename=filename, fmt=fmt, size=total, sha256=digest)


# --- readers ---------------------------------------------------------------------------

def iter_xlsx(path: Path) -> Iterator[tuple[int, list, set[int]]]:
    """(row number, values, indexes of formula cells) from the first sheet, streaming.

    ``core.xlsx_reader`` gives what openpyxl's read-only reader gives (formulas as their
    ``"=…"`` text, never a computed value), 3–4× faster; blank rows may be left out."""
    from .xlsx_reader import XlsxError, iter_rows

    if not zipfile.is_zipfile(path):
        raise TabularError(_("This is not an XLSX workbook (perhaps a renamed or damaged file). "
                             "Save it from your spreadsheet as .xlsx or .csv."), code="bad_format")
    rows = iter_rows(path)
    try:
        yield from rows
    except XlsxError as exc:
        if str(exc) == "no sheet":
            raise TabularError(_("The workbook has no sheet."), code="empty")
        raise TabularError(_("The XLSX workbook cannot be read (%(err)s).") % {"err": exc}, code="bad_format")


def _csv_encoding(path: Path) -> str:
    """utf-8(-sig) as we export it; GB18030 for CSVs saved by Excel in a Chinese locale."""
    dec = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as fh:
        try:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                dec.decode(chunk)
            dec.decode(b"", final=True)
            return "utf-8-sig"
        except UnicodeDecodeError:
            return "gb18030"


def iter_csv(path: Path) -> Iterator[tuple[int, list, set[int]]]:
    encoding = _csv_encoding(path)
    try:
        with open(path, encoding=encoding, newline="", errors="strict") as fh:
            for number, values in enumerate(csv.reader(fh), start=1):
                yield number, values, set()
    except (csv.Error, UnicodeDecodeError) as exc:
        raise TabularError(_("The CSV file cannot be read (%(err)s).") % {"err": exc}, code="bad_format")


def iter_source(source: Source) -> Iterator[tuple[int, list, set[int]]]:
    return iter_xlsx(source.path) if source.fmt == "xlsx" else iter_csv(source.path)


# --- parsing rows ----------------------------------------------------------------------

@dataclass
class RowError:
    row: int
    column: str  # the column's header, or "" for the whole row
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": str(self.message)}


@dataclass
class Row:
    number: int  # as the spreadsheet numbers it (header is 1)
    values: dict[str, Any]
    errors: list[RowError] = field(default_factory=list)
    prepared: Any = None  # whatever the handler's ``prepare`` worked out for the row

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, column_header: str, message) -> None:
        self.errors.append(RowError(self.number, column_header, str(message)))


def _blank_row(values) -> bool:
    for v in values:
        if v is not None and (v.__class__ is not str or v.strip()):
            return False
    return True


def parse_rows(spec: Spec, source: Source, *, max_rows: int | None = None) -> Iterator[Row]:
    """Header check, then one ``Row`` per non-blank line, with cell-level errors filled in."""
    max_rows = max_rows or int(getattr(settings, "BIHUAN_MAX_IMPORT_ROWS", 500_000))
    it = iter_source(source)
    mapping = None
    for _number, values, _formulas in it:
        if _blank_row(values):
            continue
        mapping = spec.match_headers(values)
        break
    if mapping is None:
        raise TabularError(_("The file is empty: there is no header row."), code="empty")
    # Everything that does not change from row to row is worked out once: this loop runs a
    # million times for a large file, so per-row lookups in the spec add up.
    plan = [(i, col.key, col.header, col.parse, col.required) for i, col in enumerate(mapping) if col is not None]
    template = dict.fromkeys(c.key for c in spec.columns)  # keys of columns not in the file stay None
    unique = tuple(spec.unique)
    unique_headers = {spec.column(k).header for k in unique}
    dup_header = spec.column(unique[0]).header if unique else ""
    formula_msg = required_msg = None
    seen_keys: dict[tuple, int] = {}
    count = 0
    for number, values, formulas in it:
        if _blank_row(values):
            continue
        count += 1
        if count > max_rows:
            raise TabularError(_("The file has more than %(n)d rows; split it.") % {"n": max_rows},
                               code="too_many_rows")
        row = Row(number, dict(template))
        out = row.values
        width = len(values)
        for i, key, header, parse, required in plan:
            raw = values[i] if i < width else None
            if i in formulas or (isinstance(raw, str) and raw.lstrip().startswith("=")):
                raw = _FORMULA
            elif isinstance(raw, str):
                if raw[:1] == "'":
                    raw = _unneutralise(raw)
                if not raw.strip():
                    raw = None
            if raw is _FORMULA:
                formula_msg = formula_msg or _("Formulas are not accepted; enter the value itself.")
                row.error(header, formula_msg)
                continue
            if raw is None:
                if required:
                    required_msg = required_msg or _("This column is required.")
                    row.error(header, required_msg)
                continue
            try:
                out[key] = parse(raw)
            except CellError as exc:
                row.error(header, str(exc))
        if unique and not (row.errors and any(e.column in unique_headers for e in row.errors)):
            key = tuple(out[k] for k in unique)
            first = seen_keys.setdefault(key, number)
            if first != number:
                row.error(dup_header, _("Duplicate of row %(n)d in this file.") % {"n": first})
        yield row
    if count == 0:
        raise TabularError(_("The file has a header row but no data rows."), code="empty")


_FORMULA = object()  # marks a formula cell while a row is parsed


# --- import ----------------------------------------------------------------------------

@dataclass
class ImportResult:
    """What an import did (or, for a dry run, would do). ``applied`` says whether it was written."""

    kind: str
    filename: str = ""
    sha256: str = ""
    size: int = 0
    mode: str = ATOMIC
    dry_run: bool = False
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    invalid_rows: set[int] = field(default_factory=set)
    file_error: str = ""
    applied: bool = False

    @property
    def invalid(self) -> int:
        return len(self.invalid_rows)

    @property
    def valid(self) -> int:
        return self.total - self.invalid

    @property
    def ok(self) -> bool:
        return not self.file_error and not self.invalid_rows

    @property
    def outcome(self) -> str:
        """applied | partial (valid-only with bad rows) | refused | preview."""
        if self.dry_run:
            return "preview"
        if not self.applied:
            return "refused"
        return "partial" if self.invalid_rows else "applied"

    def errors_by_row(self) -> dict[int, list[RowError]]:
        out: dict[int, list[RowError]] = {}
        for e in self.errors:
            out.setdefault(e.row, []).append(e)
        return out

    def summary(self) -> dict:
        return {"kind": self.kind, "file": self.filename, "sha256": self.sha256, "bytes": self.size,
                "mode": self.mode, "rows": self.total, "valid": self.valid, "invalid": self.invalid,
                "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "result": self.outcome, "file_error": str(self.file_error)}


class ImportContext:
    """Handed to the handler: who imports, in which mode, and where outcomes are counted."""

    def __init__(self, *, user, mode: str, dry_run: bool, now: datetime | None, result: ImportResult):
        self.user, self.mode, self.dry_run, self.now, self.result = user, mode, dry_run, now, result
        self.failed: list[Row] = []

    def error(self, row: Row, column_header: str, message) -> None:
        """Refuse ``row`` (use this, not ``row.error``, for rows already fed)."""
        row.error(column_header, message)
        self.failed.append(row)

    def count(self, row: Row, outcome: str) -> None:
        """Record a valid row's outcome: created, updated or unchanged."""
        setattr(self.result, outcome, getattr(self.result, outcome) + 1)


class ImportHandler:
    """How one register's rows are written. Subclass; override ``feed`` and/or ``finish``.

    ``feed`` receives every row (bad ones too, so the handler can refer to them) in batches,
    inside the import's transaction. It must skip rows that are not ``ok``, add errors for
    rows it refuses, write the rest (with bulk queries), and ``ctx.count`` their outcome.
    Rows may be buffered and written in ``finish`` when the order of the file does not
    suit (a tree written level by level); errors may be added to buffered rows until then.
    """

    spec: Spec
    batch_rows = BATCH_ROWS  # rows per ``feed`` call (and per progress step)

    def __init__(self, ctx: ImportContext):
        self.ctx = ctx

    def prepare(self, rows: list[Row]) -> None:
        """Per-row work that needs no database (encryption, hashing), in the reader thread.

        Runs on each batch before ``feed`` sees it, while ``feed`` waits on the database
        for the batch before; may set ``row.prepared`` or add cell errors. It must not
        touch the database (Django's connections belong to their thread) or the handler's
        state that ``feed`` uses.
        """

    def feed(self, rows: list[Row]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        pass

    def audit_unit(self):
        """The unit the audit entry is filed under (None = whole platform)."""
        return None


def _batched(it: Iterable, n: int) -> Iterator[list]:
    batch = []
    for x in it:
        batch.append(x)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch


class _Rollback(Exception):
    pass


_END = object()
PREFETCH_BATCHES = 2


def _read_ahead(batches: Iterator[list[Row]], prepare: Callable[[list[Row]], Any]) -> Iterator[list[Row]]:
    """Yield ``batches``, read, parsed and prepared by a thread a few batches ahead.

    The importer spends much of its time waiting for the database (COPY, look-ups) with the
    GIL released; the thread parses and encrypts the next batch meanwhile. It never touches
    the database. A file-level error raised while reading is raised here, in the caller.
    Close the generator (as ``run_import`` does) to stop the thread early.
    """
    q: queue.Queue = queue.Queue(maxsize=PREFETCH_BATCHES)
    stop = threading.Event()
    language = translation.get_language()  # messages in the caller's language, as without the thread

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        item = _END
        try:
            with translation.override(language):
                for batch in batches:
                    prepare(batch)
                    if not put(batch):
                        return
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, which raises it
            item = exc
        finally:
            batches.close()
        put(item)

    thread = threading.Thread(target=produce, name="import-reader", daemon=True)
    thread.start()
    try:
        while (item := q.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def run_import(kind: Kind | str, source: Source, *, user=None, mode: str = ATOMIC, dry_run: bool = False,
               progress: Progress | None = None, now: datetime | None = None) -> ImportResult:
    """Validate and (unless refused or dry) write ``source`` in one transaction.

    ``user=None`` is the system (full scope). Returns the result; never raises for bad
    input — the result's ``file_error``/``errors`` say what was wrong.
    """
    kind = get_kind(kind) if isinstance(kind, str) else kind
    if mode not in (ATOMIC, VALID_ONLY):
        raise ValueError(mode)
    result = ImportResult(kind=kind.name, filename=source.filename, sha256=source.sha256, size=source.size,
                          mode=mode, dry_run=dry_run)
    ctx = ImportContext(user=user, mode=mode, dry_run=dry_run, now=now, result=result)
    handler = kind.handler(ctx)
    seen: list[Row] = []  # only rows with errors are kept, for the result
    try:
        with transaction.atomic():
            batches = _read_ahead(_batched(parse_rows(kind.spec, source), handler.batch_rows), handler.prepare)
            try:
                for batch in batches:
                    result.total += len(batch)
                    handler.feed(batch)
                    seen.extend(r for r in batch if r.errors)
                    if progress:
                        progress(len(batch))
            finally:
                batches.close()  # stops the reader thread if feed failed
            handler.finish()
            _collect(result, handler, seen)
            refuse = dry_run or (mode == ATOMIC and result.invalid_rows) or result.valid == 0
            if refuse:
                raise _Rollback
            result.applied = True
            _audit(kind, result, handler, now)
    except _Rollback:
        pass
    except TabularError as exc:
        result.file_error = str(exc.message)
    except IntegrityError:
        # A concurrent write took a code (or similar) between validation and insert.
        result.file_error = _("The data changed while importing; nothing was applied. Try again.")
    if not result.applied and not dry_run:
        # Refused: nothing was written, whatever the rows would have done.
        result.created = result.updated = result.unchanged = 0
        _audit(kind, result, handler, now)
    return result


def _collect(result: ImportResult, handler: ImportHandler, seen: list[Row]) -> None:
    rows = {id(r): r for r in seen}
    for r in handler.ctx.failed:
        rows[id(r)] = r
    for r in sorted(rows.values(), key=lambda r: r.number):
        if r.errors:
            result.invalid_rows.add(r.number)
            result.errors.extend(r.errors)


def _audit(kind: Kind, result: ImportResult, handler: ImportHandler, now) -> None:
    extra = result.summary()
    extra["errors"] = [e.as_dict() for e in result.errors[:50]]  # a sample; the report has all
    audit.record(f"{kind.permission_prefix}.import", object_type=kind.name, object_id=result.sha256[:16],
                 unit=handler.audit_unit(), extra=extra, now=now)


# --- writers ---------------------------------------------------------------------------

def _xlsx_value(v):
    if isinstance(v, datetime) and v.tzinfo is not None:
        return v.replace(tzinfo=None)  # openpyxl cannot store aware datetimes; callers pass local
    return neutralise(v)


def write_xlsx(out, headers: list[str], rows: Iterable[list], *, sheet_title: str = "Sheet1",
               widths: list[int] | None = None, progress: Progress | None = None) -> int:
    """Stream rows into an XLSX (openpyxl write_only). ``out`` is a path or binary file."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=sheet_title[:31])
    for i, w in enumerate(widths or [], start=1):
        ws.column_dimensions[get_column_letter(i)].width = w
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header_cells = []
    for h in headers:
        c = WriteOnlyCell(ws, value=neutralise(h))
        c.font = bold
        header_cells.append(c)
    ws.append(header_cells)
    n = 0
    for row in rows:
        ws.append([_xlsx_value(v) for v in row])
        n += 1
        if progress and n % 1000 == 0:
            progress(1000)
    if progress and n % 1000:
        progress(n % 1000)
    wb.save(out)
    return n


def _csv_value(v):
    if v is None:
        return ""
    if isinstance(v, datetime | date):
        return v.isoformat()
    return neutralise(v if isinstance(v, str) else str(v))


def write_csv(out, headers: list[str], rows: Iterable[list], *, progress: Progress | None = None) -> int:
    """Stream rows into CSV as utf-8-sig (so Excel opens Chinese text). ``out`` is binary."""
    own = isinstance(out, str | Path)
    fh = open(out, "wb") if own else out
    text_out = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="", write_through=True)
    try:
        w = csv.writer(text_out)
        w.writerow([_csv_value(h) for h in headers])
        n = 0
        for row in rows:
            w.writerow([_csv_value(v) for v in row])
            n += 1
            if progress and n % 1000 == 0:
                progress(1000)
        if progress and n % 1000:
            progress(n % 1000)
        text_out.flush()
    finally:
        text_out.detach()  # leave the caller's file open
        if own:
            fh.close()
    return n


def write_table(out, fmt: str, headers: list[str], rows: Iterable[list], **kw) -> int:
    if fmt == "csv":
        kw.pop("sheet_title", None)
        kw.pop("widths", None)
        return write_csv(out, headers, rows, **kw)
    if fmt == "xlsx":
        return write_xlsx(out, headers, rows, **kw)
    raise TabularError(_("Unknown format %(fmt)s; use xlsx or csv.") % {"fmt": fmt}, code="bad_format")


def spec_rows(spec: Spec, objects: Iterable) -> Iterator[list]:
    for obj in objects:
        yield [c.value_of(obj) for c in spec.columns]


def write_error_report(out, kind: Kind | str, source: Source, result: ImportResult, *,
                       only_errors: bool = False) -> int:
    """The file's own rows plus an error column (错误), as XLSX. Fix and re-import it as is."""
    kind = get_kind(kind) if isinstance(kind, str) else kind
    widths = [c.width for c in kind.spec.columns] + [60]
    if result.file_error:
        return write_xlsx(out, [ERROR_HEADER], [[result.file_error]], sheet_title=kind.spec.sheet_title,
                          widths=[80])
    by_row = result.errors_by_row()
    lines = ((n, v) for n, v, _f in iter_source(source) if not all(_is_blank(x) for x in v))
    _n, header = next(lines)
    # Leave out an old 错误 column, so a report re-imported and re-checked stays one column wide.
    keep = [i for i, h in enumerate(header) if _norm_header(h) not in IGNORED_HEADERS]

    def rows():
        for number, values in lines:
            msgs = by_row.get(number, [])
            if only_errors and not msgs:
                continue
            message = "；".join(f"{e.column}: {e.message}" if e.column else e.message for e in msgs)
            yield [values[i] if i < len(values) else None for i in keep] + [message]

    return write_xlsx(out, [header[i] if header[i] is not None else "" for i in keep] + [ERROR_HEADER],
                      rows(), sheet_title=kind.spec.sheet_title, widths=widths)


# --- registry of kinds -----------------------------------------------------------------

@dataclass(frozen=True)
class Kind:
    """A register that can be imported and exported (``bihuan import <name> FILE``).

    ``export_rows(user, unit=None)`` returns an iterable of row objects in scope (stream
    it: a queryset's ``.iterator()``) and raises NotFound for a unit out of scope.
    ``permission_prefix`` + ``.import`` / ``.export`` are the permissions and audit actions.
    """

    name: str
    label: str
    spec: Spec
    handler: type[ImportHandler]
    export_rows: Callable[..., Iterable]
    permission_prefix: str
    export_count: Callable[..., int] | None = None
    find_unit: Callable[[Any, str], Any] | None = None  # CLI --unit CODE → unit (or NotFound)


_KINDS: dict[str, Kind] = {}
_discovered = False


def register(kind: Kind) -> Kind:
    _KINDS[kind.name] = kind
    return kind


def _discover() -> None:
    global _discovered
    if not _discovered:
        autodiscover_modules("tabular")  # each app's tabular.py registers its kinds
        _discovered = True


def kinds() -> dict[str, Kind]:
    _discover()
    return dict(sorted(_KINDS.items()))


def get_kind(name: str) -> Kind:
    _discover()
    try:
        return _KINDS[name]
    except KeyError:
        raise TabularError(_("Unknown kind %(name)s. Known: %(known)s.")
                           % {"name": name, "known": ", ".join(sorted(_KINDS))}, code="unknown_kind")


def cli_user(username: str | None):
    """``--user USERNAME`` of the CLI: that active user, or None for the system (full scope)."""
    if not username:
        return None
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise TabularError(_("No active user is named %(u)s.") % {"u": username}, code="unknown_user")
    return user


def can(user, kind: Kind, verb: str) -> bool:
    """Whether ``user`` holds ``<kind>.<verb>`` anywhere (None = the system)."""
    if user is None:
        return True
    get_scope = getattr(user, "get_scope", None)
    return bool(get_scope) and not get_scope(f"{kind.permission_prefix}.{verb}").empty


def export(kind: Kind | str, out, *, user=None, fmt: str = "xlsx", unit=None,
           progress: Progress | None = None, now: datetime | None = None, unmasked: bool = False) -> int:
    """Write the rows of ``kind`` in the user's export scope to ``out``; one audit entry.

    ``unmasked`` (kinds with protected numbers) needs ``<prefix>.export_unmasked`` and is audited as such.
    """
    kind = get_kind(kind) if isinstance(kind, str) else kind
    if fmt not in FORMATS:
        raise TabularError(_("Unknown format %(fmt)s; use xlsx or csv.") % {"fmt": fmt}, code="bad_format")
    if unmasked and not can(user, kind, "export_unmasked"):
        from .errors import PermissionDenied

        raise PermissionDenied(_("Unmasked export needs its own permission."))
    objects = kind.export_rows(user, unit=unit, **({"unmasked": True} if unmasked else {}))
    n = write_table(out, fmt, kind.spec.headers, spec_rows(kind.spec, objects),
                    sheet_title=kind.spec.sheet_title, widths=[c.width for c in kind.spec.columns],
                    progress=progress)
    audit.record(f"{kind.permission_prefix}.export", object_type=kind.name,
                 object_id=getattr(unit, "pk", "") or "", unit=unit,
                 extra={"kind": kind.name, "format": fmt, "rows": n,
                        "unit": getattr(unit, "code", None), **({"unmasked": True} if unmasked else {})},
                 now=now)
    return n
