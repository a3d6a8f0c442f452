"""Documents for download: PDF and DOCX, one way for every app.

Rule: a PDF is HTML rendered by WeasyPrint with the Noto CJK fonts (Chinese must never come out as
boxes), A4, page numbers in the footer; a DOCX is built with python-docx and uses the same CJK font
name so Word and WPS pick it. Apps build their HTML from a template and call ``html_to_pdf``; they do
not import WeasyPrint themselves. Rendering never fetches anything over the network: the URL
fetcher refuses every URL except ``data:`` (images are embedded as data URIs).
"""

from __future__ import annotations

import io

CJK_FONT = "Noto Serif CJK SC"
CJK_SANS = "Noto Sans CJK SC"

# Official-document look: A4, 2.5 cm margins, page number centred at the foot.
BASE_CSS = f"""
@page {{ size: A4; margin: 2.5cm 2.2cm 2.4cm 2.2cm;
        @bottom-center {{ content: "— " counter(page) " —"; font-family: "{CJK_FONT}"; font-size: 10pt; }} }}
html {{ font-family: "{CJK_FONT}", "{CJK_SANS}", serif; font-size: 12pt; line-height: 1.6; }}
h1, h2, h3, th {{ font-family: "{CJK_SANS}", "{CJK_FONT}", sans-serif; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #444; padding: 2pt 4pt; font-size: 10.5pt; }}
img {{ max-width: 100%; }}
"""


def _weasyprint():
    """Import WeasyPrint, undoing the one global it changes.

    Importing it sets Pillow's ``ImageFile.LOAD_TRUNCATED_IMAGES = True`` for the whole process, and
    then ``loop.images.check_image`` would accept a truncated photo once any PDF had been made. Our
    PDFs embed only images we draw ourselves, so nothing here needs truncated images loaded.
    """
    import weasyprint
    from PIL import ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    return weasyprint


def _fetcher():
    """WeasyPrint's fetcher limited to ``data:`` URLs: no file, http or ftp is ever opened."""
    _weasyprint()
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols={"data"}, allow_redirects=False, timeout=1)


def html_to_pdf(html: str, *, extra_css: str = "", compress: bool = True) -> bytes:
    """The PDF of ``html`` (a whole document or a fragment) with the CJK font and page numbers."""
    weasyprint = _weasyprint()
    CSS, HTML = weasyprint.CSS, weasyprint.HTML
    sheets = [CSS(string=BASE_CSS)]
    if extra_css:
        sheets.append(CSS(string=extra_css))
    return HTML(string=html, url_fetcher=_fetcher(), base_url="data:,").write_pdf(
        stylesheets=sheets, uncompressed_pdf=not compress
    )


def new_docx():
    """A python-docx ``Document`` whose default style uses the CJK font (east-Asian run fonts too)."""
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = CJK_FONT
    style.font.size = Pt(12)
    rpr = style.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    rfonts.set(qn("w:eastAsia"), CJK_FONT)
    return doc


def docx_bytes(doc) -> bytes:
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
