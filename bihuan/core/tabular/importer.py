"""The import: one transaction, atomic by default or ``valid_only``; a dry run always rolls
back; a non-dry-run import writes exactly one audit entry (file SHA-256, counts, result)."""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from .. import audit
from .base import ATOMIC, BATCH_ROWS, VALID_ONLY, Progress, TabularError
from .limits import read_limits
from .readers import iter_source
from .registry import Kind, get_kind
from .rows import Row, RowError, RowParser, check_source, data_rows, next_header
from .source import Source
from .spec import Spec


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
    # True: ``prepare`` may run in worker processes for a big file (it then works on a copy of
    # the handler made before the import began, and must not need anything else).
    parallel_prepare = False

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


# A batch is also cut at this many characters of text: rows in flight (the batch being fed plus
# the ones read ahead) then cost at most a few tens of MB, however long the rows.
BATCH_CHARS = 4_000_000


def _batched(it: Iterable[Row], n: int, max_chars: int = BATCH_CHARS) -> Iterator[list[Row]]:
    batch: list[Row] = []
    chars = 0
    for x in it:
        batch.append(x)
        chars += x.size
        if len(batch) >= n or chars >= max_chars:
            yield batch
            batch, chars = [], 0
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


def _parsed(parser: RowParser, lines) -> Iterator[Row]:
    check_unique = parser.check_unique
    for number, values, formulas in lines:
        row = parser.parse(number, values, formulas)
        check_unique(row)
        yield row


def _nothing(_rows) -> None:
    pass


# --- worker processes --------------------------------------------------------------------------
#
# For a big file, parsing the cells and the handler's ``prepare`` (encryption, blind indexes: most
# of the Python time per row) run in worker processes, so they use more than one core despite the
# GIL. The parent alone reads the file (with its limits), checks duplicates in file order, and
# talks to the database; the workers are forked before the transaction opens and never use a
# database connection (any query there raises). A small file, or BIHUAN_IMPORT_WORKERS = 0, keeps
# the single reader thread: forking costs more than it saves below a few tens of thousands of rows.

POOL_MIN_ROWS = 20_000


def import_workers() -> int:
    """Worker processes for a big import (setting or environment BIHUAN_IMPORT_WORKERS). By default
    the cores left once PostgreSQL's backend and the writing process have one each: none on 2 cores,
    where workers were measured to cost more CPU than they take off the parent (docs/performance.md)."""
    raw = getattr(settings, "BIHUAN_IMPORT_WORKERS", None)
    if raw is None:
        raw = os.environ.get("BIHUAN_IMPORT_WORKERS") or None
    return max(0, int(raw)) if raw is not None else max(0, (os.cpu_count() or 1) - 2)


def _workers(handler: ImportHandler, n_rows: int) -> int:
    if not handler.parallel_prepare or n_rows < POOL_MIN_ROWS:
        return 0
    if "fork" not in multiprocessing.get_all_start_methods() or multiprocessing.current_process().daemon:
        return 0  # no fork (not POSIX), or a daemon process, which may not have children
    return import_workers()


_child: tuple | None = None  # (parser, prepare) in a worker process


def _no_database(*_args, **_kw):
    raise RuntimeError("an import worker process must not use the database")


def _child_init(parser: RowParser, prepare: Callable, language: str | None) -> None:
    global _child
    _child = (parser, prepare)
    if language:
        translation.activate(language)  # messages in the importer's language
    # The connection objects inherited by the fork are the parent's: never used (nor closed) here.
    for conn in connections.all():
        conn.execute_wrappers.append(_no_database)


def _child_work(lines: list) -> list[tuple]:
    parser, prepare = _child
    rows = [parser.parse(*line) for line in lines]
    prepare(rows)
    # Plain tuples travel back several times cheaper than Row objects (unpickled in the parent,
    # whose time is the import's bottleneck); the values in the spec's key order.
    return [(r.number, tuple(r.values.values()), r.errors, r.prepared, r.size) for r in rows]


def _start_pool(workers: int, parser: RowParser, prepare: Callable):
    """Fork the workers now, from this thread, before any other thread of the import exists."""
    from concurrent.futures import ProcessPoolExecutor

    # Frozen objects are never scanned by a worker's garbage collector, which would otherwise touch
    # (and so copy, page by page) the whole inherited heap.
    gc.freeze()
    try:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_child_init, initargs=(parser, prepare, translation.get_language()))
        pool.submit(_nothing, None).result()  # with fork, the first submit starts every worker
    except OSError:
        return None  # cannot fork (limits): the reader thread does the work
    finally:
        gc.unfreeze()
    return pool


def _pooled_batches(pool, workers: int, parser: RowParser, lines, batch_rows: int) -> Iterator[list[Row]]:
    """Batches parsed and prepared by the workers, in file order, duplicates checked here."""
    pending: deque = deque()
    check_unique = parser.check_unique

    keys = tuple(parser.template)

    def done(future) -> list[Row]:
        rows = [Row(number, dict(zip(keys, values, strict=True)), errors, prepared, size)
                for number, values, errors, prepared, size in future.result()]
        for r in rows:
            check_unique(r)
        return rows

    try:
        chunk: list = []
        chars = 0
        for line in lines:
            chunk.append(line)
            try:
                chars += sum(map(len, line[1]))  # a CSV's cells: all text
            except TypeError:
                chars += sum(len(v) for v in line[1] if v.__class__ is str)
            if len(chunk) >= batch_rows or chars >= BATCH_CHARS:
                pending.append(pool.submit(_child_work, chunk))
                chunk, chars = [], 0
                if len(pending) > workers:  # one batch waiting beyond those being worked on
                    yield done(pending.popleft())
        if chunk:
            pending.append(pool.submit(_child_work, chunk))
        while pending:
            yield done(pending.popleft())
    finally:
        for f in pending:
            f.cancel()


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
    # Only the errors of bad rows are kept (by row number), not their values: a file of
    # 500,000 bad rows must not keep 500,000 rows in memory.
    seen: dict[int, list[RowError]] = {}
    pool = None
    try:
        # The whole file is read once with every limit BEFORE the transaction opens (on SQLite
        # it takes the only write lock at BEGIN): a hostile, broken or oversized file is refused
        # here without holding the lock, so nobody else's writes wait on it.
        n_rows = check_source(source, limits=read_limits())
        lines = iter_source(source, read_limits(timed=False))
        parser = RowParser(kind.spec, next_header(kind.spec, lines))
        lines = data_rows(lines)
        workers = _workers(handler, n_rows)
        if workers:
            pool = _start_pool(workers, parser, handler.prepare)
        with transaction.atomic():
            if pool is not None:
                batches = _read_ahead(_pooled_batches(pool, workers, parser, lines, handler.batch_rows),
                                      _nothing)
            else:
                batches = _read_ahead(_batched(_parsed(parser, lines), handler.batch_rows), handler.prepare)
            try:
                for batch in batches:
                    result.total += len(batch)
                    handler.feed(batch)
                    for r in batch:
                        if r.errors:
                            seen[r.number] = r.errors
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
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    if not result.applied and not dry_run:
        # Refused: nothing was written, whatever the rows would have done.
        result.created = result.updated = result.unchanged = 0
        _audit(kind, result, handler, now)
    return result


def _collect(result: ImportResult, handler: ImportHandler, seen: dict[int, list[RowError]]) -> None:
    rows = dict(seen)  # the same lists as the rows' own: errors added after feed are in them
    for r in handler.ctx.failed:
        rows[r.number] = r.errors
    for number in sorted(rows):
        if rows[number]:
            result.invalid_rows.add(number)
            result.errors.extend(rows[number])


def _audit(kind: Kind, result: ImportResult, handler: ImportHandler, now) -> None:
    extra = result.summary()
    extra["errors"] = [e.as_dict() for e in result.errors[:50]]  # a sample; the report has all
    audit.record(f"{kind.permission_prefix}.import", object_type=kind.name, object_id=result.sha256[:16],
                 unit=handler.audit_unit(), extra=extra, now=now)
