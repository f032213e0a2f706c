"""The whole docjobs system for a benchmark, started as `tests/support/stack.py` starts it: an
embedded Redis, the sandbox (Slack, rate limits on) served in this process over real HTTP, and
the web service, a prefork Celery worker and the reporter as child processes configured by
environment variables. Own code rather than the test helper: benchmarks start and restart the
worker on its own, read its pool processes' memory, and must not break when the tests change.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bench.procfs import child_pids, cpu_seconds
from bench.threads import Share, Thread
from docjobs.embedded_redis import EmbeddedRedis, free_port
from docjobs.sandbox.app import create_app as create_sandbox_app
from docjobs.sandbox.config import SandboxConfig

logger = logging.getLogger(__name__)

BOT_TOKEN = "xoxb-bench-token"
SIGNING_SECRET = "bench-signing-secret"


@dataclass
class System:
    sandbox_url: str
    web_url: str
    redis_url: str
    env: dict[str, str]
    data_dir: Path
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))

    # --- processes ---------------------------------------------------------------------------

    def start(self, name: str, *args: str, extra_env: dict[str, str] | None = None) -> None:
        env = {**self.env, **(extra_env or {})}
        with open(self.data_dir / f"{name}.log", "ab") as log:
            self.children[name] = subprocess.Popen(
                [sys.executable, "-m", "docjobs.cli", name, *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    def stop(self, name: str) -> None:
        child = self.children.pop(name, None)
        if child is None or child.poll() is not None:
            return
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    def stop_all(self) -> None:
        for name in list(self.children):
            self.stop(name)
        self.http.close()

    def wait_web(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(httpx.HTTPError):
                if self.http.get(f"{self.web_url}/healthz").status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError("web service did not come up")

    def wait_pool(self, processes: int, timeout_s: float = 60) -> list[int]:
        """The worker's prefork pool processes, once all `processes` are up and ready."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_alive()
            pids = self.pool_pids()
            if len(pids) >= processes and "ready" in self.log("worker"):
                return pids
            time.sleep(0.1)
        raise RuntimeError(f"worker pool did not start: {self.log('worker')[-2000:]}")

    def pool_pids(self) -> list[int]:
        worker = self.children.get("worker")
        return [] if worker is None else child_pids(worker.pid)

    def cpu_seconds_by_part(self) -> dict[str, float]:
        """CPU time each part of the system has used so far: on one machine they all share
        its cores, so what the others use is taken from the workers."""
        parts = {name: cpu_seconds(child.pid) for name, child in self.children.items()}
        parts["worker pool processes"] = sum(cpu_seconds(pid) for pid in self.pool_pids())
        ours = {child.pid for child in self.children.values()}
        parts["redis"] = sum(cpu_seconds(p) for p in child_pids(os.getpid()) if p not in ours)
        own = os.times()
        parts["sandbox (Slack) and this driver"] = own.user + own.system
        return parts

    def check_alive(self) -> None:
        for name, child in self.children.items():
            if child.poll() is not None:
                raise RuntimeError(f"{name} died: {self.log(name)[-3000:]}")

    def log(self, name: str) -> str:
        path = self.data_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- what people do and see --------------------------------------------------------------

    def share(self, path: Path, *, channel: str, filename: str | None = None) -> Share:
        filename = filename or path.name
        body = {
            "channel": channel,
            "user": "U0BENCH",
            "filename": filename,
            "content_b64": base64.b64encode(path.read_bytes()).decode(),
        }
        shared_at = time.time()
        reply = self.http.post(f"{self.sandbox_url}/control/share", json=body)
        reply.raise_for_status()
        data = reply.json()
        return Share(channel, str(data["ts"]), str(data.get("file_id", "")), filename, shared_at)

    def thread(self, share: Share) -> Thread:
        reply = self.http.get(
            f"{self.sandbox_url}/control/thread", params={"channel": share.channel, "ts": share.ts}
        )
        reply.raise_for_status()
        return Thread(share, reply.json())

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
                thread = self.thread(share)
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
                final[key] = self.thread(final[key].share)
            time.sleep(0.5)
        return final

    def posts_by_channel(self) -> dict[str, int]:
        reply = self.http.get(
            f"{self.sandbox_url}/control/calls", params={"method": "chat.postMessage"}
        )
        reply.raise_for_status()
        counts: dict[str, int] = {}
        for call in reply.json()["calls"]:
            if call["method"] == "chat.postMessage" and call.get("ok"):
                counts[call.get("channel", "")] = counts.get(call.get("channel", ""), 0) + 1
        return counts

    def job(self, job_id: str) -> dict[str, Any]:
        reply = self.http.get(f"{self.web_url}/jobs/{job_id}")
        reply.raise_for_status()
        return reply.json()  # type: ignore[no-any-return]

    def calls(self) -> dict[str, Any]:
        reply = self.http.get(f"{self.sandbox_url}/control/calls")
        reply.raise_for_status()
        return reply.json()  # type: ignore[no-any-return]


def new_channel() -> str:
    return "C" + uuid.uuid4().hex[:9].upper()


@contextlib.contextmanager
def serve(app: Any, *, port: int) -> Iterator[str]:
    """A uvicorn server in a thread of this process."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"server on port {port} did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


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
    """Redis, the sandbox and the named services; the worker's pool is up when this yields."""
    with EmbeddedRedis(data_dir / "redis") as redis_server:
        web_port, sandbox_port = free_port(), free_port()
        web_url = f"http://127.0.0.1:{web_port}"
        config = SandboxConfig(
            bot_token=BOT_TOKEN,
            signing_secret=SIGNING_SECRET,
            bot_endpoint_url=f"{web_url}/slack/events",
            public_url=f"http://127.0.0.1:{sandbox_port}",
        )
        with serve(create_sandbox_app(config), port=sandbox_port) as sandbox_url:
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith(("DOCJOBS_", "SLACK_"))},
                "REDIS_URL": redis_server.url,
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": f"{sandbox_url}/api/",
                "DOCJOBS_WEB_PORT": str(web_port),
                "DOCJOBS_RESULTS_URL": f"{web_url}/results",
                "DOCJOBS_DATA_DIR": str(data_dir),
                "DOCJOBS_WORKER_CONCURRENCY": str(worker_concurrency),
                **({"DOCJOBS_EXTRACT_ENGINE": engine} if engine else {}),
                **(extra_env or {}),
            }
            system = System(
                sandbox_url=sandbox_url,
                web_url=web_url,
                redis_url=redis_server.url,
                env=env,
                data_dir=data_dir,
            )
            try:
                for name in services:
                    system.start(name)
                if "web" in services:
                    system.wait_web()
                if "worker" in services:
                    system.wait_pool(worker_concurrency)
                yield system
            finally:
                system.stop_all()
