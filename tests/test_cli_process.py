"""`docjobs process FILE` as a person runs it: a real process, no Redis, no Slack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from tests.support.env import child_env
from tests.support.pdfs import write_encrypted_pdf, write_image_pdf, write_pages_pdf

REPO = Path(__file__).resolve().parent.parent


def docjobs(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DOCJOBS_DATA_DIR": str(data_dir),
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
        "REDIS_URL": "redis://127.0.0.1:1/0",  # unreachable: the command must not need Redis
        "SLACK_BOT_TOKEN": "",
    }
    return subprocess.run(
        [sys.executable, "-m", "docjobs.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=data_dir,
        timeout=60,
    )


def test_a_good_pdf_prints_json_and_exits_0(tmp_path: Path) -> None:
    path = write_pages_pdf(tmp_path / "report.pdf", 3)

    result = docjobs("process", str(path), "--json", data_dir=tmp_path)

    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    expected = {
        "status",
        "pages",
        "words",
        "chunks",
        "reason",
        "reason_code",
        "hint",
        "warnings",
        "seconds",
        "file",
    }
    assert expected <= payload.keys()
    assert (payload["status"], payload["pages"], payload["file"]) == ("succeeded", 3, str(path))
    assert payload["chunks"] >= 1 and payload["words"] >= 3 * 60
    # progress lines on stderr, e.g. "extracting  40%  page 2 of 3"
    assert "page 3 of 3" in result.stderr and "100%" in result.stderr
    assert (tmp_path / "docjobs.sqlite3").exists()


def test_human_output_says_what_was_done(tmp_path: Path) -> None:
    path = write_pages_pdf(tmp_path / "report.pdf", 2)
    result = docjobs("process", str(path), data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "report.pdf" in result.stdout
    assert "pages   2" in result.stdout and "chunks" in result.stdout


def test_a_scan_succeeds_with_its_warning(tmp_path: Path) -> None:
    result = docjobs("process", str(write_image_pdf(tmp_path / "scan.pdf")), data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no text layer" in result.stdout


def test_a_password_protected_pdf_exits_1_and_says_password(tmp_path: Path) -> None:
    path = write_encrypted_pdf(tmp_path / "locked.pdf", user_password="pw")

    as_json = docjobs("process", str(path), "--json", data_dir=tmp_path)
    as_text = docjobs("process", str(path), data_dir=tmp_path)

    assert as_json.returncode == as_text.returncode == 1
    payload = json.loads(as_json.stdout)
    assert payload["status"] == "failed" and payload["reason_code"] == "encrypted"
    assert "password" in payload["reason"] and "password" in payload["hint"]
    assert "password" in as_text.stdout and "What to do" in as_text.stdout


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = docjobs("process", str(tmp_path / "nope.pdf"), data_dir=tmp_path)
    assert result.returncode == 2
    assert "no such file" in result.stderr and "nope.pdf" in result.stderr
    assert result.stdout == ""


def test_no_file_at_all_is_a_usage_error(tmp_path: Path) -> None:
    result = docjobs("process", data_dir=tmp_path)
    assert result.returncode == 2
    assert "usage" in result.stderr


def start_worker(redis_url: str, data_dir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    log = data_dir / "worker.log"
    env = child_env(DOCJOBS_DATA_DIR=str(data_dir), REDIS_URL=redis_url)
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "docjobs.cli", "worker", "--concurrency", "1"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=data_dir,
        )
    return worker, log


def stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def test_a_worker_celery_gives_up_on_exits_non_zero(redis_url: str, tmp_path: Path) -> None:
    # A broker Celery cannot use (here its queue key holds a string, so BRPOP fails with
    # WRONGTYPE) ends the worker with "Unrecoverable error". Exiting 0 then would tell
    # systemd's Restart=on-failure that all is well, and leave the machine without a worker.
    client = redis.Redis.from_url(redis_url)
    client.set("celery", "not a queue")
    client.close()
    worker, log = start_worker(redis_url, tmp_path)
    try:
        status = worker.wait(timeout=60)
    finally:
        stop(worker)
    assert "Unrecoverable error" in log.read_text(), log.read_text()
    assert status != 0


def test_a_worker_stopped_by_sigterm_exits_0(redis_url: str, tmp_path: Path) -> None:
    worker, log = start_worker(redis_url, tmp_path)
    try:
        deadline = time.monotonic() + 60
        while " ready." not in log.read_text() and time.monotonic() < deadline:
            assert worker.poll() is None, log.read_text()
            time.sleep(0.1)
        worker.send_signal(signal.SIGTERM)
        status = worker.wait(timeout=30)
    finally:
        stop(worker)
    assert status == 0, log.read_text()
