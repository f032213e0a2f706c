"""The shared corpus, read in place (never copied into the repo): ../shared/corpus beside the
repo, or wherever DOCJOBS_CORPUS points."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# The categories whose files a person gets a successful job for (MANIFEST.tsv).
SUCCESS_CATEGORIES = (
    "text",
    "text_large",
    "text_rtl",
    "text_cjk",
    "text_form",
    "scanned_no_text",
    "scanned_ocr_layer",
    "encrypted_empty_password",
    "corrupt_recoverable",
    "bad_recoverable",
)


@dataclass(frozen=True)
class CorpusFile:
    file: str
    path: Path
    pages: int | None
    category: str

    @property
    def is_text(self) -> bool:
        return self.category.startswith("text")


def corpus_dir() -> Path:
    # The corpus sits outside the repo; only this and the test suite know where.
    return Path(os.environ.get("DOCJOBS_CORPUS", REPO.parent / "shared" / "corpus"))


def manifest() -> list[CorpusFile]:
    """Every row of MANIFEST.tsv; fails loudly if the corpus is missing."""
    root = corpus_dir()
    path = root / "MANIFEST.tsv"
    if not path.exists():
        raise SystemExit(
            f"no corpus at {root}: put ../shared beside the repo or set DOCJOBS_CORPUS"
        )
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [
        CorpusFile(
            file=row["file"],
            path=root / row["file"],
            pages=int(row["pages"]) if row["pages"].isdigit() else None,
            category=row["expected_behaviour"].split(":", 1)[0].strip(),
        )
        for row in rows
    ]


def text_files() -> list[CorpusFile]:
    return [row for row in manifest() if row.is_text]


def succeeding_files() -> list[CorpusFile]:
    """Files a job should succeed on: what people share on an ordinary day."""
    return [row for row in manifest() if row.category in SUCCESS_CATEGORIES]
