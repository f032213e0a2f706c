"""`docjobs run`: every part in one process tree. With no Slack tokens it runs against the
sandbox and shares a sample PDF; with no REDIS_URL it starts an embedded Redis."""

from __future__ import annotations

import base64
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from docjobs.embedded_redis import EmbeddedRedis, free_port
from docjobs.sample import write_sample_pdf
from docjobs.settings import Settings

logger = logging.getLogger(__name__)

SANDBOX_TOKEN = "xoxb-sandbox-token"
SANDBOX_SECRET = "sandbox-signing-secret"
DEMO_CHANNEL = "C0DEMO"
DEMO_USER = "U0ALICE"
FINAL_PREFIXES = (":white_check_mark: Done", ":x: I could not", ":no_entry_sign: Job")
WORKING_PREFIXES = (":hourglass_flowing_sand:", ":gear:", ":repeat:")


class ProcessTree:
    """Children started with the same environment; stopped together, gently first."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        """Start `docjobs ARGS`; its output goes to LOG_DIR/NAME.log, not the terminal."""
        command = [sys.executable, "-m", "docjobs.cli", *args]
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"{name}.log", "ab") as log:
            self.children[name] = subprocess.Popen(
                command, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )

    def check(self) -> None:
        for name, child in self.children.items():
            if child.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with status {child.returncode}; see {self.log_dir / name}.log"
                )

    def stop(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in self.children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


class StopRequested(BaseException):
    """SIGTERM, turned into an exception so it unwinds through the same cleanup as Ctrl-C."""


def _raise_stop_requested(signum: int, _frame: object) -> None:
    raise StopRequested(signum)


def run_local(settings: Settings, *, keep_running: bool, file: Path | None = None) -> int:
    """Start every part, share the sample, follow its thread; stop every child on the way out,
    whether it ends by itself, by Ctrl-C or by SIGTERM (a supervisor, `kill`, `timeout`)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    tree = ProcessTree(env, settings.data_dir.resolve() / "logs")
    redis_server = None
    # Python's default for SIGTERM ends this process at once, leaving every child running.
    previous_sigterm = signal.signal(signal.SIGTERM, _raise_stop_requested)
    try:
        if not settings.redis_url:
            redis_server = EmbeddedRedis(settings.data_dir / "redis")
            redis_server.start()
            env["REDIS_URL"] = redis_server.url
            print(f"embedded Redis on {redis_server.url}")
        return _run_parts(settings, env, tree, keep_running=keep_running, file=file)
    except (KeyboardInterrupt, StopRequested):
        return 0
    finally:
        # A second Ctrl-C or SIGTERM while the children stop would cut that short and orphan
        # them; stopping is bounded (ProcessTree.stop kills what does not stop in 15 s).
        previous_sigint = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            tree.stop()
            if redis_server is not None:
                redis_server.stop()
        finally:
            # None: the handler was not set from Python; the default is the closest we can do.
            signal.signal(signal.SIGINT, previous_sigint or signal.SIG_DFL)
            signal.signal(signal.SIGTERM, previous_sigterm or signal.SIG_DFL)


def _run_parts(
    settings: Settings,
    env: dict[str, str],
    tree: ProcessTree,
    *,
    keep_running: bool,
    file: Path | None,
) -> int:
    sandbox = not settings.slack_bot_token
    web_port = free_port() if sandbox else settings.web_port
    env["DOCJOBS_WEB_PORT"] = str(web_port)
    env["DOCJOBS_RESULTS_URL"] = f"http://127.0.0.1:{web_port}/results"
    web_url = f"http://127.0.0.1:{web_port}"
    sandbox_url = ""
    if sandbox:
        sandbox_port = free_port()
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        env.update(
            SLACK_BOT_TOKEN=SANDBOX_TOKEN,
            SLACK_SIGNING_SECRET=SANDBOX_SECRET,
            SLACK_API_URL=f"{sandbox_url}/api/",
        )
        tree.start(
            "sandbox",
            "sandbox",
            "--port",
            str(sandbox_port),
            "--bot-endpoint",
            f"{web_url}/slack/events",
        )
        _wait_http(f"{sandbox_url}/control/healthz", tree)
        print(f"Slack sandbox on {sandbox_url}")
    tree.start("web", "web")
    tree.start("worker", "worker")
    tree.start("reporter", "reporter")
    _wait_http(f"{web_url}/healthz", tree)
    print(f"web service on {web_url} (Slack endpoint {web_url}/slack/events)")
    print(f"logs of every part in {tree.log_dir}")
    status = 0
    if sandbox:
        sample = file or write_sample_pdf(settings.data_dir / "q3-report.pdf")
        status = share_and_follow(sandbox_url, sample, tree)
    if keep_running:
        print("running; Ctrl-C to stop")
        while True:
            tree.check()
            time.sleep(1)
    return status


def share_and_follow(
    sandbox_url: str, path: Path, tree: ProcessTree, timeout_s: float = 180
) -> int:
    """Share `path` as a user would, print the thread as it changes; 0 once it succeeded.
    A share the bot refuses (not a PDF, too large) makes no job: its only answer is a private
    message to the sharer, so that ends the wait too, with 1."""
    with httpx.Client(base_url=sandbox_url, timeout=10) as http:
        private_before = {e["ts"] for e in _private_messages(http)}
        shared = (
            http.post(
                "/control/share",
                json={
                    "channel": DEMO_CHANNEL,
                    "user": DEMO_USER,
                    "filename": path.name,
                    "content_b64": base64.b64encode(path.read_bytes()).decode(),
                },
            )
            .raise_for_status()
            .json()
        )
        print(f"\n#{DEMO_CHANNEL} <{DEMO_USER}> shared {path.name}")
        seen = 0
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            tree.check()
            thread = http.get(
                "/control/thread", params={"channel": DEMO_CHANNEL, "ts": shared["ts"]}
            ).json()
            history = thread.get("history", [])
            for change in history[seen:]:
                if change.get("bot_id"):  # the share itself was printed above
                    print("  " + describe_change(change))
            seen = len(history)
            private = [e for e in _private_messages(http) if e["ts"] not in private_before]
            for message in private:
                print(f"  [only <{DEMO_USER}> sees] {message.get('text', '')}")
                private_before.add(message["ts"])
            replies = thread.get("replies", [])
            if private and not any(m.get("bot_id") for m in replies):
                print("no job was made for this file")
                return 1
            texts = [str(m.get("text", "")) for m in replies]
            final = [t for t in texts if t.startswith(FINAL_PREFIXES)]
            # The reply comes first; the progress message shows the end at its next paced edit.
            if final and not any(t.startswith(WORKING_PREFIXES) for t in texts):
                return 0 if final[0].startswith(FINAL_PREFIXES[0]) else 1
            time.sleep(0.2)
    print("timed out waiting for the job to finish")
    return 1


def _private_messages(http: httpx.Client) -> list[dict[str, Any]]:
    """What the bot told the demo user privately in the demo channel (deleted ones left out)."""
    answer = http.get("/control/ephemerals", params={"user": DEMO_USER, "channel": DEMO_CHANNEL})
    return [e for e in answer.raise_for_status().json() if not e.get("deleted")]


def describe_change(change: dict[str, object]) -> str:
    kind = change.get("kind") or change.get("type")
    if kind in ("reaction_added", "reaction_removed"):
        sign = "+" if kind == "reaction_added" else "-"
        return f"{sign}:{change.get('name')}: on the shared file"
    label = {"posted": "reply", "edited": "edited"}.get(str(kind), str(kind))
    return f"[{label}] {change.get('text', '')}"


def _wait_http(url: str, tree: ProcessTree, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        tree.check()
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up in {timeout_s:.0f}s")
