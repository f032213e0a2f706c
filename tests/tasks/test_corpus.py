"""Every real PDF in ../shared/corpus through the worker's pipeline, judged by MANIFEST.tsv.

The manifest's expected_behaviour starts with a category ("text_rtl: ..."); each category maps
to the outcome a person should see. The corpus is required: without it these tests fail.
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

# What pypdf 7.1.1 really does with the files whose pages break (checked one by one):
PAGE_ERRORS = {
    # one page, its content stream uses the /A85 filter name pypdf 7 removed (DeprecationError)
    "bad/poppler-395-0-fuzzed.pdf": ("failed", "unsupported", None),
    # 16 pages, 14 with corrupt streams; the 2 readable ones carry no text
    "bad/poppler-90-0-fuzzed.pdf": ("succeeded", "", "14 of 16 pages could not be read."),
    # one page of JBIG2 images claiming 1.16 GB; we never run jbig2dec (DependencyError)
    "bad/bomb_giant.pdf": ("failed", "unsupported", None),
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


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("corpus-data"))


def stored_text(settings: Settings, path: Path) -> str:
    chunks = ChunkStore(settings.store_path).load(local_job_id(path))
    return "\n".join(stored.chunk.text for stored in chunks)


def test_the_corpus_is_there() -> None:
    assert ROWS, (
        f"no corpus at {CORPUS} (MANIFEST.tsv missing): put ../shared beside the repo "
        "or point DOCJOBS_CORPUS at it"
    )


@pytest.mark.parametrize("row", ROWS, ids=[row.file for row in ROWS])
def test_corpus_file_gets_the_expected_outcome(row: Row, settings: Settings) -> None:
    path = CORPUS / row.file
    outcome = process_local_file(path, settings=settings)

    assert not outcome.retryable, "a PDF's own defects are never worth a retry"
    if row.category in FAILS_AS:
        assert (outcome.status, outcome.reason_code) == ("failed", FAILS_AS[row.category])
        assert outcome.reason and outcome.hint
        return
    if row.category == "bad_page_error":
        assert row.file in PAGE_ERRORS, f"decide what {row.file} should do and add it here"
        status, code, warning = PAGE_ERRORS[row.file]
        assert (outcome.status, outcome.reason_code) == (status, code)
        assert warning is None or warning in outcome.warnings
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


def expected_exit(row: Row) -> tuple[int, str]:
    if row.category in FAILS_AS:
        return 1, FAILS_AS[row.category]
    status, code, _ = PAGE_ERRORS.get(row.file, ("succeeded", "", None))
    return (0 if status == "succeeded" else 1), code


def run_cli(path: Path, data_dir: Path) -> subprocess.CompletedProcess[str]:
    pythonpath = os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "DOCJOBS_DATA_DIR": str(data_dir), "PYTHONPATH": pythonpath}
    command = [sys.executable, "-m", "docjobs.cli", "process", "--json", str(path)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def test_the_cli_survives_every_bad_file_in_its_own_process(tmp_path: Path) -> None:
    bad = [row for row in ROWS if row.category in FAILS_AS or row.category.startswith("bad_")]
    assert len(bad) >= 10
    with ThreadPoolExecutor(max_workers=4) as pool:  # overlap the processes' start-up
        results = list(pool.map(lambda row: run_cli(CORPUS / row.file, tmp_path), bad))

    for row, result in zip(bad, results, strict=True):
        code, reason_code = expected_exit(row)
        assert result.returncode == code, f"{row.file}: {result.stderr[-2000:]}"
        assert "Traceback" not in result.stderr, f"{row.file}: {result.stderr[-2000:]}"
        payload = json.loads(result.stdout)
        assert payload["file"] == str(CORPUS / row.file)
        assert payload["reason_code"] == reason_code
        assert payload["status"] == ("succeeded" if code == 0 else "failed")
