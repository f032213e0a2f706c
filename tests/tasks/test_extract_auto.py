"""The "auto" engine's choice between pdfium's read and pypdf's (tasks/extract.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pypdf
import pypdfium2
import pytest

from docjobs.jobs.errors import CorruptPdf, UnsupportedPdf
from docjobs.tasks import extract_pdfium, extract_pypdf
from docjobs.tasks.extract import Extraction, PageText, extract_pages
from tests.support.pdfs import write_image_pdf, write_text_pdf


def read(texts: list[str], failed: tuple[int, ...] = (), engine: str = "pdfium") -> Extraction:
    pages = [PageText(n, text) for n, text in enumerate(texts, 1)]
    return Extraction(pages, list(failed), engine=engine)


class Engines:
    """Stand-ins for the two engines: pdfium's read as given, pypdf's read or error as given."""

    def __init__(self, pdfium: Extraction, pypdf: Extraction | Exception) -> None:
        self.pdfium, self.pypdf = pdfium, pypdf
        self.pypdf_asked = 0

    def read_pdfium(self, path: Path, **kwargs: Any) -> Extraction:
        return self.pdfium

    def read_pypdf(self, path: Path, **kwargs: Any) -> Extraction:
        self.pypdf_asked += 1
        if isinstance(self.pypdf, Exception):
            raise self.pypdf
        return self.pypdf


@pytest.fixture
def engines(monkeypatch: pytest.MonkeyPatch) -> Any:
    def install(pdfium: Extraction, pypdf: Extraction | Exception) -> Engines:
        fake = Engines(pdfium, pypdf)
        monkeypatch.setattr(extract_pdfium, "extract_with_pdfium", fake.read_pdfium)
        monkeypatch.setattr(extract_pypdf, "extract_with_pypdf", fake.read_pypdf)
        return fake

    return install


def auto(tmp_path: Path) -> Extraction:
    return extract_pages(tmp_path / "any.pdf", max_pages=100, engine="auto")


def test_a_good_pdfium_read_is_not_second_guessed(tmp_path: Path, engines: Any) -> None:
    fake = engines(read(["plenty of text on this page, " * 3] * 4), CorruptPdf("no"))
    assert auto(tmp_path).engine == "pdfium"
    assert fake.pypdf_asked == 0


def test_an_empty_read_of_a_file_pypdf_cannot_open_is_a_damaged_file(
    tmp_path: Path, engines: Any
) -> None:
    engines(read(["", ""]), CorruptPdf("startxref not found"))
    with pytest.raises(CorruptPdf, match="startxref"):
        auto(tmp_path)


def test_a_read_that_lost_half_its_pages_gives_way_to_pypdfs_refusal(
    tmp_path: Path, engines: Any
) -> None:
    engines(read(["Testcase: Pages loop", ""], failed=(2,)), UnsupportedPdf("cyclic"))
    with pytest.raises(UnsupportedPdf):
        auto(tmp_path)


def test_text_from_most_pages_stands_although_pypdf_cannot_open_the_file(
    tmp_path: Path, engines: Any
) -> None:
    engines(read(["some text here"] * 3 + [""], failed=(4,)), CorruptPdf("no"))
    result = auto(tmp_path)
    assert result.engine == "pdfium" and result.failed_pages == [4]


def test_a_little_text_stands_although_pypdf_cannot_open_the_file(
    tmp_path: Path, engines: Any
) -> None:
    engines(read(["Name"]), CorruptPdf("no"))
    assert auto(tmp_path).chars == 4


def test_pypdfs_read_wins_with_fewer_failed_pages(tmp_path: Path, engines: Any) -> None:
    engines(read(["", "", "x"], failed=(1, 2)), read(["a", "", "b"], failed=(2,), engine="pypdf"))
    assert auto(tmp_path).engine == "pypdf"


def test_pypdfs_read_wins_with_more_text_and_loses_a_tie(tmp_path: Path, engines: Any) -> None:
    engines(read([""]), read(["Background"], engine="pypdf"))
    assert auto(tmp_path).engine == "pypdf"
    engines(read(["Name"]), read(["Name"], engine="pypdf"))
    assert auto(tmp_path).engine == "pdfium"


def test_pypdf_is_not_asked_by_the_pdfium_engine(tmp_path: Path, engines: Any) -> None:
    fake = engines(read([""]), CorruptPdf("no"))
    assert extract_pages(tmp_path / "any.pdf", max_pages=9, engine="pdfium").chars == 0
    assert fake.pypdf_asked == 0


@pytest.mark.parametrize("kind", ["scan", "short text"])
def test_the_two_engines_never_hold_the_file_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    if kind == "scan":
        path = write_image_pdf(tmp_path / "scan.pdf", pages=3)
    else:
        path = write_text_pdf(tmp_path / "short.pdf", ["Name", "Date"])
    open_documents: set[int] = set()
    documents: list[int] = []
    readers: list[int] = []

    class TrackedDocument(pypdfium2.PdfDocument):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            open_documents.add(id(self))
            documents.append(1)

        def close(self) -> None:
            open_documents.discard(id(self))
            super().close()

    class TrackedReader(pypdf.PdfReader):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            assert not open_documents, "pypdf opened the file while pdfium still held it"
            readers.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(pypdfium2, "PdfDocument", TrackedDocument)
    monkeypatch.setattr(pypdf, "PdfReader", TrackedReader)
    extract_pages(path, max_pages=100, engine="auto")
    assert documents and readers, "pdfium reads first, and a poor read gets pypdf's opinion"


def test_a_page_range_gets_a_second_opinion_of_that_range(tmp_path: Path) -> None:
    path = write_image_pdf(tmp_path / "scan.pdf", pages=4)
    result = extract_pages(path, max_pages=100, engine="auto", first_page=2, last_page=3)
    assert [page.number for page in result.page_texts] == [2, 3]
    assert result.no_text_layer and result.unreadable is None
