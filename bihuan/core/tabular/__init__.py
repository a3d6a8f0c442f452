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

One module per part, in dependency order: ``base`` (errors, modes, constants), ``parsers``
(column parsers), ``spec`` (columns, header match), ``values`` (formula neutralising),
``source`` (the stored file), ``limits`` (what reading a file may cost), ``readers`` (XLSX/CSV rows), ``rows`` (row parsing),
``registry`` (kinds), ``importer`` (``run_import``), ``writers`` (XLSX/CSV, error report,
``export``). Callers use the package: ``from bihuan.core import tabular as tb``.
"""

from ..errors import ServiceError
from .base import (
    ATOMIC,
    BATCH_ROWS,
    DANGEROUS_PREFIXES,
    ERROR_HEADER,
    FORMATS,
    IGNORED_HEADERS,
    VALID_ONLY,
    CellError,
    Progress,
    TabularError,
)
from .importer import PREFETCH_BATCHES, ImportContext, ImportHandler, ImportResult, run_import
from .limits import read_limits
from .parsers import _as_text, as_text, boolean, choice, decimal, integer, parse_date, text
from .readers import iter_csv, iter_source, iter_xlsx
from .registry import Kind, can, cli_user, get_kind, kinds, register
from .rows import Row, RowError, check_source, parse_rows
from .source import Source, check_size, format_of, max_import_bytes, open_source, sha256_of, store_upload
from .spec import Column, Spec
from .values import neutralise
from .writers import export, spec_rows, write_csv, write_error_report, write_table, write_xlsx

__all__ = [
    "ATOMIC", "BATCH_ROWS", "DANGEROUS_PREFIXES", "ERROR_HEADER", "FORMATS", "IGNORED_HEADERS",
    "PREFETCH_BATCHES", "VALID_ONLY", "CellError", "Column", "ImportContext", "ImportHandler", "ImportResult",
    "Kind", "Progress", "Row", "RowError", "ServiceError", "Source", "Spec", "TabularError", "_as_text",
    "as_text", "boolean", "can", "check_size", "check_source", "read_limits", "choice", "cli_user", "decimal", "export", "format_of",
    "get_kind", "integer", "iter_csv", "iter_source", "iter_xlsx", "kinds", "max_import_bytes",
    "neutralise", "open_source", "parse_date", "parse_rows", "register", "run_import", "sha256_of",
    "spec_rows", "store_upload", "text", "write_csv", "write_error_report", "write_table", "write_xlsx",
]
