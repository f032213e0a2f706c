"""The whole docjobs system for a benchmark: `tests/support/stack.py`'s stack (the sandbox,
rate limits on, in this process over real HTTP; web, a prefork worker and the reporter as child
processes) on an embedded Redis, with Slack's own event redelivery delays and the workers' own
retry backoff, plus what only benchmarks read: shares timed from a file, every outcome of a
batch, the CPU each part used.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.procfs import child_pids, cpu_seconds
from bench.threads import Share, Thread
from docjobs.embedded_redis import EmbeddedRedis
from tests.support.stack import Stack, new_channel

__all__ = ["System", "new_channel", "run_directory", "running_system"]


class System(Stack):
    def cpu_seconds_by_part(self) -> dict[str, float]:
        """CPU time each part of the system has used so far: on one machine they all share
        its cores, so what the others use is taken from the workers."""
        parts = {name: cpu_seconds(child.pid) for name, child in self.children.items()}
        parts["worker pool processes"] = sum(cpu_seconds(pid) for pid in self.worker_children())
        ours = {child.pid for child in self.children.values()}
        parts["redis"] = sum(cpu_seconds(p) for p in child_pids(os.getpid()) if p not in ours)
        own = os.times()
        parts["sandbox (Slack) and this driver"] = own.user + own.system
        return parts

    # --- what people do and see --------------------------------------------------------------

    def share_file(self, path: Path, *, channel: str, filename: str | None = None) -> Share:
        """Share `path` as U0BENCH does. The sandbox copies the file from disk: in Slack the
        upload is over before the share, and base64 through JSON cost the driver (on the
        same cores as the system) ~10 ms a share."""
        filename = filename or path.name
        shared_at = time.time()
        data = self.share(path, filename=filename, channel=channel, user="U0BENCH")
        return Share(channel, str(data["ts"]), str(data.get("file_id", "")), filename, shared_at)

    def thread_of(self, share: Share) -> Thread:
        return Thread(share, self.thread(share.channel, share.ts))

    def wait_for_outcomes(
        self, shares: list[Share], *, timeout_s: float, poll_s: float = 0.5
    ) -> dict[str, Thread]:
        """Every share's thread once its outcome reply is there (keyed by share ts).

        A thread is fetched only when its channel has had a successful post more than two per
        job already seen done there, so polling costs little while workers run beside it."""
        done: dict[str, Thread] = {}
        deadline = time.monotonic() + timeout_s
        while len(done) < len(shares):
            if time.monotonic() > deadline:
                missing = [s.filename for s in shares if s.ts not in done]
                raise RuntimeError(f"no outcome within {timeout_s:.0f}s for {missing[:5]}…")
            self.check_alive()
            posts = self.posts_by_channel()
            for share in shares:
                if share.ts in done:
                    continue
                finished_here = sum(1 for t in done.values() if t.share.channel == share.channel)
                if posts.get(share.channel, 0) < 2 * (finished_here + 1):
                    continue
                thread = self.thread_of(share)
                if thread.outcome is not None:
                    done[share.ts] = thread
            time.sleep(poll_s)
        return done

    def wait_settled(self, threads: dict[str, Thread], *, timeout_s: float) -> dict[str, Thread]:
        """The threads again once each has ended right (reactions follow the replies when
        Slack's budget for them runs short), or as they are when `timeout_s` runs out."""
        final = dict(threads)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            unsettled = [key for key, thread in final.items() if thread.problems()]
            if not unsettled:
                break
            for key in unsettled:
                final[key] = self.thread_of(final[key].share)
            time.sleep(0.5)
        return final

    def posts_by_channel(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for call in self.calls(method="chat.postMessage")["calls"]:
            if call["method"] == "chat.postMessage" and call.get("ok"):
                counts[call.get("channel", "")] = counts.get(call.get("channel", ""), 0) + 1
        return counts


@contextlib.contextmanager
def run_directory(name: str, *, keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"docjobs-bench-{name}-"))
    try:
        yield path
    finally:
        if keep:
            print(f"   run data kept in {path}", flush=True)
        else:
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def running_system(
    data_dir: Path,
    *,
    worker_concurrency: int = 2,
    engine: str | None = None,
    services: tuple[str, ...] = ("web", "worker", "reporter"),
    extra_env: dict[str, str] | None = None,
) -> Iterator[System]:
    """An embedded Redis, the sandbox and the named services; the worker's pool is up when
    this yields."""
    env = {**({"DOCJOBS_EXTRACT_ENGINE": engine} if engine else {}), **(extra_env or {})}
    with (
        EmbeddedRedis(data_dir / "redis") as redis_server,
        System.running(
            redis_server.url,
            data_dir,
            worker_concurrency=worker_concurrency,
            services=services,
            extra_env=env,
        ) as system,
    ):
        yield system
