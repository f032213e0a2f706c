"""`docjobs run` (what `make run` starts) as a person runs it on a fresh machine: no Redis
configured, no Slack tokens. It must bring up its own Redis and the sandbox and show the thread."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SLACK_NAMES = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "REDIS_URL")


def fresh_machine_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SLACK_NAMES}
    env["DOCJOBS_DATA_DIR"] = str(tmp_path / "data")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    return env


def test_run_shares_the_sample_and_prints_its_thread_to_the_end(tmp_path: Path) -> None:
    env = fresh_machine_env(tmp_path)

    result = subprocess.run(
        [sys.executable, "-m", "docjobs.cli", "run"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=240,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    done = "[reply] :white_check_mark: Done"
    reply = [i for i, line in enumerate(lines) if line.startswith(done)]
    assert len(reply) == 1, result.stdout
    assert lines[reply[0]].endswith(").") and " pages, " in lines[reply[0]], result.stdout
    # The thread is printed to its end: the progress message shows "done" too.
    final_edit = [
        line for line in lines[reply[0] :] if line.startswith("[edited] :white_check_mark:")
    ]
    assert final_edit and "— done — job" in final_edit[-1], result.stdout
    assert "+:white_check_mark: on the shared file" in lines, result.stdout


def process_table() -> dict[int, tuple[int, str]]:
    """Every live process: pid -> (parent pid, start time), from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended while we looked
            continue
        if fields[0] != "Z":
            table[int(entry.name)] = (int(fields[1]), fields[19])
    return table


def descendants(pid: int) -> dict[int, str]:
    """pid -> start time of every process below `pid` (the start time tells a reused pid)."""
    table = process_table()
    found: dict[int, str] = {}
    parents = [pid]
    while parents:
        parent = parents.pop()
        for child, (ppid, started) in table.items():
            if ppid == parent and child not in found:
                found[child] = started
                parents.append(child)
    return found


def still_running(processes: dict[int, str]) -> list[int]:
    table = process_table()
    return [pid for pid, started in processes.items() if table.get(pid, (0, ""))[1] == started]


def test_sigterm_stops_every_part_it_started(tmp_path: Path) -> None:
    # A supervisor, `kill` or `timeout` stops a program with SIGTERM, not Ctrl-C: the embedded
    # Redis, the sandbox, the web service, the worker (and its pool) and the reporter must go
    # with it, not run on as orphans.
    env = {**fresh_machine_env(tmp_path), "PYTHONUNBUFFERED": "1"}
    started: dict[int, str] = {}
    with subprocess.Popen(
        [sys.executable, "-m", "docjobs.cli", "run", "--keep-running"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    ) as run:
        try:
            assert run.stdout is not None
            output = []
            for line in run.stdout:
                output.append(line)
                if line.startswith("running;"):
                    break
            assert run.poll() is None, "".join(output)
            started = descendants(run.pid)
            # redis-server, sandbox, web, worker (with its pool processes), reporter
            assert len(started) >= 5, started

            run.send_signal(signal.SIGTERM)

            status = run.wait(timeout=40)
            deadline = time.monotonic() + 10
            while still_running(started) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert still_running(started) == []
            assert status == 0  # a requested stop, as with Ctrl-C
        finally:
            if run.poll() is None:
                run.kill()
            for pid in still_running(started):
                os.kill(pid, signal.SIGKILL)


def test_a_file_the_bot_refuses_ends_the_run_with_its_private_reply(tmp_path: Path) -> None:
    # The bot answers a non-PDF at once, privately, and makes no job: there is no thread to
    # wait for, so the run says what the sharer was told and exits 1 instead of timing out.
    notes = tmp_path / "notes.txt"
    notes.write_text("meeting notes, not a PDF\n" * 20)

    with subprocess.Popen(
        [sys.executable, "-m", "docjobs.cli", "run", "--file", str(notes)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=fresh_machine_env(tmp_path),
        cwd=tmp_path,
    ) as run:
        try:
            stdout, stderr = run.communicate(timeout=60)  # it used to wait 180 s
        except subprocess.TimeoutExpired:
            run.terminate()  # SIGTERM: its children stop with it
            stdout, stderr = run.communicate()
            raise AssertionError(f"still waiting after 60 s:\n{stdout}") from None

    assert run.returncode == 1, stdout + stderr
    private = [line for line in stdout.splitlines() if "[only <U0ALICE> sees]" in line]
    assert private and "notes.txt" in private[0], stdout
    assert "timed out" not in stdout
