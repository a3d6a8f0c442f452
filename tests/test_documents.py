"""core.documents: PDFs carry the CJK font and never fetch; DOCX uses the CJK font."""

import io

import pytest

from bihuan.core import documents


def test_pdf_embeds_a_cjk_font_and_renders_chinese():
    pdf = documents.html_to_pdf("<h1>调度通报</h1><p>任城区 李营街道 芦庙村</p>", compress=False)
    assert pdf.startswith(b"%PDF")
    assert b"/FontFile" in pdf and (b"NotoSerifCJK" in pdf or b"NotoSansCJK" in pdf)


def test_pdf_refuses_external_resources():
    # An <img> pointing outside is dropped (WeasyPrint logs the refusal), never fetched.
    pdf = documents.html_to_pdf('<p>x</p><img src="file:///etc/passwd"><img src="http://127.0.0.1:9/">')
    assert pdf.startswith(b"%PDF")
    for url in ("file:///etc/passwd", "http://127.0.0.1:9/", "ftp://x/"):
        with pytest.raises(ValueError):
            documents._fetcher().fetch(url)


def test_docx_uses_the_cjk_font():
    from docx import Document

    doc = documents.new_docx()
    doc.add_paragraph("第1期 调度通报")
    data = documents.docx_bytes(doc)
    again = Document(io.BytesIO(data))
    assert again.paragraphs[0].text == "第1期 调度通报"
    assert again.styles["Normal"].font.name == documents.CJK_FONT
