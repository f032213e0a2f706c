"""Settings refuse values that would only fail later, naming the variable an operator set."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from docjobs.settings import Settings, get_settings
from tests.support.env import child_env


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("DOCJOBS_", "SLACK_")) or name == "REDIS_URL":
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_defaults_are_valid() -> None:
    settings = Settings(_env_file=None)
    assert settings.extract_engine == "auto" and settings.embedder == "hash"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DOCJOBS_EXTRACT_ENGINE", "fast"),
        ("DOCJOBS_EMBEDDER", "openia"),
        ("DOCJOBS_EMBED_DIM", "0"),
        ("DOCJOBS_EMBED_BATCH", "0"),
        ("DOCJOBS_CHUNK_CHARS", "0"),
        ("DOCJOBS_CHUNK_OVERLAP", "-1"),
        ("DOCJOBS_WORKER_CONCURRENCY", "0"),
        ("DOCJOBS_CHAT_UPDATE_PER_MINUTE", "0"),
        ("DOCJOBS_LEASE_TTL_S", "0"),
        ("DOCJOBS_LEASE_TTL_S", "0.0001"),
        ("DOCJOBS_TASK_SOFT_TIME_LIMIT", "0"),
        ("DOCJOBS_TASK_TIME_LIMIT", "-5"),
        ("DOCJOBS_MAX_FILE_BYTES", "0"),
        ("DOCJOBS_MAX_PAGES", "0"),
        ("DOCJOBS_MAX_TEXT_CHARS", "0"),
        ("DOCJOBS_MAX_RETRIES", "-1"),
        ("DOCJOBS_RETRY_BACKOFF_BASE_S", "0"),
        ("DOCJOBS_SPLIT_PAGES_PER_PART", "0"),
        ("DOCJOBS_SPLIT_MIN_PAGES", "-1"),
        ("DOCJOBS_WEB_PORT", "0"),
        ("DOCJOBS_WEB_PORT", "70000"),
        ("DOCJOBS_RESULTS_URL", "127.0.0.1:8000/results"),
        ("DOCJOBS_RESULTS_SECRET", ""),
        ("DOCJOBS_RESULTS_MAX_AGE_S", "0"),
        ("DOCJOBS_EMBED_URL", "api.openai.com/v1/embeddings"),
        ("DOCJOBS_REQUEUE_AFTER_S", "0"),
        ("DOCJOBS_ORPHAN_AFTER_S", "0"),
        ("DOCJOBS_SWEEP_INTERVAL_S", "0"),
        ("DOCJOBS_REPORTER_CLAIM_AFTER_S", "0"),
        ("DOCJOBS_SLACK_TIMEOUT_S", "0"),
        ("DOCJOBS_PROGRESS_EDIT_INTERVAL_S", "-1"),
        ("DOCJOBS_CANCEL_CHECK_INTERVAL_S", "-1"),
        ("DOCJOBS_WORKER_MEMORY_LIMIT_MB", "-1"),
        ("DOCJOBS_VISIBILITY_TIMEOUT", "0"),
        ("SLACK_API_URL", "slack.com/api"),
    ],
)
def test_a_value_that_cannot_work_is_refused_by_its_variables_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    assert [error["loc"] for error in caught.value.errors()] == [(variable,)]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"chunk_chars": 200, "chunk_overlap": 200}, "DOCJOBS_CHUNK_OVERLAP (200) must be less"),
        ({"chunk_chars": 100, "chunk_overlap": 150}, "DOCJOBS_CHUNK_CHARS (100)"),
        (
            {"task_soft_time_limit": 660, "task_time_limit": 660},
            "DOCJOBS_TASK_SOFT_TIME_LIMIT (660) must be less than DOCJOBS_TASK_TIME_LIMIT (660)",
        ),
        (
            {"task_soft_time_limit": 700, "task_time_limit": 660},
            "DOCJOBS_TASK_SOFT_TIME_LIMIT (700)",
        ),
        ({"visibility_timeout": 600}, "DOCJOBS_VISIBILITY_TIMEOUT (600) must exceed"),
        ({"retry_backoff_max": 4000}, "DOCJOBS_RETRY_BACKOFF_MAX (4000)"),
        ({"embedder": "openai"}, "DOCJOBS_EMBEDDER=openai needs DOCJOBS_EMBED_API_KEY"),
        ({"embedder": "openai", "embed_api_key": ""}, "needs DOCJOBS_EMBED_API_KEY"),
    ],
)
def test_settings_that_cannot_work_together_are_refused(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings(_env_file=None, **values)


@pytest.mark.parametrize(
    "values",
    [
        {"split_min_pages": 0, "split_min_pages_pdfium": 0},  # splitting off
        {"max_retries": 0},
        {"worker_memory_limit_mb": 0},  # no cap
        {"min_chars_per_page": 0},
        {"chunk_overlap": 0},
        {"lease_ttl_s": 1.0},
        {"embedder": "openai", "embed_api_key": "sk-test"},
        {"task_soft_time_limit": 2, "task_time_limit": 4},
        {"slack_api_url": "http://127.0.0.1:8100/api/"},
    ],
)
def test_the_edges_that_make_sense_are_accepted(values: dict[str, Any]) -> None:
    Settings(_env_file=None, **values)


def test_a_refusal_does_not_quote_the_secrets_beside_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret")
    monkeypatch.setenv("DOCJOBS_RESULTS_SECRET", "results-very-secret")
    monkeypatch.setenv("DOCJOBS_CHUNK_OVERLAP", "5000")
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    assert "DOCJOBS_CHUNK_OVERLAP" in str(caught.value)
    assert "very-secret" not in str(caught.value)


def test_get_settings_stops_the_command_with_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCJOBS_EXTRACT_ENGINE", "fast")
    with pytest.raises(SystemExit) as caught:
        get_settings()
    assert "DOCJOBS_EXTRACT_ENGINE" in str(caught.value.code)
    assert "'auto', 'pypdf' or 'pdfium'" in str(caught.value.code)


@pytest.mark.parametrize(
    ("token", "api_url", "local"),
    [
        (None, None, True),
        (None, "https://slack.com/api/", True),
        ("xoxb-1", None, False),
        ("xoxb-1", "https://slack.com/api/", False),
        ("xoxb-1", "http://127.0.0.1:8100/api/", True),
        ("xoxb-1", "http://localhost:8100/api/", True),
        ("xoxb-1", "http://[::1]:8100/api/", True),
        ("xoxb-1", "http://sandbox.example.com/api/", False),
    ],
)
def test_slack_is_local_only_without_a_token_or_with_a_sandbox_on_this_machine(
    token: str | None, api_url: str | None, local: bool
) -> None:
    settings = Settings(_env_file=None, slack_bot_token=token, slack_api_url=api_url)
    assert settings.slack_is_local is local


@pytest.mark.parametrize("command", ["worker", "web"])
def test_a_command_started_with_a_bad_value_exits_at_once_naming_it(
    tmp_path: Path, command: str
) -> None:
    env = child_env(
        REDIS_URL="redis://127.0.0.1:1/0",  # never reached: the command stops before
        DOCJOBS_DATA_DIR=str(tmp_path / "data"),
        DOCJOBS_EXTRACT_ENGINE="fast",
    )
    result = subprocess.run(
        [sys.executable, "-m", "docjobs.cli", command],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # no .env here
        timeout=60,
    )
    assert result.returncode != 0
    assert "DOCJOBS_EXTRACT_ENGINE" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
