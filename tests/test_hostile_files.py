"""Hostile import files are refused cheaply: a corpus generated here, each file read by the real
reader in a separate process, which must refuse it within a time and peak-memory bound.

The corpus (issue 11 §2): zip bombs of each kind (a huge shared string, a huge cell, millions of
shared strings, millions of blank rows, a ratio bomb, too many entries, odd entries), a cell far
to the right (XFD1048576), deep XML nesting, bad encodings, billion laughs; and for CSV a
line without end, millions of rows and of blank lines, NUL bytes, UTF-16 and undecodable bytes.
The measured figures are in docs/import-export.md ("Hostile files").
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from bihuan.core import tabular as tb

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
STORED, DEFLATED = 0, 8
# Bounds: generous for a shared 2-core machine; the figures measured are far below them.
SECONDS, PEAK_MB = 45.0, 300

# --- a minimal zip writer (zipfile cannot write pre-compressed data, which a bomb needs) -------


def _deflate(chunks) -> tuple[bytes, int, int]:
    """Raw deflate of ``chunks`` (bytes or an iterable), with CRC-32 and size."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    out, crc, size = [], 0, 0
    for chunk in [chunks] if isinstance(chunks, bytes) else chunks:
        crc, size = zlib.crc32(chunk, crc), size + len(chunk)
        out.append(c.compress(chunk))
    out.append(c.flush())
    return b"".join(out), crc, size


def _repeat_bomb(block: bytes, times: int) -> tuple[bytes, int, int]:
    """Deflate of ``block`` × ``times`` made from one compressed block (full flush repeats)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # an empty final block
    return piece * times + tail, 0, len(block) * times  # CRC left 0: refused before it matters


def write_zip(path: Path, entries: list[tuple[str, bytes, int, int, int]]) -> Path:
    """entries: (name, data as stored in the zip, method, crc, unpacked size)."""
    central = []
    with open(path, "wb") as f:
        for name, data, method, crc, size in entries:
            offset, n = f.tell(), name.encode()
            f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), size, len(n), 0))
            f.write(n + data)
            central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(data),
                                       size, len(n), 0, 0, 0, 0, 0, offset) + n)
        cd = b"".join(central)
        offset = f.tell()
        f.write(cd)
        count = min(len(entries), 0xFFFF)
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(cd), offset, 0))
    return path


def _part(name: str, data: bytes, method: int = DEFLATED):
    if method == STORED:
        return name, data, STORED, zlib.crc32(data), len(data)
    raw, crc, size = _deflate(data)
    return name, raw, DEFLATED, crc, size


ROWS_XML = '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>编码</t></is></c></row></sheetData>'


def sheet(body: str = ROWS_XML, head: str = '<?xml version="1.0" encoding="UTF-8"?>') -> bytes:
    return f'{head}<worksheet xmlns="{MAIN}">{body}</worksheet>'.encode()


def workbook(path: Path, sheet_part=None, shared_part=None, extra=()) -> Path:
    """A workbook whose sheet (and shared strings) are the given zip entries."""
    rels = (f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/worksheet" '
            f'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{REL}/sharedStrings" '
            f'Target="sharedStrings.xml"/></Relationships>')
    entries = [
        _part("[Content_Types].xml", b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'),
        _part("_rels/.rels", f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/officeDocument" '
                             f'Target="xl/workbook.xml"/></Relationships>'.encode()),
        _part("xl/workbook.xml", f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets><sheet name="S" sheetId="1" '
                                 f'r:id="rId1"/></sheets></workbook>'.encode()),
        _part("xl/_rels/workbook.xml.rels", rels.encode()),
        sheet_part or _part("xl/worksheets/sheet1.xml", sheet()),
    ]
    if shared_part:
        entries.append(shared_part)
    return write_zip(path, entries + list(extra))


SHEET = "xl/worksheets/sheet1.xml"
SST = "xl/sharedStrings.xml"
SST_HEAD = f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN}">'.encode()
ONE_SHARED = sheet('<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData>')


def _shared_many(n: int):
    yield SST_HEAD
    for start in range(0, n, 100_000):
        yield "".join(f"<si><t>{i}</t></si>" for i in range(start, min(n, start + 100_000))).encode()
    yield b"</sst>"


def _blank_rows(n: int):
    yield sheet("")[:-len(b"</worksheet>")] + b"<sheetData>"
    for start in range(1, n, 100_000):
        yield "".join(f'<row r="{i}"/>' for i in range(start, min(n, start + 100_000))).encode()
    yield b"</sheetData></worksheet>"


def _deflated(name, chunks):
    raw, crc, size = _deflate(chunks)
    return name, raw, DEFLATED, crc, size


BIG = 90 * 1024 * 1024  # under the 100 MB upload limit, stored (no compression): passes the archive checks
LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;'
          '&lol;&lol;&lol;&lol;"><!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]>')

def _bomb_string(p):
    sst = (SST, _repeat_bomb(b"A" * (1 << 24), 96)[0], DEFLATED, 0, 96 << 24)
    return workbook(p, _part(SHEET, ONE_SHARED), sst)


def _stored_string(p):
    return workbook(p, _part(SHEET, ONE_SHARED), _part(SST, SST_HEAD + b"<si><t>" + b"A" * BIG + b"</t></si></sst>",
                                                       STORED))


def _stored_cell(p):
    cell = "囧" * (BIG // 3)
    body = f'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>{cell}</t></is></c></row></sheetData>'
    return workbook(p, _part(SHEET, sheet(body), STORED))


def _ratio_bomb(p):
    return workbook(p, (SHEET, _repeat_bomb(b"<row/>" * 100_000, 1000)[0], DEFLATED, 0, 600_000 * 1000))


def _far_right(p):
    return workbook(p, _part(SHEET, sheet('<sheetData><row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
                                          '</sheetData>')))


def _deep(p):
    body = "<sheetData>" + "<x>" * 1_000_000 + "</x>" * 1_000_000 + "</sheetData>"
    return workbook(p, _part(SHEET, sheet(body), STORED))  # stored: the ratio check would refuse it first


def _laughs(p):
    xml = (LAUGHS + f'<worksheet xmlns="{MAIN}"><sheetData><row><c t="inlineStr"><is><t>&lol2;</t></is></c></row>'
           "</sheetData></worksheet>")
    return workbook(p, _part(SHEET, xml.encode()))


XLSX_CORPUS = {
    # name: (builder(path) -> path, the limit that must refuse it)
    "shared string of 1.5 GB (deflate bomb)": (_bomb_string, "max_unpacked_bytes"),
    "shared string of 90 MB (stored)": (_stored_string, "max_cell_chars"),
    "cell of 90 MB (stored)": (_stored_cell, "max_cell_chars"),
    "5 million shared strings": (lambda p: workbook(p, _part(SHEET, ONE_SHARED),
                                                    _deflated(SST, _shared_many(5_000_000))), "max_shared_strings"),
    "3 million blank rows": (lambda p: workbook(p, _deflated(SHEET, _blank_rows(3_000_000))), "max_blank_rows"),
    "sheet of 600 MB of empty rows (ratio bomb)": (_ratio_bomb, "max_ratio"),
    "a cell at XFD1048576": (_far_right, "max_columns"),
    "XML nested a million deep": (_deep, "max_depth"),
    "billion laughs": (_laughs, "dtd"),
    "bad UTF-8 in the sheet": (
        lambda p: workbook(p, _part(SHEET, sheet().replace("编码".encode(), b"\xff\xfe\xc3("))), "bad_xml"),
    "sheet declared UTF-16, written UTF-8": (
        lambda p: workbook(p, _part(SHEET, sheet(head='<?xml version="1.0" encoding="UTF-16"?>'))), "bad_xml"),
    "100,000 zip entries": (
        lambda p: write_zip(p, [(f"e{i}", b"", STORED, 0, 0) for i in range(100_000)]), "max_entries"),
    "an entry outside the archive (../)": (
        lambda p: workbook(p, extra=[_part("../../etc/cron.d/x", b"x")]), "odd_entry"),
    "a nested archive": (
        lambda p: workbook(p, extra=[_part("xl/embeddings/inner.zip", b"PK\x05\x06" + bytes(18))]), "odd_entry"),
}


def _csv(lines_or_bytes):
    def build(p):
        with open(p, "wb") as f:
            data = lines_or_bytes() if callable(lines_or_bytes) else lines_or_bytes
            for chunk in [data] if isinstance(data, bytes) else data:
                f.write(chunk)
        return p
    return build


def _many_rows(n):
    yield "编码,名称\n".encode()
    for start in range(0, n, 100_000):
        yield "".join(f"{i},x\n" for i in range(start, min(n, start + 100_000))).encode()


CSV_CORPUS = {
    "CSV line of 90 MB": (_csv(b"a" * BIG), "max_row_chars"),
    "CSV field of 90 MB across lines": (_csv(b'"' + b"aaaaaaaaa\n" * (BIG // 10) + b'"'), "max_cell_chars"),
    "CSV of 5 million rows": (_csv(lambda: _many_rows(5_000_000)), "too_many_rows"),
    "CSV of 50 million blank lines": (_csv(b"\n" * 50_000_000), "max_blank_rows"),
    "CSV row of 100,000 columns": (_csv(b"," * 100_000), "max_columns"),
    "CSV with NUL bytes": (_csv("编码,名称\n1,a\x00b\n".encode()), "nul"),
    "CSV in UTF-16": (_csv("编码,名称\n1,a\n".encode("utf-16")), "utf16"),
    "CSV neither UTF-8 nor GB18030": (_csv(b"\x81\x30\xff\xff,\x80\n"), "bad_csv"),
}

PROBE = r"""
import json, os, sys, time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bihuan.settings")
import django
django.setup()
from django.utils import translation
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from bihuan.core import tabular as tb

def hwm_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

out = {}
for path in sys.argv[1:]:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak resident size: each file is measured on its own
    start = time.monotonic()
    try:
        with translation.override("en"):
            rows = tb.check_source(tb.open_source(path))
        result = {"rows": rows}
    except tb.TabularError as exc:
        result = {"error": str(exc.message), "code": exc.code}
    result["seconds"] = round(time.monotonic() - start, 2)
    result["peak_mb"] = round(hwm_mb(), 1)
    out[path] = result
print(json.dumps(out))
"""

# What each refusing limit says (English), to check the right limit refused the file.
SAYS = {
    "max_unpacked_bytes": "unpacks to more than", "max_cell_chars": "A cell holds more than",
    "max_shared_strings": "distinct texts", "max_blank_rows": "blank rows", "max_ratio": "compressed more than",
    "max_columns": "beyond column", "max_depth": "nested more than", "dtd": "DTD", "bad_xml": "not well-formed",
    "max_entries": "parts", "odd_entry": "never has", "max_row_chars": "A row holds more than",
    "too_many_rows": "more than 500000 rows", "max_rows": "rows (blank rows included)", "nul": "NUL",
    "utf16": "UTF-16", "bad_csv": "cannot be read",
}


def _probe(paths: list[Path]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIHUAN_IMPORT_")}
    proc = subprocess.run([sys.executable, "-c", PROBE, *map(str, paths)], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parent.parent, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _run_corpus(tmp_path, corpus, ext):
    paths = {}
    for i, (name, (build, _limit)) in enumerate(corpus.items()):
        paths[name] = build(tmp_path / f"hostile{i}.{ext}")
        assert paths[name].stat().st_size <= tb.max_import_bytes(), name  # every file is within the upload limit
    results = _probe(list(paths.values()))
    report = []
    for name in corpus:
        r = results[str(paths[name])]
        report.append(f"{name}: {paths[name].stat().st_size / 1e6:.2f} MB, {r['seconds']} s, {r['peak_mb']} MB peak, "
                      f"{r.get('code')}")
    print("\n" + "\n".join(report))  # the figures in docs/import-export.md come from here (pytest -s)
    for name, (_build, limit) in corpus.items():
        r = results[str(paths[name])]
        assert "error" in r, f"{name} was not refused: {r}"
        assert SAYS[limit] in r["error"], f"{name}: refused for another reason: {r['error']}"
        assert r["seconds"] < SECONDS, f"{name} took {r['seconds']} s"
        assert r["peak_mb"] < PEAK_MB, f"{name} peaked at {r['peak_mb']} MB"


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc to measure peak memory")
def test_hostile_xlsx_files_are_refused_in_seconds_and_bounded_memory(tmp_path):
    _run_corpus(tmp_path, XLSX_CORPUS, "xlsx")


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc to measure peak memory")
def test_hostile_csv_files_are_refused_in_seconds_and_bounded_memory(tmp_path):
    _run_corpus(tmp_path, CSV_CORPUS, "csv")


def test_a_hostile_file_is_refused_before_any_database_work(db, tmp_path):
    """The file is read before the import's transaction opens (on SQLite, BEGIN IMMEDIATE takes
    the only write lock): refusing it runs no query at all."""
    path = _blank_rows_file(tmp_path)
    with CaptureQueriesContext(connection) as queries:
        result = tb.run_import("orgs", tb.open_source(path), dry_run=True)
    assert "blank rows" in result.file_error or "空行" in result.file_error
    assert [q["sql"] for q in queries.captured_queries] == []


def _blank_rows_file(tmp_path):
    return workbook(tmp_path / "blank.xlsx", _deflated(SHEET, _blank_rows(200_000)))


def test_the_refusal_is_in_the_users_language(tmp_path, settings):
    settings.BIHUAN_IMPORT_MAX_COLUMNS = 5  # a limit is a setting
    path = workbook(tmp_path / "wide.xlsx", _part(SHEET, sheet('<sheetData><row r="1"><c r="F1"><v>1</v></c></row>'
                                                               "</sheetData>")))
    for language, says in (("zh-hans", "第 5 列"), ("en", "beyond column 5")):
        with translation.override(language), pytest.raises(tb.TabularError) as exc:
            tb.check_source(tb.open_source(path))
        assert says in str(exc.value.message) and exc.value.code == "too_big"
