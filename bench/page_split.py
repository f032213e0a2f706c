"""One 1,000-page PDF on a worker with 2 pool processes against the same worker with 1.

The target (≥ 1.7× faster on 2) needs the job split into page ranges across processes; this
measures what the code does, and says how many pool processes spent CPU on the job (from
/proc/<pid>/stat), so an unsplit job shows as 1 of 2. The worker is restarted with the other
pool size between runs, and each pool size first runs the PDF once uncounted (a fresh pool
process's first job is slower); with several rounds each figure is the median.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from bench import pdfs
from bench.options import Options
from bench.procfs import cpu_seconds
from bench.report import Result
from bench.system import System, new_channel, run_directory, running_system

TITLE = "a 1,000-page PDF on 2 worker processes vs 1"
TARGET = 1.7
BUSY_CPU_S = 0.5  # a pool process that used more CPU than this during the job worked on it


@dataclass
class Timing:
    reply_s: float  # share → outcome reply
    run_s: float  # job started → finished, by the worker's record
    busy_processes: int  # pool processes that spent CPU on it


def run(options: Options) -> Result:
    pages = 1000
    rounds = options.size(3, 5)
    engine = options.resolved_engine()
    result = Result("split", TITLE, options.command("split"))
    result.size = {"pages": pages, "rounds": rounds, "engine": engine}
    pdf = pdfs.text_pdf(pages)
    timings: dict[int, list[Timing]] = {1: [], 2: []}

    with (
        run_directory("split", keep=options.keep) as data_dir,
        running_system(data_dir, worker_concurrency=1, engine=engine) as system,
    ):
        for processes in (1, 2):
            if processes != 1:
                system.stop("worker")
                system.start("worker", extra_env={"DOCJOBS_WORKER_CONCURRENCY": str(processes)})
                system.wait_pool(processes)
            _one_job(system, pdf)  # not counted: a fresh pool process's first job is slower
            for _ in range(rounds):
                timings[processes].append(_one_job(system, pdf))

    one = statistics.median(t.reply_s for t in timings[1])
    two = statistics.median(t.reply_s for t in timings[2])
    result.figure(
        f"share → outcome reply, {pages} pages, 2 processes",
        two,
        "s",
        baseline=one,
        baseline_what="1 process",
    )
    result.figure(
        "job run time (worker), 2 processes",
        statistics.median(t.run_s for t in timings[2]),
        "s",
        baseline=statistics.median(t.run_s for t in timings[1]),
        baseline_what="1 process",
    )
    for processes, runs in timings.items():
        result.note(
            f"{processes} process(es), share → reply per round: "
            + ", ".join(f"{t.reply_s:.2f}" for t in runs)
            + " s; job run time: "
            + ", ".join(f"{t.run_s:.2f}" for t in runs)
            + " s"
        )
    busy = max(t.busy_processes for t in timings[2])
    result.figure("pool processes that worked on the job, of 2", busy, "")
    result.figure("speed-up on 2 processes, share → reply", one / two, "×")
    result.figure(
        "speed-up on 2 processes, job run time",
        statistics.median(t.run_s for t in timings[1])
        / statistics.median(t.run_s for t in timings[2]),
        "×",
    )
    result.verdict(
        f"≥ {TARGET}× faster on 2 worker processes (page ranges split across them)",
        one / two >= TARGET,
        f"{one / two:.2f}× ({one:.1f} s → {two:.1f} s); {busy} of 2 pool processes worked on it",
    )
    return result


def _one_job(system: System, pdf: Path) -> Timing:
    pool = system.pool_pids()
    before = {pid: cpu_seconds(pid) for pid in pool}
    share = system.share(pdf, channel=new_channel())
    thread = system.wait_for_outcomes([share], timeout_s=600, poll_s=0.1)[share.ts]
    busy = sum(1 for pid in pool if cpu_seconds(pid) - before[pid] > BUSY_CPU_S)
    job = system.job(thread.job_id) if thread.job_id else {}
    ran = float(job.get("finished_at", 0)) - float(job.get("started_at", 0))
    return Timing((thread.outcome_at or 0.0) - share.shared_at, ran, busy)
