"""A worker process builds its context as it starts (before its first job)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from docjobs.services import run_worker
from docjobs.settings import Settings
from docjobs.tasks import context
from docjobs.tasks.context import WorkerCannotStart, WorkerContext, check_worker_can_start
from tests.support.env import child_env


def test_a_failing_embedder_does_not_stop_a_worker_process_starting(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Raising here would make Celery start the process again and again; the job that meets the
    # failure fails with a reason instead.
    def fail(_: Settings) -> None:
        raise ValueError("unknown embedder 'nonsense'")

    monkeypatch.setattr(context, "build_embedder", fail)
    settings = Settings(_env_file=None, redis_url="redis://127.0.0.1:1/0", data_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="docjobs.tasks.context"):
        WorkerContext(settings).warm()
    assert "not warmed up" in caplog.text and "nonsense" in caplog.text


def test_a_worker_starts_with_a_writable_data_dir_it_may_create(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "new" / "data")
    check_worker_can_start(settings)
    assert settings.store_path.exists()


@pytest.mark.parametrize("blocked", ["parent is a file", "store is a directory"])
def test_a_data_dir_the_worker_cannot_write_stops_it_at_start(tmp_path: Path, blocked: str) -> None:
    (tmp_path / "file").write_text("not a directory")
    data_dir = tmp_path / "file" / "data"
    if blocked == "store is a directory":
        data_dir = tmp_path / "data"
        (data_dir / "docjobs.sqlite3").mkdir(parents=True)
    settings = Settings(_env_file=None, data_dir=data_dir)
    with pytest.raises(WorkerCannotStart, match=r"DOCJOBS_DATA_DIR \(.*data\)"):
        check_worker_can_start(settings)


def test_an_embedder_that_cannot_be_built_stops_the_worker_before_celery_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(_: Settings, **__: object) -> None:
        raise RuntimeError("no model here")

    monkeypatch.setattr(context, "build_embedder", fail)
    settings = Settings(_env_file=None, redis_url="redis://127.0.0.1:1/0", data_dir=tmp_path)
    with pytest.raises(SystemExit) as caught:
        run_worker(settings)  # would block in Celery's worker had the check passed
    assert "DOCJOBS_EMBEDDER=hash" in str(caught.value.code)
    assert "RuntimeError: no model here" in str(caught.value.code)


def test_docjobs_worker_exits_non_zero_when_its_data_dir_is_not_writable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    env = child_env(
        REDIS_URL="redis://127.0.0.1:1/0",  # never reached: the worker stops before
        DOCJOBS_DATA_DIR=str(tmp_path / "file" / "data"),
    )
    result = subprocess.run(
        [sys.executable, "-m", "docjobs.cli", "worker"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode != 0
    assert "docjobs worker: DOCJOBS_DATA_DIR" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
