"""The whole system for end-to-end tests and benchmarks: the sandbox (Slack) in this process
over real HTTP, and the web service, a prefork Celery worker and the reporter as real child
processes. `bench/system.py` extends `Stack` with what only benchmarks read."""

from __future__ import annotations

import base64
import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx

from docjobs.bot.listeners import BOT_EVENTS
from docjobs.embedded_redis import free_port
from docjobs.sandbox.app import create_app as create_sandbox_app
from docjobs.sandbox.config import SandboxConfig
from docjobs.settings import Settings
from tests.support.env import child_env
from tests.support.servers import serve

BOT_TOKEN = "xoxb-sandbox-token"
SIGNING_SECRET = "sandbox-signing-secret"
OUTCOME_PREFIXES = (":white_check_mark: Done", ":x: I could not", ":no_entry_sign: Job")
WORKING_PREFIXES = (":hourglass_flowing_sand:", ":gear:", ":repeat:")


@dataclass
class Stack:
    sandbox_url: str
    web_url: str
    redis_url: str
    env: dict[str, str]
    data_dir: Path
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))

    @classmethod
    @contextlib.contextmanager
    def running(
        cls,
        redis_url: str,
        data_dir: Path,
        *,
        worker_concurrency: int = 2,
        services: tuple[str, ...] = ("web", "worker", "reporter"),
        retry_delays: tuple[float, ...] | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> Iterator[Self]:
        """The sandbox and the named services on `redis_url`; the web service answers and
        the worker's pool processes are all up when this yields. `retry_delays` are the
        sandbox's event redelivery delays (None: Slack's own)."""
        data_dir.mkdir(parents=True, exist_ok=True)
        web_port = free_port()
        web_url = f"http://127.0.0.1:{web_port}"
        config = SandboxConfig(
            bot_token=BOT_TOKEN,
            signing_secret=SIGNING_SECRET,
            bot_endpoint_url=f"{web_url}/slack/events",
            bot_events=BOT_EVENTS,
        )
        if retry_delays is not None:
            config.retry_delays = retry_delays
        sandbox_port = free_port()
        config.public_url = f"http://127.0.0.1:{sandbox_port}"
        with serve(create_sandbox_app(config), port=sandbox_port) as sandbox_url:
            env = {
                **child_env(),
                "REDIS_URL": redis_url,
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": f"{sandbox_url}/api/",
                "DOCJOBS_WEB_PORT": str(web_port),
                "DOCJOBS_RESULTS_URL": f"{web_url}/results",
                "DOCJOBS_DATA_DIR": str(data_dir),
                "DOCJOBS_WORKER_CONCURRENCY": str(worker_concurrency),
                **(extra_env or {}),
            }
            stack = cls(
                sandbox_url=sandbox_url,
                web_url=web_url,
                redis_url=redis_url,
                env=env,
                data_dir=data_dir,
            )
            try:
                for name in services:
                    stack.start(name, name)
                if "web" in services:
                    stack.wait_ready()
                if "worker" in services:
                    stack.wait_pool(worker_concurrency)
                yield stack
            finally:
                stack.stop_all()

    # --- processes ---------------------------------------------------------------------------

    def start(self, name: str, *args: str, extra_env: dict[str, str] | None = None) -> None:
        env = {**self.env, **(extra_env or {})}
        log = open(self.data_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the child
        self.children[name] = subprocess.Popen(
            [sys.executable, "-m", "docjobs.cli", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()

    def stop(self, name: str, *, kill: bool = False) -> None:
        child = self.children.pop(name, None)
        if child is None or child.poll() is not None:
            return
        if kill:
            child.kill()
        else:
            child.terminate()
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    def restart_dead(self) -> list[str]:
        """Start again every part that has exited, as a supervisor (compose's `restart:
        unless-stopped`) would; returns their names."""
        restarted = []
        for name, child in list(self.children.items()):
            if child.poll() is not None:
                self.start(name, *list(child.args)[3:])  # type: ignore[arg-type]
                restarted.append(name)
        return restarted

    def stop_all(self) -> None:
        for name in list(self.children):
            self.stop(name)
        self.http.close()

    def worker_children(self) -> list[int]:
        """The prefork pool's processes (the ones that run tasks) under the worker."""
        if "worker" not in self.children:
            return []
        main = self.children["worker"].pid
        path = Path(f"/proc/{main}/task/{main}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    def busiest_pool_process(self) -> int:
        """The pool process burning CPU right now: the one running a job."""

        def cpu(pid: int) -> int:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                return -1
            return int(fields[11]) + int(fields[12])

        before = {pid: cpu(pid) for pid in self.worker_children()}
        time.sleep(0.4)
        return max(before, key=lambda pid: cpu(pid) - before[pid])

    def wait_ready(self, timeout_s: float = 60) -> None:
        """Until the web service answers."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(httpx.HTTPError):
                if self.http.get(f"{self.web_url}/healthz").status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError("web service did not come up")

    def wait_pool(self, processes: int, timeout_s: float = 60) -> list[int]:
        """The worker's pool processes, once all `processes` are up and the worker is ready."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_alive()
            pids = self.worker_children()
            if len(pids) >= processes and "ready" in self.log("worker"):
                return pids
            time.sleep(0.1)
        raise RuntimeError(f"worker pool did not start: {self.log('worker')[-2000:]}")

    def check_alive(self) -> None:
        for name, child in self.children.items():
            if child.poll() is not None:
                raise RuntimeError(f"{name} died: {self.log(name)[-3000:]}")

    def log(self, name: str) -> str:
        path = self.data_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- what a user does and sees -----------------------------------------------------------

    def share(
        self,
        content: bytes | Path,
        *,
        filename: str = "q3-report.pdf",
        channel: str | None = None,
        user: str = "U0ALICE",
        **extra: Any,
    ) -> dict[str, Any]:
        """A user shares `content`; a Path is copied by the sandbox from disk (no base64)."""
        return self._share(
            {"filename": filename, **_upload(content)}, channel=channel, user=user, **extra
        )

    def share_files(
        self,
        files: list[dict[str, Any]],
        *,
        channel: str | None = None,
        user: str = "U0ALICE",
        **extra: Any,
    ) -> dict[str, Any]:
        """A user shares several files in one message: each a dict of `filename`, `content`
        (bytes, or a Path) and any other field of the sandbox's file upload."""
        uploads = [
            {**{k: v for k, v in file.items() if k != "content"}, **_upload(file["content"])}
            for file in files
        ]
        return self._share({"files": uploads}, channel=channel, user=user, **extra)

    def _share(
        self, files: dict[str, Any], *, channel: str | None, user: str, **extra: Any
    ) -> dict[str, Any]:
        body = {"channel": channel or new_channel(), "user": user, **files, **extra}
        reply = self.http.post(f"{self.sandbox_url}/control/share", json=body)
        reply.raise_for_status()
        return {**reply.json(), "channel": body["channel"]}

    def thread(self, channel: str, ts: str) -> dict[str, Any]:
        reply = self.http.get(
            f"{self.sandbox_url}/control/thread", params={"channel": channel, "ts": ts}
        )
        reply.raise_for_status()
        return reply.json()

    def wait_for_outcome(self, channel: str, ts: str, *, timeout_s: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            thread = self.thread(channel, ts)
            texts = [m.get("text", "") for m in bot_replies(thread)]
            # The reply comes first; the progress message shows the end at its next paced edit.
            if any(t.startswith(OUTCOME_PREFIXES) for t in texts) and not any(
                t.startswith(WORKING_PREFIXES) for t in texts
            ):
                return thread
            time.sleep(0.2)
        raise AssertionError(f"no outcome reply in {timeout_s}s: {self.thread(channel, ts)}")

    def fail_slack_calls(self, *, share: float = 0.2, seed: int = 7) -> None:
        """Make the sandbox fail `share` of all Web API calls: 429s (Retry-After 1), 500s and
        timeouts in about equal parts, none of them with any effect."""
        for mode, part in (("429", 0.35), ("500", 0.35), ("timeout", 0.3)):
            fault = {
                "method": "*",
                "mode": mode,
                "probability": share * part,
                "retry_after": 1,
                "sleep_s": 3,
                "seed": seed,
            }
            self.http.post(f"{self.sandbox_url}/control/faults", json=fault).raise_for_status()

    def heal_slack_calls(self) -> None:
        self.http.delete(f"{self.sandbox_url}/control/faults").raise_for_status()

    def deliveries(self) -> list[dict[str, Any]]:
        return self.http.get(f"{self.sandbox_url}/control/deliveries").json()

    def ephemerals(self, *, user: str, channel: str) -> list[dict[str, Any]]:
        params = {"user": user, "channel": channel}
        return self.http.get(f"{self.sandbox_url}/control/ephemerals", params=params).json()

    def job(self, job_id: str) -> dict[str, Any]:
        default = Settings.model_fields["results_secret"].default
        secret = self.env.get("DOCJOBS_RESULTS_SECRET", default)
        headers = {"Authorization": f"Bearer {secret}"}
        reply = self.http.get(f"{self.web_url}/jobs/{job_id}", headers=headers)
        reply.raise_for_status()
        return reply.json()  # type: ignore[no-any-return]

    def calls(self, **params: str) -> dict[str, Any]:
        """The sandbox's record of Web API calls (`method=` narrows it)."""
        reply = self.http.get(f"{self.sandbox_url}/control/calls", params=params)
        reply.raise_for_status()
        return reply.json()  # type: ignore[no-any-return]


def _upload(content: bytes | Path) -> dict[str, str]:
    if isinstance(content, Path):
        return {"path": str(content)}
    return {"content_b64": base64.b64encode(content).decode()}


def new_channel() -> str:
    return "C" + uuid.uuid4().hex[:9].upper()


def bot_replies(thread: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in thread.get("replies", []) if m.get("bot_id")]


def running_stack(
    redis_url: str,
    data_dir: Path,
    *,
    worker_concurrency: int = 2,
    extra_env: dict[str, str] | None = None,
) -> contextlib.AbstractContextManager[Stack]:
    """The stack for tests: Slack's event redelivery and the workers' retry backoff are made
    quick so that tests of them do not wait minutes."""
    return Stack.running(
        redis_url,
        data_dir,
        worker_concurrency=worker_concurrency,
        retry_delays=(0.5, 1.0, 2.0),
        extra_env={"DOCJOBS_RETRY_BACKOFF_BASE_S": "0.2", **(extra_env or {})},
    )
