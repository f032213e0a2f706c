"""What `docjobs web` refuses to start with, and what it says as it starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from docjobs.settings import Settings
from docjobs.webhooks.app import WebCannotStart, create_app

REPO = Path(__file__).resolve().parents[2]
SANDBOX_API = "http://127.0.0.1:8100/api/"


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, redis_url="redis://127.0.0.1:1/0", **values)


def run_web(
    tmp_path: Path, env: dict[str, str], *, timeout_s: float = 30
) -> subprocess.CompletedProcess[str]:
    """`docjobs web` in a clean environment plus `env`; it must exit within `timeout_s`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DOCJOBS_", "SLACK_"))}
    clean.update(
        PYTHONPATH=os.pathsep.join([str(REPO / "src"), clean.get("PYTHONPATH", "")]),
        REDIS_URL="redis://127.0.0.1:1/0",
        DOCJOBS_DATA_DIR=str(tmp_path / "data"),
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "docjobs.cli", "web"],
        capture_output=True,
        text=True,
        env=clean,
        cwd=tmp_path,  # no .env here
        timeout=timeout_s,
    )


@pytest.mark.parametrize(
    "slack",
    [
        {"slack_bot_token": "xoxb-real", "slack_signing_secret": "s"},
        {
            "slack_bot_token": "xoxb-real",
            "slack_signing_secret": "s",
            "slack_api_url": "https://slack.com/api/",
        },
        {"slack_bot_token": "xoxb-real", "slack_app_token": "xapp-1"},
    ],
    ids=["HTTP mode", "Slack's own URL", "Socket Mode"],
)
def test_the_public_development_results_secret_is_refused_with_a_real_slack(
    slack: dict[str, str],
) -> None:
    with pytest.raises(WebCannotStart, match="DOCJOBS_RESULTS_SECRET is the built-in"):
        create_app(settings(**slack))


@pytest.mark.parametrize(
    "values",
    [
        {},  # no Slack at all: results and status only
        {
            "slack_bot_token": "xoxb-sandbox",
            "slack_signing_secret": "s",
            "slack_api_url": SANDBOX_API,
        },
        {"slack_bot_token": "xoxb-real", "slack_signing_secret": "s", "results_secret": "own"},
    ],
    ids=["no Slack", "the sandbox", "own secret"],
)
def test_the_development_secret_is_fine_without_a_real_slack(values: dict[str, str]) -> None:
    create_app(settings(**values))


def test_docjobs_web_exits_with_a_real_slack_and_the_development_secret(tmp_path: Path) -> None:
    result = run_web(tmp_path, {"SLACK_BOT_TOKEN": "xoxb-real", "SLACK_SIGNING_SECRET": "s"})
    assert result.returncode != 0
    assert "docjobs web: DOCJOBS_RESULTS_SECRET is the built-in" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
