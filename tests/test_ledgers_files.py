"""File fields of registers: upload through the form and the API, checked by content (hostile
files refused, nothing written), download only through the entry in scope (audited), XLSX export
shows the name, import cannot set a file."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from bihuan.core import tabular as tb
from bihuan.core.models import AuditEntry
from bihuan.ledgers import services
from bihuan.ledgers.models import Entry, EntryFile
from bihuan.ledgers.tabular import kind_for
from tests.ledgers_helpers import coop, load

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _docx(extra: dict | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def reg(tree):
    r = load()["cooperatives"]
    fields = [*r.live_fields(), {"key": "charter", "label": "章程", "type": "file"}]
    return services.change_register(None, r, version=r.version, fields=fields)


def _new(client, tree, reg, name, content):
    return client.post(f"/ledgers/r/{reg.code}/new/", {
        "unit": tree.lumiao.pk, "name": "新社", "kind": "种植", "members": "12",
        "charter": SimpleUploadedFile(name, content)})


def test_upload_on_the_form_download_in_scope_and_audited(client, tree, users, reg):
    client.force_login(users.lumiao_secretary)
    assert _new(client, tree, reg, "章程.pdf", PDF).status_code == 302
    e = Entry.objects.get()
    assert e.data["charter"] == "章程.pdf"
    f = EntryFile.objects.get()
    assert f.content_type == "application/pdf" and f.size == len(PDF)
    page = client.get(f"/ledgers/entries/{e.pk}/").content.decode()
    assert f"/ledgers/entries/{e.pk}/files/charter/" in page
    resp = client.get(f"/ledgers/entries/{e.pk}/files/charter/")
    assert resp.status_code == 200 and b"".join(resp.streaming_content) == PDF
    assert resp["X-Content-Type-Options"] == "nosniff"
    assert AuditEntry.objects.filter(action="ledgers.entry.file", object_id=str(e.pk)).exists()
    client.force_login(users.yanzhou_admin)
    assert client.get(f"/ledgers/entries/{e.pk}/files/charter/").status_code == 404
    client.force_login(users.lumiao_secretary)
    assert client.get(f"/ledgers/entries/{e.pk}/files/name/").status_code == 404
    # editing without a new file keeps it; a new file replaces it, the old name in the history
    r = client.post(f"/ledgers/entries/{e.pk}/", {"version": 1, "name": "新社", "kind": "种植", "members": "13"})
    assert r.status_code == 302
    e.refresh_from_db()
    assert e.data["charter"] == "章程.pdf"
    r = client.post(f"/ledgers/entries/{e.pk}/", {"version": 2, "name": "新社", "kind": "种植", "members": "13",
                                                  "charter": SimpleUploadedFile("新章程.docx", _docx())})
    assert r.status_code == 302
    e.refresh_from_db()
    assert e.data["charter"] == "新章程.docx" and EntryFile.objects.count() == 2
    assert "章程.pdf → 新章程.docx" in client.get(f"/ledgers/entries/{e.pk}/").content.decode()


@pytest.mark.parametrize("name,content", [
    ("a.pdf", b"MZ\x90\x00 not a pdf"),  # the name lies
    ("a.exe", b"MZ\x90\x00"),
    ("a.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40),  # does not parse
    ("a.docx", b"PK\x03\x04 broken"),
    ("a.docx", None),  # a zip bomb: unpacks far beyond the limit
    ("a.pdf", b""),
])
def test_hostile_files_are_refused_and_nothing_is_written(client, tree, users, reg, name, content):
    if content is None:
        content = _docx({"word/media/big.bin.txt": b"\x00" * (60 * 1024 * 1024)})
    client.force_login(users.lumiao_secretary)
    r = _new(client, tree, reg, name, content)
    assert r.status_code == 400, r.status_code
    assert "field-error-charter" in r.content.decode() or "charter" in r.content.decode()
    assert not Entry.objects.exists() and not EntryFile.objects.exists()


def test_api_upload_download_conflict_and_scope(client, tree, users, reg, token_for):
    e = services.create_entry(None, reg, unit=tree.lumiao, values=coop())
    auth = token_for(users.lumiao_secretary)
    url = f"/api/v1/registers/{reg.code}/entries/{e.pk}/files/charter"
    r = client.post(url, {"version": 1, "file": SimpleUploadedFile("c.pdf", PDF)}, **auth)
    assert r.status_code == 200, r.content
    assert r.json()["data"]["charter"] == "c.pdf" and r.json()["version"] == 2
    assert client.post(url, {"version": 1, "file": SimpleUploadedFile("d.pdf", PDF)}, **auth).status_code == 409
    bad = client.post(url, {"version": 2, "file": SimpleUploadedFile("d.pdf", b"GIF89a")}, **auth)
    assert bad.status_code == 400
    assert client.post(url.replace("charter", "name"), {"version": 2, "file": SimpleUploadedFile("d.pdf", PDF)},
                       **auth).status_code == 400
    got = client.get(url, **auth)
    assert got.status_code == 200 and b"".join(got.streaming_content) == PDF
    other = token_for(users.yanzhou_admin)
    assert client.get(url, **other).status_code == 404
    assert client.post(url, {"version": 2, "file": SimpleUploadedFile("d.pdf", PDF)}, **other).status_code == 404
    # a name typed as JSON is refused (files are uploaded)
    r = client.post(f"/api/v1/registers/{reg.code}/entries", {"unit": tree.lumiao.code,
                    "data": coop(name="另一社", charter="x.pdf")}, content_type="application/json", **auth)
    assert r.status_code == 400 and "charter" in r.content.decode()
    schema = client.get(f"/api/v1/registers/{reg.code}/schema", **auth).json()
    assert schema["properties"]["charter"]["x-file"] is True


def test_export_shows_the_name_and_import_cannot_set_a_file(tree, users, reg, tmp_path):
    from bihuan.ledgers import files

    e = services.create_entry(None, reg, unit=tree.lumiao,
                              values={**coop(), "charter": files.Upload("章程.pdf", PDF)})
    kind = kind_for(reg)
    buf = io.BytesIO()
    tb.export(kind, buf, user=users.city_admin)
    rows = [list(r) for r in openpyxl.load_workbook(io.BytesIO(buf.getvalue())).active.iter_rows(values_only=True)]
    col = rows[0].index("章程")
    assert rows[1][col] == "章程.pdf"
    p = tmp_path / "back.xlsx"
    p.write_bytes(buf.getvalue())
    result = tb.run_import(kind, tb.open_source(str(p)), user=users.city_admin)
    assert result.ok and result.unchanged == 1  # the round trip
    rows[1][col] = "别的.pdf"
    rows.append([None, tree.lumiao.code, "又一社", "种植", 3, None, None, None, None, None, "x.pdf"][:len(rows[0])])
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)
    wb.save(p)
    result = tb.run_import(kind, tb.open_source(str(p)), user=users.city_admin)
    assert not result.ok and len(result.errors) == 2
    assert all("导入" in str(err) or "import" in str(err).lower() for err in result.errors)
    e.refresh_from_db()
    assert e.data["charter"] == "章程.pdf" and Entry.objects.count() == 1
