"""Peak memory of a worker process on a generated 3,000-page PDF, against the same worker idle.

Measured on the real worker (one prefork pool process, so the job's process is known): the
pool process's VmRSS from /proc when idle, then its VmHWM (peak resident set since it started)
and VmRSS sampled every 50 ms while the job runs, read before the pool could recycle it.
"""

from __future__ import annotations

import time
from typing import Any

from bench import pdfs
from bench.options import Options
from bench.procfs import memory_kib
from bench.report import Result
from bench.system import new_channel, run_directory, running_system
from docjobs.bot.reporter import PROGRESS_KIND

TITLE = "peak memory of a worker on a many-page PDF"
SAMPLE_S = 0.05
TARGET_MB = 150


def run(options: Options) -> Result:
    pages = 3000
    engine = options.resolved_engine()
    result = Result("memory", TITLE, options.command("memory"))
    result.size = {"pages": pages, "engine": engine, "pool_processes": 1}
    pdf = pdfs.text_pdf(pages)

    with (
        run_directory("memory", keep=options.keep) as data_dir,
        running_system(data_dir, worker_concurrency=1, engine=engine) as system,
    ):
        (pid,) = system.wait_pool(1)
        time.sleep(2.0)  # let start-up settle (imports, connections) before calling it idle
        idle = memory_kib(pid)
        share = system.share_file(pdf, channel=new_channel())
        peak_rss, peak_hwm, samples, job_id = 0, 0, 0, ""
        peak_step = "?"
        while True:
            mem = memory_kib(pid)
            if not mem:
                result.note("the pool process exited during the job; peak is what was sampled")
                break
            samples += 1
            thread = system.thread_of(share)
            if not job_id:
                job_id = _job_id(thread.bot_replies(PROGRESS_KIND))
            if mem["VmRSS"] > peak_rss and job_id:
                job = system.job(job_id)
                peak_step = (
                    f"{job.get('step')} {job.get('percent')}% ({job.get('detail')})"
                    if job.get("state") == "running"
                    else f"the job {job.get('state')}"
                )
            peak_rss = max(peak_rss, mem["VmRSS"])
            peak_hwm = max(peak_hwm, mem["VmHWM"])
            if thread.outcome is not None:
                break
            time.sleep(SAMPLE_S)
        after = memory_kib(pid)
        main = memory_kib(system.children["worker"].pid)
        job = system.job(thread.job_id) if thread.job_id else {}

    mb = 1024
    idle_mb, peak_mb = idle["VmRSS"] / mb, max(peak_hwm, peak_rss) / mb
    result.figure(
        f"pool process peak resident set ({pages} pages)",
        peak_mb,
        "MB",
        baseline=idle_mb,
        baseline_what="same process idle",
    )
    result.figure("  growth over idle", peak_mb - idle_mb, "MB")
    result.figure("  highest sampled VmRSS", peak_rss / mb, "MB")
    if after:
        result.figure("  VmRSS after the job", after["VmRSS"] / mb, "MB")
    result.figure("worker main process (consumer) VmRSS", main.get("VmRSS", 0) / mb, "MB")
    if job:
        result.figure(
            "job time (worker)", float(job["finished_at"]) - float(job["started_at"]), "s"
        )
        result.note(
            f"job: {job.get('pages')} pages, {job.get('chunks')} chunks, {job.get('state')}"
        )
    result.note(f"{samples} samples; idle VmHWM was {idle['VmHWM'] / mb:.0f} MB")
    result.note(f"the highest sampled VmRSS came while the job showed: {peak_step}")
    result.verdict(
        f"peak ≤ idle + {TARGET_MB} MB",
        peak_mb - idle_mb <= TARGET_MB,
        f"+{peak_mb - idle_mb:.0f} MB ({idle_mb:.0f} → {peak_mb:.0f} MB)",
    )
    return result


def _job_id(progress: list[dict[str, Any]]) -> str:
    for message in progress:
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        if payload.get("job_id"):
            return str(payload["job_id"])
    return ""
