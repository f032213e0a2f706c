"""Slack ack latency of the real web app against a bare Bolt app that only acks.

Both run as `docjobs web` runs (uvicorn in a child process, the same `/slack/events` route);
requests are signed exactly as Slack signs them and sent open-loop over HTTP at a fixed rate
(nothing waits for an answer before sending the next, so a slow server cannot slow the sender
and hide its own delay). Latency is from the request leaving to its answer, as Slack, whose
sender is not on this machine, would see it; the lateness of this process's own sender behind
schedule is reported beside it. Rounds alternate which app goes first; each figure is the
median over rounds. The real app has Redis and the sandbox behind it; its file-share listener
creates and queues a job for every event (after the ack, as in production).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from bench.options import Options
from bench.report import Result, percentile
from bench.system import System, run_directory, running_system
from docjobs.embedded_redis import free_port
from tests.support.stack import SIGNING_SECRET

TITLE = "Slack ack latency: real web app vs a bare Bolt app"
RATE_PER_S = 50
WARMUP = 20  # not counted: the first request makes Bolt call auth.test
PREFILL_JOBS = 200
COMMAND_TEXTS = ("", "help", "stats", "list", "status")
TEAM = "T0SANDBOX"


@dataclass
class Sample:
    latency_ms: float  # sent → answered
    send_lag_ms: float  # how late this process sent it
    status: int | None
    label: str


def run(options: Options) -> Result:
    count = 200
    rounds = options.size(3, 7)
    result = Result("ack", TITLE, options.command("ack"))
    result.size = {
        "requests_per_round": count,
        "rounds": rounds,
        "rate_per_s": RATE_PER_S,
        "jobs_in_redis_for_commands": PREFILL_JOBS,
    }
    with (
        run_directory("ack", keep=options.keep) as data_dir,
        running_system(data_dir, services=()) as system,
    ):
        # Each kind gets fresh servers on its own Redis database, so the commands always read
        # the same store: PREFILL_JOBS queued jobs, not whatever the event rounds left.
        for db, kind in enumerate(("event", "command")):
            servers = {
                which: _start_server(which, system, data_dir, db=db) for which in ("bare", "real")
            }
            try:
                for process, url in servers.values():
                    _wait_ready(url, process)
                    if kind == "command":
                        asyncio.run(_send(url, "event", PREFILL_JOBS, rate=RATE_PER_S))
                    asyncio.run(_send(url, kind, WARMUP, rate=10))
                samples: dict[str, list[list[Sample]]] = {"bare": [], "real": []}
                for n in range(rounds):
                    order = ("bare", "real") if n % 2 == 0 else ("real", "bare")
                    for which in order:
                        url = servers[which][1]
                        samples[which].append(asyncio.run(_send(url, kind, count, rate=RATE_PER_S)))
                _report(result, kind, samples)
            finally:
                for process, _ in servers.values():
                    process.terminate()
                    process.wait(timeout=20)
    result.note(
        f"commands ran against {PREFILL_JOBS} queued jobs in Redis (made by as many events "
        "first; no worker runs), which `/jobs stats`, `list` and `status` read"
    )
    return result


def _start_server(
    which: str, system: System, data_dir: Path, *, db: int
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    redis_url = system.redis_url.rsplit("/", 1)[0] + f"/{db}"
    with open(data_dir / f"ack-{which}-{db}.log", "ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.ack_server",
                which,
                str(port),
                redis_url,
                f"{system.sandbox_url}/api/",
                str(data_dir / f"{which}-{db}"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env={k: v for k, v in system.env.items() if not k.startswith(("DOCJOBS_", "SLACK_"))},
        )
    return process, f"http://127.0.0.1:{port}"


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ack server for {url} died")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"ack server {url} did not come up")


# --- requests as Slack sends them ----------------------------------------------------------


def event_body(n: int, run_id: str) -> str:
    """A `message`/`file_share` event for a new PDF in its own channel, in its envelope."""
    channel = f"C{run_id[:6].upper()}{n % 10}"
    ts = f"{int(time.time())}.{n:06d}"
    file_id = f"F{run_id[:6].upper()}{n:05d}"
    url = f"https://files.slack.com/files-pri/{TEAM}-{file_id}"
    event = {
        "type": "message",
        "subtype": "file_share",
        "text": "",
        "files": [
            {
                "id": file_id,
                "name": f"report-{n}.pdf",
                "title": f"report-{n}.pdf",
                "mimetype": "application/pdf",
                "filetype": "pdf",
                "size": 24607,
                "mode": "hosted",
                "url_private": f"{url}/report-{n}.pdf",
                "url_private_download": f"{url}/download/report-{n}.pdf",
            }
        ],
        "upload": True,
        "user": "U0BENCH",
        "display_as_bot": False,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "channel_type": "channel",
    }
    envelope = {
        "token": "bench-verification-token",
        "team_id": TEAM,
        "api_app_id": "A0SANDBOX",
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{run_id[:8].upper()}{n:05d}",
        "event_time": int(time.time()),
        "authorizations": [
            {"enterprise_id": None, "team_id": TEAM, "user_id": "UBOTSANDBOX", "is_bot": True}
        ],
        "is_ext_shared_channel": False,
    }
    return json.dumps(envelope)


def command_body(n: int, run_id: str) -> str:
    return urlencode(
        {
            "token": "bench-verification-token",
            "team_id": TEAM,
            "team_domain": "sandbox",
            "channel_id": f"C{run_id[:6].upper()}{n % 10}",
            "channel_name": "bench",
            "user_id": "U0BENCH",
            "user_name": "bench",
            "command": "/jobs",
            "text": COMMAND_TEXTS[n % len(COMMAND_TEXTS)],
            "api_app_id": "A0SANDBOX",
            "is_enterprise_install": "false",
            "response_url": "http://127.0.0.1:9/response",
            "trigger_id": f"{int(time.time())}.bench.{n}",
        }
    )


async def _send(url: str, kind: str, count: int, *, rate: float) -> list[Sample]:
    signer = SignatureVerifier(SIGNING_SECRET)
    run_id = uuid.uuid4().hex
    if kind == "event":
        bodies = [event_body(n, run_id) for n in range(count)]
        content_type = "application/json"
    else:
        bodies = [command_body(n, run_id) for n in range(count)]
        content_type = "application/x-www-form-urlencoded"
    loop = asyncio.get_running_loop()
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    async with httpx.AsyncClient(timeout=10, limits=limits) as client:
        start = loop.time() + 0.2

        async def one(n: int, body: str) -> Sample:
            due = start + n / rate
            await asyncio.sleep(max(0.0, due - loop.time()))
            sent = loop.time()
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": timestamp,
                "X-Slack-Signature": signer.generate_signature(timestamp=timestamp, body=body),
            }
            try:
                reply = await client.post(f"{url}/slack/events", content=body, headers=headers)
                status: int | None = reply.status_code
            except httpx.HTTPError:
                status = None
            label = kind if kind == "event" else f"/jobs {COMMAND_TEXTS[n % len(COMMAND_TEXTS)]}"
            latency = (loop.time() - sent) * 1000
            return Sample(latency, (sent - due) * 1000, status, label.strip())

        return await asyncio.gather(*(one(n, body) for n, body in enumerate(bodies)))


def _report(result: Result, kind: str, samples: dict[str, list[list[Sample]]]) -> None:
    points = (50, 95, 99, 100)
    stats: dict[str, dict[int, float]] = {}
    for which, rounds in samples.items():
        per_round = [[s.latency_ms for s in got] for got in rounds]
        stats[which] = {
            p: statistics.median(percentile(latencies, p) for latencies in per_round)
            for p in points
        }
        every = [s for got in rounds for s in got]
        failed = sum(1 for s in every if s.status != 200)
        if failed:
            result.note(f"{kind}s to the {which} app: {failed} of {len(every)} not answered 200")
        p99s = ", ".join(f"{percentile(latencies, 99):.0f}" for latencies in per_round)
        lag = percentile([s.send_lag_ms for s in every], 99)
        late = percentile([s.latency_ms + s.send_lag_ms for s in every], 99)
        result.note(
            f"{kind}s to the {which} app: p99 per round {p99s} ms; this process sent p99 "
            f"{lag:.1f} ms behind schedule (p99 counted from the due time: {late:.0f} ms)"
        )
        if kind == "command":
            by_label: dict[str, list[float]] = {}
            for s in every:
                by_label.setdefault(s.label, []).append(s.latency_ms)
            result.note(
                f"{which} app by command (p50/p99 ms, all rounds): "
                + ", ".join(
                    f"`{label}` {percentile(v, 50):.0f}/{percentile(v, 99):.0f}"
                    for label, v in by_label.items()
                )
            )
    for p, label in zip(points, ("p50", "p95", "p99", "max"), strict=True):
        result.figure(
            f"{kind} ack {label}",
            stats["real"][p],
            "ms",
            baseline=stats["bare"][p],
            baseline_what="bare Bolt",
        )
    p99, bare = stats["real"][99], stats["bare"][99]
    result.verdict(
        f"{kind} ack p99 ≤ 50 ms and ≤ 2× the bare app",
        p99 <= 50 and p99 <= 2 * bare,
        f"p99 {p99:.1f} ms vs bare {bare:.1f} ms ({p99 / bare:.2f}×)",
    )
