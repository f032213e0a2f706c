"""The sample PDF the zero-config run shares, written on the spot (nothing binary is shipped)."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

PARAGRAPH = (
    "Revenue for the quarter rose on the strength of subscription renewals, while operating "
    "costs held steady. The finance team recommends keeping the hiring plan unchanged and "
    "revisiting the travel budget in the next review. "
)


def write_sample_pdf(path: Path, *, pages: int = 3, title: str = "Q3 report") -> Path:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for page in range(1, pages + 1):
        pdf.add_page()
        pdf.set_font("Helvetica", style="B", size=16)
        pdf.cell(0, 10, f"{title} - page {page} of {pages}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 7, PARAGRAPH * 6)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path
