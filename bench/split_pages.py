"""A 1,000-page PDF on a worker with 2 pool processes against one with 1 (target: ≥ 1.7×).

Three systems run side by side, each its own Redis, web service, reporter and worker:

- "2 processes": the settings' defaults, so the job is split into page ranges read by both;
- "1 process, split": the same settings on one process (the comparison the issue's figures
  were first taken with: the same deployment with one process fewer);
- "1 process, whole": splitting off, the best one process can do (no parts to pack and join).

Each first runs the PDF once uncounted (a fresh pool process's first job is slower); then in
every round the same PDF is shared to each in turn, in an order that rotates, so a busy
machine slows them alike. Figures are medians: share → outcome recorded (the job's
finished_at, what the thread's reply follows), the job's own run time (started → finished),
and the reply in the thread. Every run must end with the same counts and the same chunks
stored in the same order. The CPU time each pool process of the 2-process worker spent shows
whether both worked on the job. Two processes can only be as fast as the machine lets two
processes be: a pure-Python loop is timed alone and twice at once, before and after.

    .venv/bin/python -m bench split [--full] [--engine E]
    .venv/bin/python -m bench.split_pages [--pages 1000] [--rounds 3] [--pages-per-part N]
        [--file F]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import pdfs
from bench.options import Options
from bench.procfs import cpu_seconds
from bench.report import Result, render
from bench.system import System, new_channel, run_directory, running_system
from docjobs.tasks.store import ChunkStore

TITLE = "a 1,000-page PDF on 2 worker processes vs 1"
TARGET = 1.7
BUSY_CPU_S = 0.3  # a pool process that used more CPU than this during the job worked on it
TWO, SPLIT_ONE, WHOLE_ONE = "2 processes", "1 process, split", "1 process, whole"


@dataclass
class Run:
    outcome_s: float  # share → outcome recorded (the job's finished_at)
    job_s: float  # the job's own record: started → finished
    reply_s: float  # share → outcome reply in the thread
    busy_processes: int  # pool processes that spent CPU on it
    outcome: tuple[int, int, int]  # pages, words, chunks
    stored: str  # digest of the stored chunks (text and pages, in order)


def run(options: Options) -> Result:
    return measure(
        pages=1000, rounds=options.size(3, 5), engine=options.resolved_engine(), options=options
    )


def measure(
    *,
    pages: int,
    rounds: int,
    engine: str,
    options: Options,
    per_part: int | None = None,
    pdf: Path | None = None,
) -> Result:
    """`pdf`: a file of one's own instead of the generated `pages`-page one."""
    result = Result("split", TITLE, options.command("split"))
    source = {"pages": pages} if pdf is None else {"file": pdf.name}
    result.size = {**source, "rounds": rounds, "engine": engine}
    pdf = pdf or pdfs.text_pdf(pages)
    split_env = {"DOCJOBS_SPLIT_PAGES_PER_PART": str(per_part)} if per_part else {}
    configs = {
        TWO: (2, split_env),
        SPLIT_ONE: (1, split_env),
        WHOLE_ONE: (1, {"DOCJOBS_SPLIT_MIN_PAGES": "0"}),
    }
    runs: dict[str, list[Run]] = {name: [] for name in configs}
    machine = [machine_speedup()]
    with contextlib.ExitStack() as stack:
        systems: dict[str, System] = {}
        for n, (name, (processes, env)) in enumerate(configs.items()):
            data_dir = stack.enter_context(run_directory(f"split-{n}", keep=options.keep))
            systems[name] = stack.enter_context(
                running_system(data_dir, worker_concurrency=processes, engine=engine, extra_env=env)
            )
        for system in systems.values():
            one_job(system, pdf)  # not counted: a fresh pool process's first job is slower
        names = list(configs)
        for n in range(rounds):
            for name in names[n % len(names) :] + names[: n % len(names)]:
                runs[name].append(one_job(systems[name], pdf))
    machine.append(machine_speedup())
    _report(result, runs, machine)
    return result


def one_job(system: System, pdf: Path) -> Run:
    pool = system.worker_children()
    before = {pid: cpu_seconds(pid) for pid in pool}
    share = system.share_file(pdf, channel=new_channel())
    # Times come from the records (the job's, the sandbox's), not from when this poll looks:
    # polling seldom only spares the CPU the job runs on.
    thread = system.wait_for_outcomes([share], timeout_s=600, poll_s=0.5)[share.ts]
    busy = sum(1 for pid in pool if cpu_seconds(pid) - before[pid] > BUSY_CPU_S)
    if thread.outcome is None or not thread.outcome.get("text", "").startswith(
        ":white_check_mark:"
    ):
        raise RuntimeError(f"job did not succeed: {thread.problems()}")
    job = system.job(thread.job_id or "")
    return Run(
        outcome_s=float(job["finished_at"]) - share.shared_at,
        job_s=float(job["finished_at"]) - float(job["started_at"]),
        reply_s=(thread.outcome_at or 0.0) - share.shared_at,
        busy_processes=busy,
        outcome=(int(job["pages"]), int(job["words"]), int(job["chunks"])),
        stored=_stored_digest(system, thread.job_id or ""),
    )


def _stored_digest(system: System, job_id: str) -> str:
    digest = hashlib.sha256()
    for stored in ChunkStore(system.data_dir / "docjobs.sqlite3").load(job_id):
        chunk = stored.chunk
        digest.update(f"{chunk.index}|{chunk.start_page}|{chunk.end_page}|{chunk.text}\0".encode())
    return digest.hexdigest()[:16]


def _report(result: Result, runs: dict[str, list[Run]], machine: list[float]) -> None:
    def median(name: str, what: str) -> float:
        return statistics.median(getattr(run, what) for run in runs[name])

    two = median(TWO, "outcome_s")
    for what, label in (("outcome_s", "share → outcome"), ("job_s", "job run time")):
        for baseline in (SPLIT_ONE, WHOLE_ONE):
            result.figure(
                f"{label}, 2 processes",
                median(TWO, what),
                "s",
                baseline=median(baseline, what),
                baseline_what=baseline,
            )
    for baseline in (SPLIT_ONE, WHOLE_ONE):
        result.figure(f"speed-up over {baseline}", median(baseline, "outcome_s") / two, "×")
        job = median(baseline, "job_s") / median(TWO, "job_s")
        result.figure("  by job run time", job, "×")
        if baseline == SPLIT_ONE:
            reply = median(baseline, "reply_s") / median(TWO, "reply_s")
            result.figure("  by reply in the thread", reply, "×")
    busy = min(run.busy_processes for run in runs[TWO])
    result.figure("pool processes that worked on each job, of 2 (fewest)", busy, "")
    result.figure("this machine: 2 processes at once vs 1 at a time", statistics.mean(machine), "×")
    outcomes = {run.outcome for group in runs.values() for run in group}
    stored = {run.stored for group in runs.values() for run in group}
    same = len(outcomes) == 1 and len(stored) == 1
    for name, group in runs.items():
        result.note(
            f"{name}: share → outcome "
            + ", ".join(f"{run.outcome_s:.2f}" for run in group)
            + " s; job "
            + ", ".join(f"{run.job_s:.2f}" for run in group)
            + " s"
        )
    pages, words, chunks = sorted(outcomes)[0]
    result.note(
        f"outcome: {pages} pages, {words} words, {chunks} chunks; the same counts and the same "
        f"chunks stored in the same order in every run: {'yes' if same else 'NO'}"
    )
    result.note(f"machine 2-process speed-up before and after: {machine[0]:.2f}, {machine[1]:.2f}")
    for baseline in (SPLIT_ONE, WHOLE_ONE):
        one = median(baseline, "outcome_s")
        result.verdict(
            f"≥ {TARGET}× faster on 2 worker processes than on {baseline}",
            same and one / two >= TARGET,
            f"{one / two:.2f}× ({one:.2f} s → {two:.2f} s, share → outcome); "
            f"{busy} of 2 pool processes worked on each job",
        )


def machine_speedup(loops: int = 20_000_000) -> float:
    """How much faster two processes do twice one CPU-bound task than one process does it
    twice in a row: 2.0 on two idle cores; less where the cores are shared."""
    command = [sys.executable, "-c", f"x = 0\nfor i in range({loops}): x += i"]

    def timed(count: int) -> float:
        started = time.perf_counter()
        children = [subprocess.Popen(command) for _ in range(count)]
        for child in children:
            child.wait()
        return time.perf_counter() - started

    one = timed(1)
    return 2 * one / timed(2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.split_pages", description=__doc__)
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engine", choices=("pypdf", "pdfium", "auto"), default=None)
    parser.add_argument("--pages-per-part", type=int, default=None)
    parser.add_argument("--file", type=Path, default=None, help="a PDF to use instead")
    parser.add_argument("--keep", action="store_true", help="keep run directories and logs")
    args = parser.parse_args(argv)
    options = Options(engine=args.engine, keep=args.keep)
    result = measure(
        pages=args.pages,
        rounds=args.rounds,
        engine=options.resolved_engine(),
        options=options,
        per_part=args.pages_per_part,
        pdf=args.file,
    )
    print(render(result))
    return 0 if all(verdict.met for verdict in result.verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
