"""Long PDFs, as a person would notice them: a 3,000-page job split across parts stores exactly
the chunks one pass would, in page order, and a worker process reading one stays small (each
job in a child process of its own, whose peak resident set the kernel reports)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from docjobs.jobs.store import JobStore
from docjobs.settings import Settings
from docjobs.tasks.celery_app import PROCESS_TASK
from docjobs.tasks.pipeline import local_job_id, process_local_file
from docjobs.tasks.store import ChunkStore
from tests.support.pdfs import write_long_pdf, write_pages_pdf
from tests.tasks.test_split_jobs import RESULTS_URL, Message, make_harness

PAGES = 3000
# Growth of a worker process's peak resident set over the same process warmed up, reading a
# 3,000-page PDF (the budget is 150 MB). Holding the whole document's words or vectors
# as Python objects, as the pipeline once did, took 140 MB (split) and 196 MB (one pass) here;
# streaming them, 10-35 MB.
GROWTH_BUDGET_MB = 80


@pytest.fixture(scope="module")
def long_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_long_pdf(tmp_path_factory.mktemp("long") / "long.pdf", PAGES, words_per_page=400)


def long_settings(data_dir: Path, redis_url: str = "") -> Settings:
    """The settings' defaults for splitting and chunking; quick leases for a test."""
    return Settings(
        _env_file=None,
        redis_url=redis_url or None,
        data_dir=data_dir,
        slack_bot_token="xoxb-test",
        results_url=RESULTS_URL,
        lease_ttl_s=5.0,
    )


def test_a_3000_page_split_job_stores_the_chunks_of_one_pass_in_order(
    long_pdf: Path, tmp_path: Path, redis_url: str, store: JobStore
) -> None:
    settings = long_settings(tmp_path / "data", redis_url)
    harness = make_harness(settings, store, long_pdf)
    job_id = harness.share()
    harness.run(Message(PROCESS_TASK, [job_id, 1]))
    parts = harness.take()
    assert len(parts) >= PAGES // settings.split_pages_per_part
    for message in parts:
        harness.run(message)
    [result] = harness.results
    assert (result.status, result.pages) == ("succeeded", PAGES)

    whole_store = ChunkStore(tmp_path / "whole.sqlite3")
    whole = process_local_file(long_pdf, settings=settings, store=whole_store)
    assert (result.words, result.chunks) == (whole.words, whole.chunks)
    stored = harness.ctx.chunks.load(job_id)
    expected = whole_store.load(local_job_id(long_pdf))
    assert [s.chunk for s in stored] == [s.chunk for s in expected]  # text, pages, order
    assert [s.vector for s in stored] == [s.vector for s in expected]
    assert stored[0].chunk.start_page == 1 and stored[-1].chunk.end_page == PAGES
    starts = [s.chunk.start_page for s in stored]
    assert starts == sorted(starts)


# In a child process: warm up on a small PDF (imports, the engines' first use), then run the
# long job the way a worker's one pool process would, and report the peak resident set growth.
SPLIT_JOB = """
import json, sys
from pathlib import Path
from docjobs.jobs.connection import connect
from docjobs.jobs.store import JobStore
from docjobs.tasks.celery_app import PROCESS_TASK
from tests.tasks.test_long_jobs import long_settings, memory_mb
from tests.tasks.test_split_jobs import Message, make_harness

small, long_pdf, data, redis_url = sys.argv[1:5]
settings = long_settings(Path(data), redis_url)
store = JobStore(connect(redis_url))
outcomes = []
for n, pdf in enumerate((small, long_pdf)):
    harness = make_harness(settings, store, Path(pdf))
    if pdf == long_pdf:
        idle = memory_mb()["VmRSS"]
    job_id = harness.share(file_id=f"F{n}")
    harness.run(Message(PROCESS_TASK, [job_id, 1]))
    harness.drain()
    outcomes.append([(r.status, r.pages, r.chunks) for r in harness.results])
print(json.dumps({"idle": idle, "peak": memory_mb()["VmHWM"], "outcomes": outcomes}))
"""

WHOLE_JOB = """
import json, sys
from pathlib import Path
from docjobs.tasks.pipeline import process_local_file
from tests.tasks.test_long_jobs import long_settings, memory_mb

small, long_pdf, data = sys.argv[1:4]
settings = long_settings(Path(data))
outcomes = [process_local_file(Path(small), settings=settings).status]
idle = memory_mb()["VmRSS"]
outcome = process_local_file(Path(long_pdf), settings=settings)
outcomes.append([outcome.status, outcome.pages, outcome.chunks])
print(json.dumps({"idle": idle, "peak": memory_mb()["VmHWM"], "outcomes": outcomes}))
"""


def memory_mb() -> dict[str, float]:
    """This process's resident set now (VmRSS) and at its peak (VmHWM), in MB."""
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024
    return found


def run_child(code: str, *args: str) -> dict[str, object]:
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=repo,
        timeout=110,
    )
    found: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return found


def test_a_worker_process_stays_small_on_a_3000_page_split_job(
    long_pdf: Path, tmp_path: Path, redis_url: str
) -> None:
    small = write_pages_pdf(tmp_path / "small.pdf", 3)
    found = run_child(SPLIT_JOB, str(small), str(long_pdf), str(tmp_path / "data"), redis_url)
    [long_job] = found["outcomes"][1]  # type: ignore[index]
    assert long_job[:2] == ["succeeded", PAGES]
    growth = float(found["peak"]) - float(found["idle"])  # type: ignore[arg-type]
    assert growth <= GROWTH_BUDGET_MB, f"peak {found['peak']:.0f} MB, {growth:.0f} MB over idle"


def test_a_worker_process_stays_small_reading_3000_pages_in_one_pass(
    long_pdf: Path, tmp_path: Path
) -> None:
    small = write_pages_pdf(tmp_path / "small.pdf", 3)
    found = run_child(WHOLE_JOB, str(small), str(long_pdf), str(tmp_path / "data"))
    assert found["outcomes"][1][:2] == ["succeeded", PAGES]  # type: ignore[index]
    growth = float(found["peak"]) - float(found["idle"])  # type: ignore[arg-type]
    assert growth <= GROWTH_BUDGET_MB, f"peak {found['peak']:.0f} MB, {growth:.0f} MB over idle"
