"""Generated text PDFs for the many-page cases (fpdf2), cached in bench/.cache/ (gitignored).

A page is about 45 lines of 12 words (~3,600 characters), about what a page of the corpus's
pdfTeX files holds; each page starts with "Page N markerNx" so order can be checked.
"""

from __future__ import annotations

import os
from pathlib import Path

from fpdf import FPDF

from tests.support.pdfs import VOCABULARY

CACHE = Path(__file__).resolve().parent / ".cache"
LINES_PER_PAGE = 45
WORDS_PER_LINE = 12
# Bump when the generator changes, so a stale cached file is never measured.
VERSION = 1


def line_text(page: int, line: int) -> str:
    return " ".join(
        VOCABULARY[(page * 7 + line * 5 + i * 3) % len(VOCABULARY)] for i in range(WORDS_PER_LINE)
    )


def text_pdf(pages: int) -> Path:
    """The cached `pages`-page PDF, written on first use (about 0.6 s per 1,000 pages)."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"text-{pages}p-v{VERSION}.pdf"
    if path.exists():
        return path
    pdf = FPDF()
    pdf.set_font("helvetica", size=10)
    for page in range(1, pages + 1):
        pdf.add_page()
        # text() places each line itself: multi_cell's wrapping is ~15x slower to generate.
        pdf.text(20, 15, f"Page {page} marker{page}x")
        for line in range(LINES_PER_PAGE):
            pdf.text(20, 25 + line * 5.5, line_text(page, line))
    partial = path.with_suffix(f".{os.getpid()}.part")
    pdf.output(str(partial))
    partial.replace(path)
    return path
