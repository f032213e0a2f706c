"""Every real PDF in ../shared/corpus through the worker's pipeline, with each engine offered,
judged by MANIFEST.tsv.

The manifest's expected_behaviour starts with a category ("text_rtl: ..."); each category maps
to the outcome a person should see, whatever the engine. Only files whose pages break
(bad_page_error) may differ by engine, each as decided in PAGE_ERRORS. The corpus is required:
without it these tests fail.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from docjobs.settings import Settings
from docjobs.tasks.pipeline import NO_TEXT_LAYER, Outcome, local_job_id, process_local_file
from docjobs.tasks.store import ChunkStore

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("DOCJOBS_CORPUS", REPO.parent / "shared" / "corpus"))
CJK = re.compile(r"[\u4e00-\u9fff\u3040-\u30ff]")
ARABIC = re.compile(r"[\u0600-\u06ff]")

# The engines a deployment can choose (DOCJOBS_EXTRACT_ENGINE). "pdfium" alone is for
# comparisons only: it takes four damaged files here for empty ones (`python -m bench engines`).
ENGINES = ("pypdf", "auto")


@dataclass(frozen=True)
class PageErrors:
    """What one engine makes of a file whose pages break."""

    status: str
    reason_code: str = ""
    failed_pages: int = 0  # if it succeeds
    warning: str | None = None  # that the outcome must carry
    text: str | None = None  # that the stored chunks must hold


# What pypdf 7.1.1 and pypdfium2 5.15 really do with these files (checked one by one):
PAGE_ERRORS = {
    # one page, its content stream uses the /A85 filter name pypdf 7 removed (DeprecationError);
    # pdfium cannot open the file, so "auto" reads it with pypdf too
    "bad/poppler-395-0-fuzzed.pdf": {
        "pypdf": PageErrors("failed", "unsupported"),
        "auto": PageErrors("failed", "unsupported"),
    },
    # 16 pages with corrupt streams: pypdf fails on 14, the 2 it reads carry no text; pdfium
    # reads all 16, with (partly garbled) text on 3 of them, and "auto" keeps that better read
    "bad/poppler-90-0-fuzzed.pdf": {
        "pypdf": PageErrors(
            "succeeded", failed_pages=14, warning="14 of 16 pages could not be read."
        ),
        "auto": PageErrors("succeeded", text="Key Distribution"),
    },
    # one page: a text stream, then three content streams in JBIG2 claiming 1.16 GB each. pypdf
    # never runs jbig2dec (DependencyError); pdfium reads the text a viewer shows and finds no
    # text in the others (without decoding them into memory)
    "bad/bomb_giant.pdf": {
        "pypdf": PageErrors("failed", "unsupported"),
        "auto": PageErrors("succeeded", text="GIANT JBIG2 BOMB"),
    },
}
FAILS_AS = {
    "encrypted_needs_password": "encrypted",
    "corrupt_unreadable": "corrupt",
    "bad_parse_error": "corrupt",
    "bad_truncated": "corrupt",
    "bad_empty": "corrupt",
}


@dataclass(frozen=True)
class Row:
    file: str
    pages: str
    category: str


def manifest_rows() -> list[Row]:
    manifest = CORPUS / "MANIFEST.tsv"
    if not manifest.exists():
        return []
    with manifest.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        return [
            Row(r["file"], r["pages"], r["expected_behaviour"].split(":", 1)[0].strip())
            for r in reader
        ]


ROWS = manifest_rows()


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path_factory.mktemp(f"corpus-{engine}"))


def stored_text(settings: Settings, path: Path) -> str:
    chunks = ChunkStore(settings.store_path).load(local_job_id(path))
    return "\n".join(stored.chunk.text for stored in chunks)


def test_the_corpus_is_there() -> None:
    assert ROWS, (
        f"no corpus at {CORPUS} (MANIFEST.tsv missing): put ../shared beside the repo "
        "or point DOCJOBS_CORPUS at it"
    )


@pytest.mark.parametrize("row", ROWS, ids=[row.file for row in ROWS])
def test_corpus_file_gets_the_expected_outcome(row: Row, engine: str, settings: Settings) -> None:
    path = CORPUS / row.file
    outcome = process_local_file(path, settings=settings, engine=engine)

    assert not outcome.retryable, "a PDF's own defects are never worth a retry"
    if row.category in FAILS_AS:
        assert (outcome.status, outcome.reason_code) == ("failed", FAILS_AS[row.category])
        assert outcome.reason and outcome.hint
        return
    if row.category == "bad_page_error":
        expected = PAGE_ERRORS.get(row.file, {}).get(engine)
        assert expected, f"decide what {row.file} should do with {engine} and add it here"
        assert (outcome.status, outcome.reason_code) == (expected.status, expected.reason_code)
        assert expected.warning is None or expected.warning in outcome.warnings
        if outcome.status == "succeeded":
            assert outcome.pages == int(row.pages)
            assert len(outcome.failed_pages) == expected.failed_pages
            assert expected.text is None or expected.text in stored_text(settings, path)
        return

    assert outcome.status == "succeeded", f"{row.file}: {outcome.reason}"
    if row.pages.isdigit():
        assert outcome.pages == int(row.pages)
    check_success(row, path, outcome, settings)


def check_success(row: Row, path: Path, outcome: Outcome, settings: Settings) -> None:
    category = row.category
    if category == "scanned_no_text":
        assert NO_TEXT_LAYER in outcome.warnings
        return
    assert NO_TEXT_LAYER not in outcome.warnings
    assert outcome.chunks > 0 and outcome.words > 0
    if category.startswith("text"):
        assert outcome.chars >= 15
        assert outcome.failed_pages == []
    text = stored_text(settings, path)
    if category == "text_large":
        assert outcome.chars > 100_000 and outcome.chunks > 50
    elif category == "text_cjk":
        assert CJK.search(text) and ARABIC.search(text) and "Привет" in text
    elif category == "text_rtl":
        assert ARABIC.search(text) and "habibi" in text
    elif category == "scanned_ocr_layer":
        assert outcome.chars > 10_000 and "Vicksburg" in text
    elif category in ("encrypted_empty_password", "corrupt_recoverable", "bad_recoverable"):
        assert outcome.chars > 0
    else:
        assert category in {"text", "text_form"}, f"new category {category!r}: decide its outcome"


def expected_exit(row: Row, engine: str) -> tuple[int, str]:
    if row.category in FAILS_AS:
        return 1, FAILS_AS[row.category]
    expected = PAGE_ERRORS.get(row.file, {}).get(engine, PageErrors("succeeded"))
    return (0 if expected.status == "succeeded" else 1), expected.reason_code


def run_cli(path: Path, data_dir: Path, engine: str) -> subprocess.CompletedProcess[str]:
    pythonpath = os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "DOCJOBS_DATA_DIR": str(data_dir), "PYTHONPATH": pythonpath}
    command = [sys.executable, "-m", "docjobs.cli", "process", "--json", "--engine", engine]
    return subprocess.run(
        [*command, str(path)], capture_output=True, text=True, env=env, timeout=60
    )


def test_the_cli_survives_every_bad_file_in_its_own_process(tmp_path: Path, engine: str) -> None:
    bad = [row for row in ROWS if row.category in FAILS_AS or row.category.startswith("bad_")]
    assert len(bad) >= 10
    with ThreadPoolExecutor(max_workers=4) as pool:  # overlap the processes' start-up
        results = list(pool.map(lambda row: run_cli(CORPUS / row.file, tmp_path, engine), bad))

    for row, result in zip(bad, results, strict=True):
        code, reason_code = expected_exit(row, engine)
        assert result.returncode == code, f"{row.file}: {result.stderr[-2000:]}"
        assert "Traceback" not in result.stderr, f"{row.file}: {result.stderr[-2000:]}"
        payload = json.loads(result.stdout)
        assert payload["file"] == str(CORPUS / row.file)
        assert payload["reason_code"] == reason_code
        assert payload["status"] == ("succeeded" if code == 0 else "failed")
