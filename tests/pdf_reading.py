"""Reading a PDF as a viewer does: PDFium (pypdfium2) extracts its text and renders its pages.

pypdf's extractor misreads the widths of the embedded CJK font's subset (it ignores the font's code-to-CID
map) and puts a space between every two characters; PDFium, the engine of Chrome's viewer, reads it right.
"""

from __future__ import annotations

from typing import Any


def pdf_text(data: bytes) -> str:
    """The text of every page, pages separated by a form feed."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    try:
        return "\f".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    finally:
        document.close()


def pdf_page_image(data: bytes, page: int = 0, scale: float = 3.0) -> Any:
    """A page as a Pillow image (scale 3: about 216 dpi, enough to decode a QR code)."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    try:
        return document[page].render(scale=scale).to_pil()
    finally:
        document.close()
