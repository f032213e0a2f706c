"""What `docjobs web` refuses to start with, and what it says as it starts."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from docjobs.embedded_redis import EmbeddedRedis, free_port
from docjobs.settings import Settings
from docjobs.webhooks.app import (
    WebCannotStart,
    create_app,
    describe_slack_endpoint,
    index_active_states_until_done,
)
from tests.support.env import child_env
from tests.support.servers import wait_until

SANDBOX_API = "http://127.0.0.1:8100/api/"


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, redis_url="redis://127.0.0.1:1/0", **values)


def web_env(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    """This environment without docjobs' and Slack's settings, plus `env`."""
    return {
        **child_env(),
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "DOCJOBS_DATA_DIR": str(tmp_path / "data"),
        **env,
    }


def run_web(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`docjobs web` run to its end, which must come within 30 s."""
    return subprocess.run(
        [sys.executable, "-m", "docjobs.cli", "web"],
        capture_output=True,
        text=True,
        env=web_env(tmp_path, env),
        cwd=tmp_path,  # no .env here
        timeout=30,
    )


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


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


@pytest.mark.parametrize(
    ("slack", "missing"),
    [
        ({"slack_bot_token": "xoxb-1"}, "SLACK_SIGNING_SECRET is not"),
        ({"slack_signing_secret": "s"}, "SLACK_BOT_TOKEN is not"),
    ],
)
def test_half_of_the_slack_endpoints_settings_is_refused(
    slack: dict[str, str], missing: str
) -> None:
    with pytest.raises(WebCannotStart, match=missing):
        create_app(settings(slack_api_url=SANDBOX_API, **slack))


def test_socket_mode_needs_no_signing_secret_and_mounts_no_slack_endpoint() -> None:
    app = create_app(
        settings(slack_bot_token="xoxb-1", slack_app_token="xapp-1", results_secret="own")
    )
    assert "/slack/events" not in {getattr(route, "path", "") for route in app.routes}
    said = describe_slack_endpoint(settings(slack_bot_token="xoxb-1", slack_app_token="xapp-1"))
    assert said.startswith("off (Socket Mode")


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_API_URL": SANDBOX_API}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN"),
    ],
)
def test_docjobs_web_exits_with_half_of_the_slack_endpoints_settings(
    tmp_path: Path, env: dict[str, str], missing: str
) -> None:
    result = run_web(tmp_path, env)
    assert result.returncode != 0
    assert f"{missing} is not" in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("env", "said"),
    [
        (
            {
                "SLACK_BOT_TOKEN": "xoxb-1",
                "SLACK_SIGNING_SECRET": "s",
                "SLACK_API_URL": SANDBOX_API,
            },
            "Slack endpoint /slack/events on (HTTP mode",
        ),
        ({}, "Slack endpoint /slack/events off (no Slack tokens"),
    ],
    ids=["HTTP mode", "no Slack"],
)
def test_docjobs_web_says_where_it_listens_and_whether_slack_is_served(
    tmp_path: Path, redis_url: str, env: dict[str, str], said: str
) -> None:
    port = free_port()
    log = tmp_path / "web.log"
    with open(log, "wb") as out:
        web = subprocess.Popen(
            [sys.executable, "-m", "docjobs.cli", "web"],
            env=web_env(tmp_path, {"REDIS_URL": redis_url, "DOCJOBS_WEB_PORT": str(port), **env}),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), timeout_s=30)
        text = log.read_text()
        assert f"web service on http://127.0.0.1:{port}; {said}" in text, text
    finally:
        web.terminate()
        web.wait(timeout=20)


def test_docjobs_web_started_before_redis_serves_and_indexes_once_redis_is_up(
    tmp_path: Path,
) -> None:
    """The worker and the reporter wait for Redis; so must the web service, rather than
    have uvicorn give up on its start-up after the client's retries (~35 s)."""
    redis_port, web_port = free_port(), free_port()
    web_url = f"http://127.0.0.1:{web_port}"
    env = {"REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "DOCJOBS_WEB_PORT": str(web_port)}
    log = tmp_path / "web.log"
    with open(log, "wb") as out:
        web = subprocess.Popen(
            [sys.executable, "-m", "docjobs.cli", "web"],
            env=web_env(tmp_path, env),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
    server = EmbeddedRedis(tmp_path / "redis", port=redis_port)
    try:
        # Serving while Redis is down: a page that needs no Redis answers at once.
        wait_until(lambda: answers(f"{web_url}/openapi.json"), timeout_s=15)
        server.start()
        wait_until(lambda: "active jobs indexed by state" in log.read_text(), timeout_s=30)
        assert web.poll() is None, log.read_text()
        assert httpx.get(f"{web_url}/healthz", timeout=10).json() == {"ok": True}
        assert "docjobs_active_jobs" in httpx.get(f"{web_url}/metrics", timeout=10).text
    finally:
        web.terminate()
        web.wait(timeout=20)
        server.stop()


class FlakyStore:
    """A store whose index step fails `failures` times, as a Redis not up yet does."""

    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0

    def index_active_states(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379.")


def test_the_index_step_is_tried_again_until_redis_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FlakyStore(failures=2)
    with caplog.at_level(logging.INFO, logger="docjobs.webhooks.app"):
        index_active_states_until_done(store, threading.Event(), retry_s=0.01)  # type: ignore[arg-type]
    assert store.calls == 3
    assert caplog.text.count("Redis does not answer yet") == 2
    assert "active jobs indexed by state" in caplog.text


def test_the_index_step_gives_up_when_the_service_stops() -> None:
    store, stop = FlakyStore(failures=1_000_000), threading.Event()
    indexer = threading.Thread(
        target=index_active_states_until_done, args=(store, stop), kwargs={"retry_s": 0.01}
    )
    indexer.start()
    wait_until(lambda: store.calls >= 2)
    stop.set()
    indexer.join(timeout=5)
    assert not indexer.is_alive()
