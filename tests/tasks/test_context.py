"""A worker process builds its context as it starts (before its first job)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from docjobs.settings import Settings
from docjobs.tasks import context
from docjobs.tasks.context import WorkerContext


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
