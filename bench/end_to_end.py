"""End-to-end time for a batch of corpus PDFs, share → completion reply, on 2 worker
processes, against the same PDFs extracted by the same engine in a bare 2-process pool (no
queue, no Slack, no Redis).

The PDFs are the corpus files a job succeeds on, cycled to the batch size, each shared into its
own channel (so Slack's one-post-per-second per channel never binds; `burst` covers that). Times
come from the sandbox's record of when each outcome reply was posted and from the job records.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from itertools import cycle, islice
from pathlib import Path

from bench import corpus, worker_log
from bench.call_log import busiest_minute, by_channel
from bench.options import Options
from bench.report import Result, percentile
from bench.system import new_channel, run_directory, running_system

TITLE = "end-to-end time, share → completion reply, 2 worker processes"
WORKERS = 2


def run(options: Options) -> Result:
    count = options.size(20, 50)
    engine = options.resolved_engine()
    result = Result("e2e", TITLE, options.command("e2e"))
    files = [row.path for row in islice(cycle(corpus.succeeding_files()), count)]
    result.size = {"pdfs": count, "pages": _pages(files), "engine": engine, "workers": WORKERS}

    # The baseline runs before and after the system (its mean is used), so a neighbour's
    # load that comes and goes falls on both sides alike.
    extract_runs = [_pool_seconds(files, engine=engine, whole_pipeline=False)]
    pipeline_s = _pool_seconds(files, engine=engine, whole_pipeline=True)

    with (
        run_directory("e2e", keep=options.keep) as data_dir,
        running_system(data_dir, worker_concurrency=WORKERS, engine=engine) as system,
    ):
        cpu_before = system.cpu_seconds_by_part()
        shares = [system.share_file(path, channel=new_channel()) for path in files]
        threads = system.wait_for_outcomes(shares, timeout_s=120 + 10 * count)
        cpu = {k: v - cpu_before.get(k, 0.0) for k, v in system.cpu_seconds_by_part().items()}
        settled = system.wait_settled(threads, timeout_s=120)
        calls = system.calls()
        jobs = {ts: system.job(t.job_id) for ts, t in threads.items() if t.job_id}
        worker = worker_log.stages(system.log("worker"))
    extract_runs.append(_pool_seconds(files, engine=engine, whole_pipeline=False))
    extract_s = sum(extract_runs) / len(extract_runs)
    result.note("bare pool, extraction only: " + ", ".join(f"{t:.2f}" for t in extract_runs) + " s")

    start = min(s.shared_at for s in shares)
    outcome_at = {ts: t.outcome_at or 0.0 for ts, t in threads.items()}
    last_reply = max(outcome_at.values()) - start
    last_finished = max(float(job["finished_at"]) for job in jobs.values()) - start
    latencies = [outcome_at[s.ts] - s.shared_at for s in shares]
    lags = [outcome_at[ts] - float(job["finished_at"]) for ts, job in jobs.items()]

    base = {"baseline": extract_s, "baseline_what": "2-process pool, extraction only"}
    result.figure(f"share → last completion reply ({count} PDFs)", last_reply, "s", **base)
    result.figure("share → last job finished by a worker", last_finished, "s", **base)
    last_change = max(t.last_change_at for t in settled.values()) - start
    result.figure("share → last thread settled (reactions too)", last_change, "s", **base)
    result.figure("whole local pipeline in the same pool", pipeline_s, "s", **base)
    result.figure("first share → last share sent", max(s.shared_at for s in shares) - start, "s")
    result.figure("per-job share → reply, p50", percentile(latencies, 50), "s")
    result.figure("per-job share → reply, max", max(latencies), "s")
    result.figure("job finished → its reply posted, p50", percentile(lags, 50), "s")
    result.figure("job finished → its reply posted, max", max(lags), "s")
    _worker_figures(result, worker)
    for part, seconds in sorted(cpu.items(), key=lambda item: -item[1]):
        # "worker" is the worker's main process (the consumer) alone.
        name = "worker main process" if part == "worker" else part
        result.figure(f"CPU until the last reply: {name}", seconds, "s")
    counts = calls["counts"]
    per_job = by_channel(calls["calls"]).values()
    result.figure(
        "Web API calls per job, max (reactions apart)", max(j.counted for j in per_job), "calls"
    )
    result.figure("chat.update calls", counts.get("chat.update", 0), "calls")
    result.figure(
        "chat.update in the busiest minute", busiest_minute(calls["calls"], "chat.update"), ""
    )
    result.figure(
        "reactions.add + reactions.remove calls",
        counts.get("reactions.add", 0) + counts.get("reactions.remove", 0),
        "calls",
    )
    result.figure(
        "  of which reactions.remove answered no_reaction",
        sum(j.no_reaction_removes for j in per_job),
        "calls",
    )
    result.figure(
        "reactions.add in the busiest minute", busiest_minute(calls["calls"], "reactions.add"), ""
    )
    result.figure("HTTP 429s from the sandbox", calls["ratelimited"], "")

    bad = {t.share.filename: t.problems() for t in settled.values() if t.problems()}
    result.figure("threads that did not end right", len(bad), f"of {count}")
    if bad:
        result.note(f"{len(bad)} threads did not end right, e.g. {next(iter(bad.items()))}")
    ratio = last_reply / extract_s
    result.verdict(
        "end-to-end ≤ 1.25× the bare 2-process pool",
        ratio <= 1.25,
        f"{last_reply:.1f} s vs {extract_s:.1f} s ({ratio:.2f}×); the workers were done at "
        f"{last_finished:.1f} s ({last_finished / extract_s:.2f}×)",
    )
    return result


def _worker_figures(result: Result, worker: worker_log.Stages) -> None:
    """Where the pool processes' time went, for whole-document jobs (worker_log.py)."""
    if not worker.pipeline:
        return
    ms = 1000.0
    result.figure(
        "per job, before its pipeline (handoff, lease, download), p50",
        percentile(worker.before, 50) * ms,
        "ms",
    )
    result.figure("per job, the pipeline itself, p50", percentile(worker.pipeline, 50) * ms, "ms")
    result.figure(
        "per job, after its pipeline (result POST, release), p50",
        percentile(worker.after, 50) * ms,
        "ms",
    )
    outside = [b + a for b, a in zip(worker.before, worker.after, strict=True)]
    result.figure("per job, outside its pipeline, mean", sum(outside) / len(outside) * ms, "ms")
    result.note(
        f"{len(worker.pipeline)} whole-document jobs: {sum(worker.before):.2f} s before their "
        f"pipelines, {sum(worker.pipeline):.2f} s in them, {sum(worker.after):.2f} s after "
        "(all processes together)"
    )


def _pages(files: list[Path]) -> int:
    import pypdfium2 as pdfium

    total = 0
    for path in files:
        try:
            with open(path, "rb") as handle:
                document = pdfium.PdfDocument(handle.read())
                total += len(document)
                document.close()
        except pdfium.PdfiumError:
            continue  # pdfium cannot open one of them; the count is only for the record
    return total


def _pool_seconds(files: list[Path], *, engine: str, whole_pipeline: bool) -> float:
    """Wall time for a warm 2-process pool to get through every file."""
    context = multiprocessing.get_context("spawn")
    with (
        tempfile.TemporaryDirectory(prefix="bench-e2e-pool-") as tmp,
        ProcessPoolExecutor(WORKERS, mp_context=context, initializer=_warm) as pool,
    ):
        # Start both processes (and their imports) before the clock, as a worker is started.
        list(pool.map(time.sleep, [0.5] * WORKERS))
        started = time.perf_counter()
        jobs = [pool.submit(_one, path, engine, whole_pipeline, tmp) for path in files]
        for job in jobs:
            job.result()
        return time.perf_counter() - started


def _warm() -> None:
    import logging

    import pypdfium2  # noqa: F401

    import docjobs.tasks.pipeline  # noqa: F401

    logging.disable(logging.WARNING)


def _one(path: Path, engine: str, whole_pipeline: bool, data_dir: str) -> int:
    from docjobs.settings import Settings
    from docjobs.tasks.extract import extract_pages
    from docjobs.tasks.pipeline import process_local_file

    # A store per process: two processes opening one new SQLite file at once can fail with
    # "database is locked" (ChunkStore switches it to WAL on every open; see BENCHMARKS.md).
    settings = Settings(_env_file=None, data_dir=Path(data_dir) / str(os.getpid()))
    if whole_pipeline:
        return process_local_file(path, settings=settings, engine=engine).pages
    extraction = extract_pages(
        path,
        max_pages=settings.max_pages,
        min_chars_per_page=settings.min_chars_per_page,
        engine=engine,
    )
    return extraction.pages
