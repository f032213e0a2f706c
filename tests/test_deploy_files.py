"""docker-compose.yml, the Dockerfile, the Slack app manifest and the README's commands are
written for users and cannot run here; these checks keep them in step with the code they start
and the events the bot listens to."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from docjobs.bot.listeners import BOT_EVENTS
from docjobs.cli import build_parser
from docjobs.settings import Settings

REPO = Path(__file__).resolve().parent.parent


def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_compose_runs_every_part_with_commands_that_exist() -> None:
    services = compose()["services"]
    assert {"redis", "web", "worker", "reporter", "flower"} <= set(services)
    subcommands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    for name in ("web", "worker", "reporter", "bot"):
        command = services[name]["command"]
        assert command[0] == "docjobs" and command[1] in subcommands


def test_compose_redis_keeps_queued_jobs_across_restarts() -> None:
    redis = compose()["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command and "noeviction" in command
    assert redis["volumes"] and redis["healthcheck"]


def test_compose_refuses_to_start_without_secrets() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "DOCJOBS_RESULTS_SECRET"):
        assert f"${{{name}:?" in text


def test_compose_hands_the_env_file_to_every_docjobs_container() -> None:
    # Compose reads .env by itself only for ${...} substitution; DOCJOBS_* settings written
    # there reach a container only through env_file.
    services = compose()["services"]
    for name in ("web", "worker", "reporter", "bot"):
        env_files = services[name].get("env_file") or []
        assert {"path": ".env", "required": False} in env_files, name


def compose_seconds(duration: str) -> float:
    """Compose's duration format ("90s", "12m", "1m30s") in seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us)", duration)
    assert parts and "".join(n + unit for n, unit in parts) == duration, duration
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 0.000001}
    return sum(float(n) * scale[unit] for n, unit in parts)


def test_compose_stop_lets_running_jobs_reach_their_time_limit() -> None:
    # SIGTERM is Celery's warm shutdown: it waits for running jobs without a limit of its own
    # (the 10 s soft shutdown is only for SIGQUIT). Docker's SIGKILL must come after the hard
    # task time limit, or it kills jobs the worker was letting finish.
    grace = compose_seconds(str(compose()["services"]["worker"]["stop_grace_period"]))
    hard_limit = Settings.model_fields["task_time_limit"].default
    assert grace > hard_limit


def test_compose_keeps_flower_off_the_network() -> None:
    # Flower runs without a login: its dashboard is for this machine (or an SSH tunnel).
    flower = compose()["services"]["flower"]
    assert flower["ports"] and all(p.startswith("127.0.0.1:") for p in flower["ports"])
    # Its REST API can shut workers down; with no login it must stay refused.
    assert str(flower["environment"].get("FLOWER_UNAUTHENTICATED_API", "false")).lower() in (
        "false",
        "0",
        "no",
        "off",
    )


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_image_lets_its_user_write_the_data_volume() -> None:
    # A named volume mounted where the image has no directory is created root-owned, 755:
    # the worker, running as the image's USER, could not write its chunk store there.
    data_dir = compose()["x-docjobs"]["environment"]["DOCJOBS_DATA_DIR"]
    assert f"docjobs-data:{data_dir}" in compose()["x-docjobs"]["volumes"]
    instructions = dockerfile_instructions()
    users = [i for i, (op, _) in enumerate(instructions) if op == "USER"]
    assert users, "the image must not run as root"
    user = instructions[users[-1]][1]
    before_user = [args for op, args in instructions[: users[-1]] if op == "RUN"]
    assert any(
        "mkdir" in run and data_dir in run and re.search(rf"chown \S*{user}\S* {data_dir}", run)
        for run in before_user
    ), before_user


def test_readme_names_every_command_and_option() -> None:
    # Operators learn the commands from the README; one it does not name might as well not exist.
    readme = (REPO / "README.md").read_text()
    parser = build_parser()
    subparsers = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    missing = [f"docjobs {name}" for name in subparsers if f"docjobs {name}" not in readme]
    for name, sub in [("", parser), *subparsers.items()]:
        for action in sub._actions:
            flags = [f for f in action.option_strings if f not in ("-h", "--help")]
            if flags and not any(re.search(rf"{re.escape(f)}\b", readme) for f in flags):
                missing.append(f"docjobs {name} {flags[0]}")
    assert missing == []


def test_manifest_subscribes_to_what_the_bot_handles() -> None:
    manifest = yaml.safe_load((REPO / "deploy" / "slack-manifest.yml").read_text())
    settings, features = manifest["settings"], manifest["features"]
    # Exactly what the listeners need, which is also what the tests' sandbox delivers.
    assert settings["event_subscriptions"]["bot_events"] == list(BOT_EVENTS)
    assert settings["interactivity"]["is_enabled"] is True
    assert [c["command"] for c in features["slash_commands"]] == ["/jobs"]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"chat:write", "files:read", "reactions:write", "commands", "users:read"} <= scopes
