"""Pages per second of text extraction by engine (pypdf, pdfium alone, and "auto": pdfium with
pypdf's second opinion, the default), and how many corpus rows each engine passes.

Speed: `extract_pages` (what the worker runs) over the corpus's text files and a generated
PDF, the best of several rounds (the least disturbed by anything else on the machine), in one
process. Corpus check: `process_local_file` on every MANIFEST row with each engine, in a fresh
process under the worker's address-space cap, judged by the rules of tests/tasks/test_corpus.py
(its tables are imported; "pdfium" alone, which the suite does not offer, is held to auto's
expectations for the files whose pages break). PyMuPDF is not measured (AGPL; see BENCHMARKS.md).
"""

from __future__ import annotations

import logging
import multiprocessing
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench import corpus, pdfs
from bench.options import Options
from bench.report import Result
from tests.tasks.test_corpus import ARABIC, CJK, FAILS_AS, PAGE_ERRORS, PageErrors

TITLE = "extraction speed by engine, and the corpus with each engine"
ENGINES = ("pypdf", "pdfium", "auto")

NO_TEXT_LAYER = "no text layer"
LOW_TEXT = "very little text"


@dataclass
class Judged:
    file: str
    category: str
    kind: str  # "succeeded" or "failed/<reason_code>"
    pages: int
    chars: int
    failed_pages: int
    no_text_layer: bool
    low_text: bool
    problems: list[str]
    seconds: float


def run(options: Options) -> Result:
    result = Result("engines", TITLE, options.command("engines"))
    rounds = options.size(3, 5)
    big_pages = options.size(1000, 3000)
    result.size = {"rounds": rounds, "generated_pages": big_pages}
    _measure_speed(result, corpus.text_files(), label="corpus text files", rounds=rounds)
    big = pdfs.text_pdf(big_pages)
    big_row = corpus.CorpusFile(big.name, big, big_pages, "text_generated")
    _measure_speed(result, [big_row], label=f"generated {big_pages}-page PDF", rounds=rounds)

    rows = corpus.manifest()
    judged = {engine: _judge_corpus(engine, rows) for engine in ENGINES}
    _report_corpus(result, rows, judged)
    result.note(
        "PyMuPDF not installed or measured: AGPL-3.0 (or a commercial licence); see BENCHMARKS.md."
    )
    return result


# --- speed ---------------------------------------------------------------------------------


def _measure_speed(
    result: Result, rows: list[corpus.CorpusFile], *, label: str, rounds: int
) -> None:
    from docjobs.tasks.extract import extract_pages

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    pages = {}
    per_engine: dict[str, float] = {}
    for engine in ENGINES:
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            total = 0
            for row in rows:
                total += extract_pages(row.path, max_pages=10_000, engine=engine).pages
            times.append(time.perf_counter() - started)
            pages[engine] = total
        per_engine[engine] = min(times)
    n = pages["pypdf"]
    base = n / per_engine["pypdf"]
    result.figure(f"{label} ({len(rows)} files, {n} pages): pypdf", base, "pages/s")
    for engine in ("pdfium", "auto"):
        result.figure(
            f"{label}: {engine}",
            pages[engine] / per_engine[engine],
            "pages/s",
            baseline=base,
            baseline_what="pypdf",
        )


# --- the corpus with each engine -----------------------------------------------------------


def _judge_corpus(engine: str, rows: list[corpus.CorpusFile]) -> dict[str, Judged]:
    """In a fresh process under the worker's memory cap: pdfium has no limits of its own."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context, initializer=_quiet_and_capped) as pool:
        return pool.submit(_judge_all, engine, rows).result()


def _quiet_and_capped() -> None:
    from docjobs.settings import Settings
    from docjobs.tasks.limits import apply_memory_limit

    logging.disable(logging.CRITICAL)  # bad files log on purpose; the outcomes say enough
    apply_memory_limit(Settings(_env_file=None).worker_memory_limit_mb)


def _judge_all(engine: str, rows: list[corpus.CorpusFile]) -> dict[str, Judged]:
    from docjobs.settings import Settings
    from docjobs.tasks.pipeline import local_job_id, process_local_file
    from docjobs.tasks.store import ChunkStore

    judged = {}
    with tempfile.TemporaryDirectory(prefix=f"bench-corpus-{engine}-") as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp))
        for row in rows:
            started = time.perf_counter()
            outcome = process_local_file(row.path, settings=settings, engine=engine)
            seconds = time.perf_counter() - started
            text = ""
            if outcome.status == "succeeded":
                stored = ChunkStore(settings.store_path).load(local_job_id(row.path))
                text = "\n".join(item.chunk.text for item in stored)
            no_text = any(NO_TEXT_LAYER in warning for warning in outcome.warnings)
            kind = outcome.status
            if outcome.status != "succeeded":
                kind = f"{outcome.status}/{outcome.reason_code}"
            judged[row.file] = Judged(
                file=row.file,
                category=row.category,
                kind=kind,
                pages=outcome.pages,
                chars=outcome.chars,
                failed_pages=len(outcome.failed_pages),
                no_text_layer=no_text,
                low_text=any(LOW_TEXT in warning for warning in outcome.warnings),
                problems=_problems(row, engine, outcome, text, no_text),
                seconds=seconds,
            )
    return judged


def _problems(
    row: corpus.CorpusFile, engine: str, outcome: object, text: str, no_text: bool
) -> list[str]:
    """What tests/tasks/test_corpus.py would say about this outcome ([] if it passes)."""
    o = outcome  # a pipeline Outcome; typed loosely to keep the child's imports lazy
    status, code = o.status, o.reason_code  # type: ignore[attr-defined]
    if row.category in FAILS_AS:
        want = ("failed", FAILS_AS[row.category])
        return [] if (status, code) == want else [f"expected failed/{want[1]}"]
    if row.category == "bad_page_error":
        decided = PAGE_ERRORS.get(row.file, {})
        expected = decided.get(engine) or decided.get("auto")  # "pdfium": auto's rules
        if expected is None:
            return ["no expectation recorded"]
        return _page_error_problems(row, expected, o, text)
    if status != "succeeded":
        return [f"expected success, got {status}/{code}"]
    problems = []
    if row.pages is not None and o.pages != row.pages:  # type: ignore[attr-defined]
        problems.append(f"pages {o.pages} != {row.pages}")  # type: ignore[attr-defined]
    if row.category == "scanned_no_text":
        return problems if no_text else [*problems, "missing the no-text-layer warning"]
    if no_text:
        problems.append("unexpected no-text-layer warning")
    if not (o.chunks > 0 and o.words > 0):  # type: ignore[attr-defined]
        problems.append("no chunks or words")
    if row.is_text and (o.chars < 15 or o.failed_pages):  # type: ignore[attr-defined]
        problems.append("little text or failed pages")
    checks = {
        "text_large": o.chars > 100_000 and o.chunks > 50,  # type: ignore[attr-defined]
        "text_cjk": bool(CJK.search(text) and ARABIC.search(text) and "Привет" in text),
        "text_rtl": bool(ARABIC.search(text) and "habibi" in text),
        "scanned_ocr_layer": o.chars > 10_000 and "Vicksburg" in text,  # type: ignore[attr-defined]
    }
    if not checks.get(row.category, o.chars > 0):  # type: ignore[attr-defined]
        problems.append(f"{row.category} content check failed")
    return problems


def _page_error_problems(
    row: corpus.CorpusFile, expected: PageErrors, o: object, text: str
) -> list[str]:
    status, code = o.status, o.reason_code  # type: ignore[attr-defined]
    if (status, code) != (expected.status, expected.reason_code):
        return [f"expected {'/'.join(filter(None, (expected.status, expected.reason_code)))}"]
    problems = []
    if expected.warning and expected.warning not in o.warnings:  # type: ignore[attr-defined]
        problems.append(f"missing the warning {expected.warning!r}")
    if status == "succeeded":
        if o.pages != row.pages:  # type: ignore[attr-defined]
            problems.append(f"pages {o.pages} != {row.pages}")  # type: ignore[attr-defined]
        if len(o.failed_pages) != expected.failed_pages:  # type: ignore[attr-defined]
            problems.append(f"{len(o.failed_pages)} failed pages")  # type: ignore[attr-defined]
        if expected.text and expected.text not in text:
            problems.append(f"no {expected.text!r} in the text")
    return problems


def _report_corpus(
    result: Result, rows: list[corpus.CorpusFile], judged: dict[str, dict[str, Judged]]
) -> None:
    n = len(rows)
    passing = {e: sum(not j.problems for j in judged[e].values()) for e in ENGINES}
    for engine in ENGINES:
        result.figure(
            f"corpus rows passing the suite's rules: {engine}", passing[engine], f"of {n}"
        )
    for engine in ("pdfium", "auto"):
        differ = [
            row.file
            for row in rows
            if _kind(judged[engine][row.file]) != _kind(judged["pypdf"][row.file])
        ]
        result.figure(
            f"rows whose outcome kind differs from pypdf's: {engine}", len(differ), f"of {n}"
        )
        for file in differ:
            mine, theirs = judged[engine][file], judged["pypdf"][file]
            verdict = "FAILS: " + "; ".join(mine.problems) if mine.problems else "passes"
            result.note(
                f"{engine} on {file} ({mine.category}): {_kind(mine)} vs pypdf "
                f"{_kind(theirs)} — {verdict}"
            )
        ratios = [
            judged[engine][row.file].chars / judged["pypdf"][row.file].chars
            for row in rows
            if row.is_text and judged["pypdf"][row.file].chars
        ]
        result.note(
            f"{engine}: characters per text file against pypdf's, "
            f"{min(ratios):.2f}–{max(ratios):.2f} (median {statistics.median(ratios):.2f})"
        )
    passing_all = [e for e in ENGINES if passing[e] == n]
    result.verdict(
        "offer the fastest engine that passes the corpus (pypdf stays the fallback)",
        any(e != "pypdf" for e in passing_all),
        f"engines passing all {n} rows: {', '.join(passing_all) or 'none'}; "
        f"rows failing: pdfium {n - passing['pdfium']}, auto {n - passing['auto']}",
    )


def _kind(judged: Judged) -> str:
    """The outcome a person would see, without the exact character count."""
    parts = [judged.kind, f"{judged.pages} pages"]
    if judged.failed_pages:
        parts.append(f"{judged.failed_pages} pages failed")
    if judged.no_text_layer:
        parts.append("no-text-layer warning")
    elif judged.low_text:
        parts.append(f"little-text warning ({judged.chars} chars)")
    return ", ".join(parts)
